"""What every page response carries and every state-changing request must show.

- Headers: a Content-Security-Policy with no inline script or style and no framing,
  ``nosniff``, a Referrer-Policy that tells no other site where a person was, and
  ``Cache-Control: no-store`` (pages show a person's data and a CSRF token).
- A state-changing request (anything but GET and HEAD) must name this console's own origin
  in ``Origin`` (browsers send it on every cross-origin and every POST request), and, for
  a form, carry the session's CSRF token: either failing is a 403 that changes nothing.
"""

from __future__ import annotations

import hmac

from flask import Flask, Response, abort, request

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self'",
        "connect-src 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
    ]
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    # Not no-referrer: with it a browser sends "Origin: null" on the console's own form
    # posts (the Fetch standard's rule for that policy), and the Origin check would refuse
    # them all. same-origin sends nothing to any other site.
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
    "Cross-Origin-Opener-Policy": "same-origin",
}
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def init_page_security(app: Flask, public_origin: str) -> None:
    """Refuse cross-site state changes before any view runs; add the headers to every answer."""

    @app.before_request
    def _same_origin_only() -> None:
        if request.method in SAFE_METHODS:
            return
        if request.headers.get("Origin") != public_origin:
            abort(403, "This form can only be sent from the console's own pages.")

    @app.after_request
    def _headers(response: Response) -> Response:
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        return response


def csrf_matches(expected: str, sent: str | None) -> bool:
    """Whether a form's CSRF token is the session's (compared in constant time)."""
    return sent is not None and hmac.compare_digest(expected.encode(), sent.encode())
