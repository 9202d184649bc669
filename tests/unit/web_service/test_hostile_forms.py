"""Whatever a person or a script types into the console's forms, the answer is a readable
page with a 4xx status, never a 5xx, and a refused form changes nothing."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.unit.web_service.console import ORIGIN, Console

#: Any text a form field can carry, the awkward kinds included.
FIELD = st.one_of(
    # Lone surrogates have no UTF-8 form: a browser cannot send one (bad bytes: below).
    st.text(alphabet=st.characters(blacklist_categories=["Cs"]), max_size=300),
    st.sampled_from(["", " ", "\x00", "' OR 1=1 --", "<script>alert(1)</script>", "9" * 400, "-1", "1e9"]),
)
FORMS = {
    "/login": ("username", "password"),
    "/signup": ("username", "password", "email"),
    "/orders": ("item", "quantity"),
}


@pytest.mark.parametrize("path", list(FORMS))
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_any_form_input_gets_a_page_not_a_server_error(console: Console, path: str, data: Any) -> None:
    if path == "/orders" and console.cookie() is None:
        console.sign_up()
    fields = {name: data.draw(FIELD, label=name) for name in FORMS[path]}
    token = console.csrf(path)
    response = console.client.post(path, data={"csrf_token": token, **fields}, headers={"Origin": ORIGIN})
    assert response.status_code < 500, (fields, response.status_code)
    page = response.get_data(as_text=True)
    assert "Traceback" not in page
    if response.status_code >= 400:
        assert 'role="alert"' in page  # a message the person can read


@pytest.mark.parametrize("path", list(FORMS))
def test_a_form_that_is_not_utf_8_gets_a_page_not_a_server_error(console: Console, path: str) -> None:
    if path == "/orders":
        console.sign_up()
    token = console.csrf(path)
    body = f"csrf_token={token}&{FORMS[path][0]}=%FF%FE&{FORMS[path][1]}=x".encode()
    response = console.client.post(
        path, data=body, headers={"Origin": ORIGIN, "Content-Type": "application/x-www-form-urlencoded"}
    )
    assert 400 <= response.status_code < 500
    assert 'role="alert"' in response.get_data(as_text=True)
