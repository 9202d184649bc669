"""auth_service's own Prometheus metrics; the ones every service has are secure_service.metrics'.

Created when create_app imports this package's modules, so after gunicorn_config chose
PROMETHEUS_MULTIPROC_DIR (gunicorn reads its config before it imports the app), and
served with the rest at /metrics.
"""

from __future__ import annotations

from prometheus_client import Counter

REFRESH_REUSE = Counter("auth_refresh_reuse_detected_total", "Rotated refresh tokens presented again", ["service"])
LOGIN_FAILURES = Counter("auth_login_failures_total", "Failed logins", ["service", "reason"])
#: One per exchanged token: a caller caching them (orders_service) exchanges once per user token.
TOKEN_EXCHANGES = Counter(
    "auth_token_exchanges_total", "Tokens issued by token exchange (RFC 8693)", ["service", "client_id"]
)
