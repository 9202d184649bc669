"""The console built by its factory against the unit tests' services."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.unit.services import Services
from tests.unit.web_service.console import ORIGIN, Console
from web_service import create_app as create_web_app


@pytest.fixture
def web(services: Services) -> Iterator[Any]:
    yield create_web_app({**services.config, "PUBLIC_ORIGIN": ORIGIN})


@pytest.fixture
def console(web: Any) -> Console:
    return Console(web.test_client())
