"""Logging set-up: JSON lines on stdout, one per event, for every service."""

from __future__ import annotations

import logging
import sys

from pythonjsonlogger.json import JsonFormatter

from .request_ids import current_request_id

_HANDLER_NAME = "secure_service.json"


class _ServiceFilter(logging.Filter):
    def __init__(self, service: str):
        super().__init__()
        self.service = service

    def filter(self, record: logging.LogRecord) -> bool:
        record.service = self.service
        request_id = current_request_id()
        if request_id is not None and not hasattr(record, "request_id"):
            record.request_id = request_id
        return True


def configure_logging(service: str, level: str = "INFO") -> None:
    """Send every log record of this process to stdout as one JSON object per line."""
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(
        JsonFormatter(
            "{asctime}{levelname}{name}{service}{message}",
            style="{",
            # The same time format as the gunicorn access lines (gunicorn_logging.py).
            datefmt="%Y-%m-%dT%H:%M:%S%z",
            rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
        )
    )
    handler.addFilter(_ServiceFilter(service))
    handler.set_name(_HANDLER_NAME)
    root = logging.getLogger()
    # Replace our own earlier handler, so a second create_app() in one process logs each
    # line once; handlers installed by others (a test runner) stay.
    for existing in [h for h in root.handlers if h.get_name() == _HANDLER_NAME]:
        root.removeHandler(existing)
    root.addHandler(handler)
    root.setLevel(level)
