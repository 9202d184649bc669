"""Prometheus metrics, served at /metrics (no token: scraped on the internal network).

Under gunicorn the workers share the counters through prometheus-client's multiprocess
mode (PROMETHEUS_MULTIPROC_DIR, set by gunicorn_config before this module is imported).
Import this module only from create_app or later, never at package import.
"""

from __future__ import annotations

import os
import time
from typing import Any

from apiflask import APIFlask
from flask import current_app, g, request
from flask.wrappers import Response
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)

#: The methods a series may be labelled with; any other counts as "other".
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
REQUESTS = Counter("http_requests_total", "HTTP requests answered", ["service", "method", "endpoint", "status"])
LATENCY = Histogram(
    "http_request_duration_seconds", "Time to answer an HTTP request", ["service", "method", "endpoint"]
)
TOKEN_REJECTIONS = Counter(
    "auth_token_rejections_total", "Tokens refused, by the check that failed", ["service", "reason"]
)
REVOKED_PRESENTED = Counter("auth_revoked_token_presented_total", "Revoked tokens presented", ["service"])
# auth_service's own (logins, refresh reuse) are in auth_service/metrics.py.


def service() -> str:
    """The label value naming the current service."""
    return str(current_app.config.get("SERVICE_NAME", current_app.name))


def _registry() -> CollectorRegistry:
    if "PROMETHEUS_MULTIPROC_DIR" in os.environ:
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return registry
    return REGISTRY


def init_metrics(app: APIFlask) -> None:
    """Count and time every request of ``app``, and serve /metrics."""

    name = str(app.config.get("SERVICE_NAME", app.name))
    # Each series' child, found once: labels() takes a lock and builds its key on every
    # call, a measurable share of a short request (docs/performance.md). Bounded: the
    # labels come from closed sets (the app's rules, METHODS, the statuses it answers).
    counters: dict[tuple[str, str, int], Any] = {}
    timers: dict[tuple[str, str], Any] = {}

    @app.before_request
    def _start() -> None:
        g.metrics_started = time.perf_counter()

    @app.after_request
    def _observe(response: Response) -> Response:
        # The rule, not the path: /orders/<order_id> is one series, not one per order; and
        # a known method, not whatever a client sends: neither may create series at will.
        endpoint = request.url_rule.rule if request.url_rule is not None else "unmatched"
        method = request.method if request.method in METHODS else "other"
        key = (method, endpoint, response.status_code)
        counter = counters.get(key)
        if counter is None:
            counter = counters[key] = REQUESTS.labels(name, method, endpoint, str(response.status_code))
        counter.inc()
        started = g.get("metrics_started")
        if started is not None:
            timer = timers.get(key[:2])
            if timer is None:
                timer = timers[key[:2]] = LATENCY.labels(name, method, endpoint)
            timer.observe(time.perf_counter() - started)
        return response

    def metrics() -> Response:
        return Response(generate_latest(_registry()), mimetype=CONTENT_TYPE_LATEST)

    # Plain text, not JSON: kept out of the OpenAPI document.
    app.add_url_rule("/metrics", "metrics", app.doc(hide=True)(metrics), methods=["GET"])
