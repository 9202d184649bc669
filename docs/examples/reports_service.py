"""reports_service: a service of your own, its routes protected by the stack's shared package."""

from typing import Any

from secure_service import Verifier, create_service_app, current_claims, has_role, require_token


def create_app(config: dict[str, Any] | None = None) -> Any:
    app = create_service_app(__name__, "reports_service", title="reports_service")
    app.config.update(config or {})
    # JWT_ISSUER, JWKS_URL and REDIS_URL come from the environment (or config), like every
    # service's: signature, typ, iss, aud (its own name), exp and revocation are checked.
    Verifier(app)

    @app.get("/reports/mine")
    @require_token(scopes=["orders:read"])  # 401 without a valid token, 403 without the scope
    def my_report() -> dict[str, Any]:
        claims = current_claims()
        return {"user": claims["sub"], "is_admin": has_role("admin")}

    @app.get("/reports/everyone")
    @require_token(scopes=["orders:read"], roles=["admin"])  # 403 for a user who is not an admin
    def everyones_report() -> dict[str, Any]:
        return {"report": "every user's orders"}

    return app
