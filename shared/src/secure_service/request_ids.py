"""Request ids: accept X-Request-ID (or make one), return it, log it, pass it on.

One user action can then be followed across the three services' logs.
"""

from __future__ import annotations

import re
import uuid

from flask import Flask, g, has_request_context, request
from flask.wrappers import Response

HEADER = "X-Request-ID"
# A caller's id is kept only if it is short and plain; anything else is replaced, so a
# client cannot inject text into other services' logs or headers.
_ACCEPTABLE = re.compile(r"[A-Za-z0-9._:-]{1,128}")


def current_request_id() -> str | None:
    """The id of the request being handled, if any."""
    return g.get("request_id") if has_request_context() else None


def init_request_ids(app: Flask) -> None:
    """Give every request of ``app`` an id and echo it in the response."""

    @app.before_request
    def _assign() -> None:
        offered = request.headers.get(HEADER, "")
        g.request_id = offered if _ACCEPTABLE.fullmatch(offered) else uuid.uuid4().hex

    @app.after_request
    def _echo(response: Response) -> Response:
        if "request_id" in g:
            response.headers[HEADER] = g.request_id
        return response
