"""Fixtures shared by every suite."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from tests.support import redis_server


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real Redis for the whole session."""
    directory: Path = tmp_path_factory.mktemp("redis")
    with redis_server(directory) as (url, _process):
        yield url


@pytest.fixture
def redis_conn(redis_url: str) -> redis.Redis:
    return redis.Redis.from_url(redis_url, decode_responses=True)
