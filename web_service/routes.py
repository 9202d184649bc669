"""The console's pages. Tokens stay here: a page shows what a token says, never the token."""

from __future__ import annotations

import functools
import json
import time
from base64 import urlsafe_b64decode
from collections.abc import Callable
from typing import Any

from flask import Blueprint, Response, abort, g, make_response, redirect, render_template, request, url_for

from secure_service.errors import UpstreamUnavailable

from .api import ApiRefused
from .browser_sessions import BrowserSession, SessionStoreUnavailable, Tokens
from .page_security import csrf_matches
from .state import web_state

bp = Blueprint("pages", __name__)

#: What each claim of an access token is for, shown beside it by the token inspector.
CLAIM_PURPOSES = {
    "iss": "who issued it: every service accepts only auth_service's URL",
    "sub": "whose it is: the user's id",
    "aud": "which services may accept it",
    "exp": "when it stops working (epoch seconds)",
    "nbf": "when it starts working",
    "iat": "when it was issued; a logout-all refuses every token issued before it",
    "jti": "this token's own id: a logout revokes exactly this one",
    "sid": "the login session it belongs to: ending the session revokes all its tokens",
    "scope": "what it may do (users:read, orders:write, …)",
    "roles": "who the user is to the stack (admin, …)",
    "client_id": "the client the user logged in with",
}


def current_session() -> BrowserSession | None:
    """The browser session named by the cookie, its access token refreshed if near expiry."""
    if "browser_session" not in g:
        state = web_state()
        session = state.sessions.load(request.cookies.get(state.cookie_name))
        if session is not None and session.logged_in:
            session = state.sessions.refresh(session, state.settings.refresh_margin_seconds, state.api.refresh)
        g.browser_session = session
    return g.browser_session


def browser_address() -> str:
    """The browser's address (behind TRUSTED_PROXY_HOPS proxies, theirs as they report it)."""
    return request.remote_addr or "unknown"


def login_required(view: Callable[..., Any]) -> Callable[..., Any]:
    """A page for a logged-in browser: the view gets its session and tokens; others go to log in."""

    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        session = current_session()
        if session is None or session.tokens is None:
            return redirect(url_for("pages.login"))
        return view(session, session.tokens, *args, **kwargs)

    return wrapper


def checked_form(session: BrowserSession | None) -> None:
    """Refuse a form without this session's CSRF token (403, nothing changed)."""
    if session is None or not csrf_matches(session.csrf, request.form.get("csrf_token")):
        abort(403, "This form has expired or did not come from this console; reload the page and try again.")


def with_cookie(response: Response, session: BrowserSession | None) -> Response:
    state = web_state()
    if session is None:
        response.delete_cookie(state.cookie_name, path="/", secure=state.settings.secure_cookie, samesite="Lax")
    else:
        response.set_cookie(
            state.cookie_name,
            session.sid,
            max_age=state.settings.session_lifetime_seconds,
            path="/",
            secure=state.settings.secure_cookie,
            httponly=True,
            # Lax: a link from another site still opens a logged-in page (a GET, which
            # changes nothing); every state change also needs the CSRF token and the Origin.
            samesite="Lax",
        )
    return response


def form_page(template: str, *, error: str | None = None, status: int = 200, **context: Any) -> Response:
    """A page with a form, from a session that has a CSRF token (an anonymous one if need be)."""
    session = current_session()
    fresh = session is None
    if session is None:
        session = web_state().sessions.start_anonymous()
    response = make_response(render_template(template, session=session, error=error, **context), status)
    return with_cookie(response, session) if fresh else response


@bp.get("/")
def home() -> Any:
    session = current_session()
    if session is not None and session.logged_in:
        return redirect(url_for("pages.profile"))
    return render_template("home.html", session=session)


@bp.get("/login")
def login() -> Any:
    return _already_in() or form_page("login.html")


@bp.post("/login")
def login_post() -> Response:
    session = current_session()
    checked_form(session)
    username, password = request.form.get("username", ""), request.form.get("password", "")
    state = web_state()
    try:
        tokens = state.api.log_in(username, password, browser_address())
    except ApiRefused as e:
        return form_page("login.html", error=e.message, status=e.status, username=username)
    return _logged_in(session, username, tokens)


def _logged_in(session: BrowserSession | None, username: str, tokens: Tokens) -> Response:
    """This browser's new session, holding ``tokens``; a user logged in here before is logged out."""
    state = web_state()
    if session is not None and session.tokens is not None:
        state.api.log_out(session.tokens)  # at every service, not just forgotten here
    return with_cookie(redirect(url_for("pages.profile")), state.sessions.log_in(session, username, tokens))


@bp.get("/signup")
def signup() -> Any:
    return _already_in() or form_page("signup.html")


def _already_in() -> Response | None:
    session = current_session()
    return redirect(url_for("pages.profile")) if session is not None and session.logged_in else None


@bp.post("/signup")
def signup_post() -> Response:
    session = current_session()
    checked_form(session)
    username, password = request.form.get("username", ""), request.form.get("password", "")
    email = request.form.get("email") or None
    state = web_state()
    try:
        state.api.sign_up(username, password, email, browser_address())
        tokens = state.api.log_in(username, password, browser_address())
    except ApiRefused as e:
        return form_page("signup.html", error=e.message, status=e.status, username=username, email=email or "")
    return _logged_in(session, username, tokens)


@bp.get("/profile")
@login_required
def profile(session: BrowserSession, tokens: Tokens) -> Any:
    return render_template("profile.html", session=session, user=web_state().api.profile(tokens))


@bp.get("/orders")
@login_required
def orders(session: BrowserSession, tokens: Tokens) -> Any:
    return _orders_page(session, tokens)


@bp.post("/orders")
@login_required
def orders_post(session: BrowserSession, tokens: Tokens) -> Any:
    checked_form(session)
    try:
        quantity = int(request.form.get("quantity", ""))
    except ValueError:
        return _orders_page(session, tokens, error="quantity: a whole number.", status=400)
    try:
        web_state().api.place_order(tokens, request.form.get("item", ""), quantity)
    except ApiRefused as e:
        if e.status == 401:
            raise
        return _orders_page(session, tokens, error=e.message, status=e.status)
    return redirect(url_for("pages.orders"))


def _orders_page(session: BrowserSession, tokens: Tokens, *, error: str | None = None, status: int = 200) -> Any:
    placed = web_state().api.orders_of(tokens)
    return render_template("orders.html", session=session, orders=placed, error=error), status


@bp.get("/sessions")
@login_required
def sessions(session: BrowserSession, tokens: Tokens) -> Any:
    return render_template("sessions.html", session=session, sessions=web_state().api.sessions(tokens))


@bp.post("/sessions/<string(maxlength=64):sid>/end")
@login_required
def end_session(session: BrowserSession, tokens: Tokens, sid: str) -> Any:
    checked_form(session)
    try:
        web_state().api.end_session(tokens, sid)
    except ApiRefused:
        pass  # already ended, or not this user's: the list shows what is live
    return redirect(url_for("pages.sessions"))


@bp.get("/token")
@login_required
def token(session: BrowserSession, tokens: Tokens) -> Any:
    header, claims = _decoded(tokens.access_token)
    return render_template(
        "token.html",
        session=session,
        header=json.dumps(header, indent=2),
        claims=[(name, json.dumps(value), CLAIM_PURPOSES.get(name, "")) for name, value in claims.items()],
        exp=int(claims.get("exp", 0)),
        now=int(time.time()),
    )


@bp.post("/logout")
def logout() -> Response:
    return _end(everywhere=False)


@bp.post("/logout-all")
def logout_all() -> Response:
    return _end(everywhere=True)


def _end(*, everywhere: bool) -> Response:
    session = current_session()
    checked_form(session)
    assert session is not None
    state = web_state()
    if session.tokens is not None:
        if everywhere:
            state.api.log_out_everywhere(session.tokens)
        else:
            state.api.log_out(session.tokens)
    state.sessions.end(session.sid)
    return with_cookie(redirect(url_for("pages.login")), None)


def _decoded(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """A token's header and claims for display: it was verified by the services that took it."""
    header_b64, claims_b64, _signature = token.split(".")
    return tuple(  # type: ignore[return-value]
        json.loads(urlsafe_b64decode(part + "=" * (-len(part) % 4))) for part in (header_b64, claims_b64)
    )


@bp.app_errorhandler(ApiRefused)
def _refused(error: ApiRefused) -> Any:
    if error.status == 401:
        # The session's tokens are no longer accepted (ended elsewhere): log in again.
        session = current_session()
        if session is not None:
            web_state().sessions.end(session.sid)
        return with_cookie(redirect(url_for("pages.login")), None)
    return render_template("error.html", session=None, message=error.message), error.status


@bp.app_errorhandler(UpstreamUnavailable)
@bp.app_errorhandler(SessionStoreUnavailable)
def _unavailable(_error: Exception) -> Any:
    return render_template("error.html", session=None, message="The stack is unavailable; retry shortly."), 503
