"""gunicorn access log lines as JSON objects, built with json.dumps.

gunicorn's access_log_format interpolates the raw path and headers into a template; a
client could then forge fields by sending quotes. Serialising a dict escapes everything.
"""

from __future__ import annotations

import json
import time
from datetime import timedelta
from typing import Any

from gunicorn import glogging


class JsonAccessLogger(glogging.Logger):  # type: ignore[misc]
    """A gunicorn logger whose access lines are one JSON object each."""

    def access(self, resp: Any, req: Any, environ: dict[str, Any], request_time: timedelta) -> None:
        if not self.access_log_enabled:
            return
        status = resp.status
        if isinstance(status, str):
            status = status.split(None, 1)[0]
        record = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "logger": "access",
            "service": self.cfg.proc_name,
            "client_addr": environ.get("REMOTE_ADDR"),
            "method": environ.get("REQUEST_METHOD"),
            "path": environ.get("PATH_INFO"),
            "status": int(status),
            "bytes": getattr(resp, "sent", None),
            "duration_ms": round(request_time.total_seconds() * 1000, 2),
            # The id the app settled on (the caller's, if acceptable, or a new one).
            "request_id": next((v for k, v in resp.headers if k.lower() == "x-request-id"), None),
        }
        self.access_log.info(json.dumps(record))
