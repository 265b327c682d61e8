"""Every page of the web UI, and the navigation bar: the one place a page is added.

A later feature (jobs, deployments, sweeps) adds its page module below: a module
with ``ROUTES`` (``UiRoute``s) and, for a top-level page, a ``NavItem`` in ``NAV``.
``ui_routes`` builds them all, with the static files and the MLflow link landing.
"""

from __future__ import annotations

from dataclasses import dataclass

from starlette.routing import BaseRoute

from kiln.server.policy import PUBLIC, policy_route
from kiln.server.ui.core import UiContext, UiRoute, build
from kiln.server.ui.render import STATIC_PREFIX, static_file


@dataclass(frozen=True, slots=True)
class NavItem:
    """A link in the top bar; ``prefix``: the paths where it shows as current."""

    label: str
    href: str
    prefix: str


NAV: tuple[NavItem, ...] = (
    NavItem("Experiments", "/experiments", "/experiments"),
    NavItem("Models", "/models", "/models"),
)


def page_routes() -> list[UiRoute]:
    """Every page module's routes (imported here so adding one is one line)."""
    from kiln.server.ui import (
        artifact_pages,
        compare_pages,
        data_routes,
        experiment_pages,
        home_pages,
        login_pages,
        model_pages,
        run_pages,
    )

    return [
        *home_pages.ROUTES,
        *login_pages.ROUTES,
        *experiment_pages.ROUTES,
        *run_pages.ROUTES,
        *artifact_pages.ROUTES,
        *compare_pages.ROUTES,
        *model_pages.ROUTES,
        *data_routes.ROUTES,
    ]


def ui_routes(ctx: UiContext) -> list[BaseRoute]:
    """The UI's Starlette routes, each under its policy."""
    ctx.templates.env.globals["nav"] = NAV
    routes: list[BaseRoute] = [
        policy_route(STATIC_PREFIX + "{path:path}", static_file, policy=PUBLIC, name="ui-static"),
    ]
    routes.extend(build(route, ctx) for route in page_routes())
    return routes


__all__ = ["NAV", "NavItem", "page_routes", "ui_routes"]
