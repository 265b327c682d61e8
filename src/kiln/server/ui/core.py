"""The web UI's one route builder: who is signed in, CSRF, the policy table, templates.

Every page is a ``UiRoute``: a path, a *view* and a ``Policy`` per method from the
same table the API uses (``kiln.server.policy``), so a page nobody gave a policy is
never served (``check_policies``) and a viewer is refused a write whatever the page
shows. A view is a plain function ``(Page) -> Response`` run on a thread (store
reads block); it asks the stores (``page.stores``, the REST API's service layer)
and renders a template, and holds no business logic of its own.

Who asks, with auth on: the API's headers (a token, Basic, ``X-BDS-SESSION``) or
else the ``kiln_session`` cookie, which holds the secret of an issue-13 login
session (``HttpOnly; SameSite=Lax``). A page asked for without either redirects to
``/login?next=...``; anything else answers 401. With auth off every request is the
anonymous admin of ``default`` and there is no login page.

CSRF: a random ``kiln_csrf`` cookie (``HttpOnly; SameSite=Lax``) is set on the
first page; every page carries its value (``page.csrf``) in its forms
(``csrf_token``) and in htmx's headers (``X-CSRF-Token``), and every unsafe request
(POST, PUT, PATCH, DELETE) must send it back (compared in constant time) or gets
403. The request guard (``kiln.httpguard``) refuses cross-site Origins before that.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, quote, urlencode

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from kiln.auth.principal import Principal, anonymous
from kiln.auth.roles import Action
from kiln.errors import KilnError, PermissionDenied, Unauthenticated
from kiln.http_status import status_for
from kiln.server.gate import CREDENTIALS_KEY, Credentials, read_credentials
from kiln.server.policy import (
    GATE_KEY,
    PRINCIPAL_KEY,
    Policy,
    PolicyRoute,
    policies_by_method,
)
from kiln.server.responses import decode_json, read_limited
from kiln.server.stores import Stores, StoresFor
from kiln.server.ui.render import Templates, security_headers
from kiln.store.audit_context import set_actor
from kiln.wire.fields import JsonObject

if TYPE_CHECKING:
    from kiln.auth.service import AuthService
    from kiln.store.protocols.audit import AuditLog

SESSION_COOKIE = "kiln_session"
CSRF_COOKIE = "kiln_csrf"
CSRF_HEADER = "x-csrf-token"
CSRF_FIELD = "csrf_token"
LOGIN_PATH = "/login"
SESSION_VALUE_PREFIX = "/api/v1/session/"  # what X-BDS-SESSION carries before the secret
UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})
MAX_FORM_BODY = 256 * 1024
WORKSPACE_FIELD = "workspace"  # ?workspace= on a page: the link's workspace
URL_SAFE = ":/%#?=@[]!$&'()*+,;"  # what a redirect's URL keeps unquoted (as Starlette)


@dataclass(frozen=True, slots=True)
class UiContext:
    """What every page may use besides its tenant's stores.

    ``auth``: None with auth off. ``audit``: the audit log (the registry's History
    tab); None where the backend store keeps none. ``secure_cookies``: add
    ``Secure`` to cookies (the server is reached over https).
    """

    auth: AuthService | None
    audit: AuditLog | None
    stores_for: StoresFor
    templates: Templates
    secure_cookies: bool = False


@dataclass(slots=True)
class Page:
    """One request to a page, as a view sees it."""

    request: Request
    principal: Principal
    stores: Stores
    ctx: UiContext
    csrf: str
    fields: JsonObject  # the query string of a GET, else the form (or JSON) body
    cookies: list[tuple[str, str, int | None]] = field(default_factory=list)

    def can(self, action: Action) -> bool:
        """Whether the signed-in user may do ``action`` here: a template shows a write
        control only when this is true (the policy refuses it anyway)."""
        return self.principal.allows(action)

    @property
    def htmx(self) -> bool:
        """An htmx request: answer the fragment, not the whole page."""
        return self.request.headers.get("hx-request") == "true"

    def field(self, name: str, default: str = "") -> str:
        value = self.fields.get(name, default)
        if isinstance(value, list):
            value = value[-1] if value else default
        return value if isinstance(value, str) else str(value)

    def fields_list(self, name: str) -> list[str]:
        """Every value of a repeated field (``?run=a&run=b``)."""
        value = self.fields.get(name)
        if value is None:
            return []
        if isinstance(value, list):
            return [str(v) for v in value]
        return [str(value)]

    def render(self, template: str, status: int = 200, **values: Any) -> HTMLResponse:
        """``template`` with ``values`` and what every page shows (user, tenant, csrf)."""
        body = self.ctx.templates.render(template, page=self, **values)
        return HTMLResponse(body, status_code=status)

    def redirect(self, url: str) -> Response:
        """After a form post: 303 to ``url``; to htmx, ``HX-Redirect`` (a full load)."""
        if self.htmx:
            # quoted as RedirectResponse quotes Location: a CR/LF or non-ASCII character
            # from a form field never splits the header or fails to encode
            return Response(status_code=204, headers={"HX-Redirect": quote(url, safe=URL_SAFE)})
        return RedirectResponse(url, status_code=303)


View = Callable[[Page], Response]


@dataclass(frozen=True, slots=True)
class UiRoute:
    """A page: ``path``, its ``view``, and the policy of each method (``PUBLIC``:
    served without signing in, as the login page)."""

    path: str
    view: View
    policies: Mapping[str, Policy]
    name: str | None = None


def ui_route(
    path: str,
    view: View,
    *,
    policy: Policy | Mapping[str, Policy],
    methods: Sequence[str] = ("GET",),
    name: str | None = None,
) -> UiRoute:
    """A ``UiRoute`` with one policy for all ``methods``, or one per method."""
    return UiRoute(path, view, policies_by_method(policy, methods), name)


class PageRoute(PolicyRoute):
    """A UI route: a page or a fragment for the browser, not part of the documented API
    (``kiln.server.openapi`` leaves it out; the UI's own tests fuzz it)."""


def build(route: UiRoute, ctx: UiContext) -> PageRoute:
    """The Starlette route of a page (see the module docstring)."""
    policies = route.policies

    async def endpoint(request: Request) -> Response:
        policy = policies.get(request.method) or policies["GET"]
        csrf = request.cookies.get(CSRF_COOKIE) or ""
        fresh_csrf = not _looks_like_csrf(csrf)
        if fresh_csrf:
            csrf = secrets.token_urlsafe(32)
        try:
            fields = await _read_fields(request)
            if request.path_params:
                fields = {**fields, **request.path_params}
            if request.method in UNSAFE:
                _check_csrf(request, fields, csrf, fresh_csrf)
            _credentials(request, policy)
            response = await run_in_threadpool(_run, route.view, request, policy, fields, ctx, csrf)
        except KilnError as exc:
            response = _failure(request, exc, ctx, csrf)
        security_headers(response)
        if fresh_csrf:
            set_cookie(response, CSRF_COOKIE, csrf, _secure(request, ctx))
        return response

    return PageRoute(route.path, endpoint, policies=policies, name=route.name or route.path)


def _run(
    view: View,
    request: Request,
    policy: Policy,
    fields: JsonObject,
    ctx: UiContext,
    csrf: str,
) -> Response:
    scope = request.scope
    gate = scope.get(GATE_KEY)
    principal = gate.admit(scope, policy, fields) if gate is not None else scope.get(PRINCIPAL_KEY)
    if principal is None:  # a public page with nobody signed in
        principal = anonymous("")
    else:
        set_actor(principal.user)
    page = Page(request, principal, ctx.stores_for(scope), ctx, csrf, fields)
    elsewhere = _linked_workspace(page)
    if elsewhere is not None:
        return elsewhere
    try:
        response = view(page)
    except KilnError as exc:  # a signed-in user's error page keeps the nav and account
        return _failure(request, exc, ctx, csrf, page if principal.user else None)
    for name, value, max_age in page.cookies:
        set_cookie(response, name, value, _secure(request, ctx), max_age=max_age)
    return response


def _linked_workspace(page: Page) -> Response | None:
    """A page asked for with ``?workspace=W`` (the links the mlflow client prints name
    their workspace) by a session in another one: a page offering to switch (a POST,
    so a link alone never moves a session); None when there is nothing to ask."""
    wanted = page.fields.get(WORKSPACE_FIELD)
    request = page.request
    if (
        page.ctx.auth is None
        or request.method not in ("GET", "HEAD")
        or not isinstance(wanted, str)
        or not wanted
        or wanted == page.principal.tenant
        or not page.principal.user
    ):
        return None
    query = [(k, v) for k, v in request.query_params.multi_items() if k != WORKSPACE_FIELD]
    target = request.url.path + (f"?{urlencode(query)}" if query else "")
    return page.render("workspace_link.html", workspace=wanted, target=target)


def _secure(request: Request, ctx: UiContext) -> bool:
    """Cookies say ``Secure`` when the page was reached over https (behind a TLS proxy,
    uvicorn reads the scheme from its trusted ``X-Forwarded-Proto``), so a browser
    never sends the session over plain http to the same host."""
    return ctx.secure_cookies or request.url.scheme == "https"


def _credentials(request: Request, policy: Policy) -> None:
    """With auth on: the API's headers, else the session cookie, into the scope."""
    scope = request.scope
    if scope.get(GATE_KEY) is None or policy.public:
        return
    credentials = read_credentials(scope["headers"])
    if credentials.scheme is None and credentials.problem is None:
        secret = request.cookies.get(SESSION_COOKIE, "")
        if secret:
            credentials = Credentials(
                "session", SESSION_VALUE_PREFIX + secret, workspace=credentials.workspace
            )
    if credentials.scheme is None:
        raise Unauthenticated(credentials.problem or "sign in to see this page")
    scope[CREDENTIALS_KEY] = credentials


def _check_csrf(request: Request, fields: JsonObject, csrf: str, fresh: bool) -> None:
    sent = request.headers.get(CSRF_HEADER) or fields.get(CSRF_FIELD)
    # bytes: compare_digest raises TypeError on a str that is not ASCII (a sent 'é')
    if fresh or not isinstance(sent, str) or not hmac.compare_digest(sent.encode(), csrf.encode()):
        raise PermissionDenied(
            "this form's CSRF token is missing or stale: reload the page and try again"
        )


async def _read_fields(request: Request) -> JsonObject:
    if request.method in ("GET", "HEAD"):
        params = request.query_params
        return {k: (vs if len(vs := params.getlist(k)) > 1 else vs[0]) for k in params}
    raw = await read_limited(request, MAX_FORM_BODY)
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind == "application/json":
        return decode_json(raw) if raw.strip() else {}
    fields: dict[str, Any] = {}
    for key, value in parse_qsl(raw.decode("utf-8", "replace"), keep_blank_values=True):
        held = fields.get(key)
        if held is None:
            fields[key] = value
        elif isinstance(held, list):
            held.append(value)
        else:
            fields[key] = [held, value]
    return fields


def _looks_like_csrf(value: str) -> bool:
    return 32 <= len(value) <= 64 and value.replace("-", "").replace("_", "").isalnum()


def _failure(
    request: Request, exc: KilnError, ctx: UiContext, csrf: str, page: Page | None = None
) -> Response:
    """A refusal as a page: a GET with nobody signed in goes to the login page."""
    status = status_for(exc)
    if isinstance(exc, Unauthenticated) and request.method in ("GET", "HEAD"):
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(f"{LOGIN_PATH}?next={quote(target, safe='')}", status_code=303)
    if request.headers.get("hx-request") == "true":
        body = ctx.templates.render("_error_inline.html", message=str(exc), status=status)
    else:
        body = ctx.templates.render(
            "error.html", message=str(exc), status=status, page=page, csrf=csrf
        )
    return HTMLResponse(body, status_code=status)


def set_cookie(
    response: Response, name: str, value: str, secure: bool, *, max_age: int | None = None
) -> None:
    """A cookie the page's script can never read and another site never sends."""
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path="/",
        httponly=True,
        samesite="lax",
        secure=secure,
    )


__all__ = [
    "CSRF_COOKIE",
    "CSRF_FIELD",
    "CSRF_HEADER",
    "LOGIN_PATH",
    "SESSION_COOKIE",
    "Page",
    "PageRoute",
    "UiContext",
    "UiRoute",
    "View",
    "build",
    "set_cookie",
    "ui_route",
]
