"""Liveness and readiness endpoints, the same in every service."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from apiflask import APIBlueprint, Schema
from apiflask.fields import Dict, String

ReadinessCheck = Callable[[], bool]


class HealthOut(Schema):
    status = String()


class ReadyOut(Schema):
    status = String()
    checks = Dict(keys=String(), values=String())


_NOT_READY: Any = {
    503: {"description": "A dependency is unavailable", "content": {"application/json": {"schema": ReadyOut}}}
}


def health_blueprint(checks: Mapping[str, ReadinessCheck]) -> APIBlueprint:
    """``/healthz`` (the process answers) and ``/readyz`` (every dependency answers)."""
    bp = APIBlueprint("health", __name__, tag="Health")

    @bp.get("/healthz")
    @bp.output(HealthOut)
    def healthz() -> dict[str, Any]:
        """The process is alive."""
        return {"status": "ok"}

    @bp.get("/readyz")
    @bp.output(ReadyOut)
    @bp.doc(responses=_NOT_READY)
    def readyz() -> tuple[dict[str, Any], int]:
        """Redis, the database and the keys needed to verify tokens are all reachable."""
        results = {name: "ok" if check() else "unavailable" for name, check in checks.items()}
        ready = all(result == "ok" for result in results.values())
        return {"status": "ready" if ready else "not_ready", "checks": results}, 200 if ready else 503

    return bp
