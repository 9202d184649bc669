"""Refuse request input that would break a parser or a database before any view sees it.

webargs turns only ``JSONDecodeError`` into a 400; other failures of ``json.loads`` on
hostile bodies (a 5000-digit integer, 10000 nested arrays) would surface as 500s. NUL
characters and unpaired surrogates pass JSON parsing and schema validation but make
PostgreSQL, SQLite or Argon2 fail later, so they are refused here as well. A URL-encoded
form (the OAuth endpoints') must be valid UTF-8.
"""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import parse_qsl

from flask import Flask, request

from .errors import InvalidRequest, NotFound

_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
MAX_INTEGER_DIGITS = 30


def _bounded_int(text: str) -> int:
    if len(text) > MAX_INTEGER_DIGITS:
        raise ValueError("integer too large")
    return int(text)


def _has_unstorable_text(document: Any) -> bool:
    pending = [document]
    while pending:
        item = pending.pop()
        if isinstance(item, str):
            if _UNSTORABLE.search(item):
                return True
        elif isinstance(item, dict):
            pending.extend(item.keys())
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)
    return False


def _check_form() -> None:
    # Werkzeug decodes a form leniently (an invalid byte becomes U+FFFD), so a token or a
    # client id the client never sent would reach the view: refuse it instead. (Strict
    # UTF-8 also refuses surrogates. A NUL is left to the view: the forms here are the
    # OAuth endpoints', which store nothing, and must ignore parameters they do not know.)
    body = request.get_data(cache=True)  # enforces MAX_CONTENT_LENGTH (413); the form parser reuses it
    try:
        parse_qsl(body.decode("ascii"), keep_blank_values=True, encoding="utf-8", errors="strict")
    except (UnicodeDecodeError, ValueError) as e:
        raise InvalidRequest("The form is not valid URL-encoded UTF-8.") from e


def check_request() -> None:
    """``before_request`` hook: a clean 400/404 for input no view could handle."""
    if _UNSTORABLE.search(request.path):
        raise NotFound()
    if request.mimetype == "application/x-www-form-urlencoded":
        _check_form()
        return
    if not request.is_json:
        return
    body = request.get_data(cache=True)  # enforces MAX_CONTENT_LENGTH (413)
    if not body:
        return
    try:
        document = json.loads(body, parse_int=_bounded_int)
    except (ValueError, RecursionError) as e:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise InvalidRequest("The request body is not valid JSON.") from e
    if _has_unstorable_text(document):
        raise InvalidRequest("Text may not contain NUL or unpaired surrogate characters.")


def init_input_guard(app: Flask) -> None:
    """Run :func:`check_request` before every request of ``app``."""
    app.before_request(check_request)
