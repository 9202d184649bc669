"""make bench --profile: the shares it reports are computed from py-spy's collapsed stacks."""

from __future__ import annotations

import pytest

from bench.flamegraphs import shares

COLLAPSED = "\n".join(
    [
        # A request that reads the database and writes the access log: counts for both.
        "process 1;handle (gunicorn/workers/sync.py:1);me (users_service/routes.py:9);"
        "get (sqlalchemy/orm/session.py:3934) 30",
        "process 1;handle (gunicorn/workers/sync.py:1);access (secure_service/gunicorn_logging.py:40) 10",
        "process 1;parse (gunicorn/http/message.py:1) 60",
        "not a stack line",
    ]
)


def test_each_part_is_its_share_of_every_sample() -> None:
    result = shares(COLLAPSED)
    assert result["samples"] == 100
    assert result["database (SQLAlchemy)"] == pytest.approx(0.30)
    assert result["access log (JSON line)"] == pytest.approx(0.10)
    assert result["gunicorn: HTTP parse and write"] == pytest.approx(0.60)
    assert result["metrics"] == 0


def test_no_samples_give_no_shares() -> None:
    assert set(shares("").values()) == {0.0}
