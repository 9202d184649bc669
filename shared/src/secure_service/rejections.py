"""Every refused token is audited and counted here, by its reason (never the token itself)."""

from __future__ import annotations

from .audit import audit
from .errors import AuthError, RevocationUnavailable, TokenRevoked


def record_rejection(error: AuthError) -> None:
    """Audit and count a refused token: ``token_rejected`` and ``auth_token_rejections_total``."""
    from . import metrics  # see metrics.py: not at package import

    if isinstance(error, RevocationUnavailable):
        return  # not the token's fault; the 503 is logged by the error handler
    reason = error.reason.value
    metrics.TOKEN_REJECTIONS.labels(metrics.service(), reason).inc()
    genuine = error.claims
    if isinstance(error, TokenRevoked):
        metrics.REVOKED_PRESENTED.labels(metrics.service()).inc()
        audit("revoked_token_presented", sub=genuine.get("sub"), jti=genuine.get("jti"), sid=genuine.get("sid"))
    audit("token_rejected", reason=reason, sub=genuine.get("sub"), jti=genuine.get("jti"))
