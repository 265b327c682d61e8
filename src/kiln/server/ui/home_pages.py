"""``/``: where ``kiln server``'s address lands; it sends the browser to the experiments.

A redirect keeps the URL's fragment, so an MLflow link
(``http://host/#/experiments/1/runs/<id>``, printed by the mlflow client) reaches
``/experiments#/experiments/1/runs/<id>``, where ``static/js/kiln.js`` maps it to
Kiln's page for that run.
"""

from __future__ import annotations

from starlette.responses import RedirectResponse, Response

from kiln.server.policy import PUBLIC
from kiln.server.ui.core import Page, UiRoute, ui_route


def home(page: Page) -> Response:
    return RedirectResponse("/experiments", status_code=303)


# public: a redirect shows nothing; the experiments page asks who is signed in
ROUTES: list[UiRoute] = [ui_route("/", home, policy=PUBLIC, name="ui-home")]

__all__ = ["ROUTES"]
