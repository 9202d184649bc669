"""Security events as one JSON object per line, on the ``audit`` logger.

An event names what happened and who it concerns (``sub``, ``jti``, client address);
it never carries a token, a password or key material.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import has_request_context, request

from .end_user import end_user_address

log = logging.getLogger("audit")

#: Fields that must never reach a log line, whatever a caller passes.
_FORBIDDEN_FIELDS = frozenset({"token", "access_token", "refresh_token", "password", "secret", "client_secret"})


def audit(event: str, **fields: Any) -> None:
    """Log the security event ``event`` with ``fields`` (ids, never secrets)."""
    record: dict[str, Any] = {"event": event}
    if has_request_context():
        record["client_addr"] = end_user_address()
        if record["client_addr"] != request.remote_addr:
            record["via"] = request.remote_addr  # the trusted caller that named the end user
        record["path"] = request.path
    for name, value in fields.items():
        if name not in _FORBIDDEN_FIELDS and value is not None:
            record[name] = value
    log.info(event, extra=record)
