"""Ezmeral-style login sessions: ``POST /api/v1/login``, ``GET|DELETE /api/v1/session/<id>``.

HPE Ezmeral ML Ops clients log in with ``curl -d @login.json`` (``{"name",
"password"}``, sent as a form: the body is read as JSON whatever its Content-Type;
the request guard still refuses a cross-site browser post) and get ``201`` with
``Location: /api/v1/session/<secret>``; they send that whole value back as the
``X-BDS-SESSION`` header. Knowing the secret is the credential, so the session
routes are public: the path itself proves who asks, and an unknown or expired
secret answers 401 (the same for both, so nothing is learnt by guessing).
Wrong credentials answer 401 and a throttled user 429 (``AuthService.login``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.routing import BaseRoute

from kiln.errors import Unauthenticated
from kiln.server.json_routes import Answer, Op, json_route
from kiln.server.policy import PUBLIC
from kiln.wire.auth import login_request, session_to_json
from kiln.wire.fields import JsonObject

if TYPE_CHECKING:
    from kiln.auth.principal import Principal
    from kiln.auth.service import AuthService

LOGIN_PATH = "/api/v1/login"
SESSION_PREFIX = "/api/v1/session/"
_MAX_SECRET_CHARS = 128
# a login is a name and a password: anyone may post one, so little is read
MAX_LOGIN_BODY = 64 * 1024


def routes(service: AuthService) -> list[BaseRoute]:
    """The login and session routes, acting on ``service``."""

    def login(principal: Principal | None, fields: JsonObject) -> Answer:
        name, password, tenant = login_request(fields)
        session, header_value = service.login(name, password, tenant)
        return Answer(session_to_json(session), 201, {"Location": header_value})

    def show(principal: Principal | None, fields: JsonObject) -> Answer:
        session = service.session_info(_header_value(fields))
        return Answer(session_to_json(session))

    def logout(principal: Principal | None, fields: JsonObject) -> Answer:
        if not service.logout(_header_value(fields)):
            raise Unauthenticated("The session is unknown or has expired; log in again.")
        return Answer(None, 204)

    return [
        json_route(LOGIN_PATH, Op("POST", PUBLIC, login), max_body=MAX_LOGIN_BODY),
        json_route(
            SESSION_PREFIX + "{session_id}",
            Op("GET", PUBLIC, show),
            Op("DELETE", PUBLIC, logout),
            name=SESSION_PREFIX + "{session_id}",
        ),
    ]


def _header_value(fields: JsonObject) -> str:
    secret = fields.get("session_id")
    if not isinstance(secret, str) or not secret or len(secret) > _MAX_SECRET_CHARS:
        raise Unauthenticated("The session is unknown or has expired; log in again.")
    return SESSION_PREFIX + secret


__all__ = ["LOGIN_PATH", "MAX_LOGIN_BODY", "SESSION_PREFIX", "routes"]
