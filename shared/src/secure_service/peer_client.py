"""One small HTTP client per peer service: timeouts, and failures mapped to 503."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import requests

from .errors import UpstreamUnavailable
from .request_ids import HEADER as REQUEST_ID_HEADER
from .request_ids import current_request_id

log = logging.getLogger(__name__)


class PeerResponse:
    """Status and JSON body of a peer's answer (the body is {} when it is not JSON)."""

    def __init__(self, status: int, body: Mapping[str, Any]):
        self.status = status
        self.body = body


class PeerClient:
    """Calls to one peer service; a peer that is down or failing becomes a 503, never a 500."""

    def __init__(self, name: str, base_url: str, timeout_seconds: float):
        self.name = name
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout_seconds
        self._session = requests.Session()

    def call(
        self,
        method: str,
        path: str,
        *,
        bearer: str | None = None,
        json: Mapping[str, Any] | None = None,
        form: Mapping[str, str] | None = None,
        basic: tuple[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> PeerResponse:
        """Send one request, authenticated with the token ``bearer`` or the HTTP Basic pair ``basic``.

        Raise UpstreamUnavailable when the peer cannot be reached or fails.
        """
        sent = {"Accept": "application/json", **(headers or {})}
        if bearer is not None:
            sent["Authorization"] = f"Bearer {bearer}"
        request_id = current_request_id()
        if request_id is not None:
            sent[REQUEST_ID_HEADER] = request_id  # one id across every service a call touches
        try:
            response = self._session.request(
                method,
                self.base_url + path,
                json=json,
                data=form,
                auth=basic,
                headers=sent,
                timeout=self.timeout,
            )
        except requests.RequestException as e:
            log.warning("%s unreachable: %s", self.name, type(e).__name__)
            raise UpstreamUnavailable(f"{self.name} is unavailable; retry shortly.") from e
        if response.status_code >= 500:
            log.warning("%s answered %d", self.name, response.status_code)
            raise UpstreamUnavailable(f"{self.name} is unavailable; retry shortly.")
        try:
            body = response.json()
        except ValueError:
            body = {}
        return PeerResponse(response.status_code, body if isinstance(body, dict) else {})
