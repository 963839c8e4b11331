"""Sign-in and sign-up throttling (per account and per client address, HTTP 429 with the wait) and the
password rules (issue 15)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.core.cache import caches
from django.test import Client

from playground.throttle import CACHE_ALIAS

GOOD = "a-long-passphrase-7"
pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def limits(settings: Any) -> Iterator[Any]:
    settings.PLAYGROUND_LOGIN_FAILURES_PER_ACCOUNT = 5
    settings.PLAYGROUND_LOGIN_FAILURES_PER_ADDRESS = 8
    settings.PLAYGROUND_LOGIN_WINDOW = 900
    settings.PLAYGROUND_SIGNUPS_PER_ADDRESS = 3
    settings.PLAYGROUND_SIGNUP_WINDOW = 3600
    caches[CACHE_ALIAS].clear()
    yield settings
    caches[CACHE_ALIAS].clear()


def login(username: str, password: str, address: str = "10.0.0.1") -> Any:
    return Client(REMOTE_ADDR=address).post("/accounts/login/", {"username": username, "password": password})


def signed_in(response: Any) -> bool:
    return response.status_code == 302 and response["Location"] == "/"


def test_after_five_wrong_passwords_the_account_is_refused_even_with_the_right_one() -> None:
    get_user_model().objects.create_user("ada", password=GOOD)
    get_user_model().objects.create_user("bob", password=GOOD)
    for _ in range(5):
        response = login("ada", "wrong-guess")
        assert response.status_code == 200 and "correct username and password" in response.content.decode()
    refused = login("ada", GOOD)
    assert refused.status_code == 429
    html = refused.content.decode()
    assert "Too many attempts; try again in " in html and " seconds" in html
    assert 850 <= int(refused["Retry-After"]) <= 900
    # Any case of the name is the same account, from any address.
    assert login("ADA", GOOD, address="10.9.9.9").status_code == 429
    # Another account from the same address still signs in.
    assert signed_in(login("bob", GOOD))


def test_an_address_is_throttled_across_accounts_and_other_addresses_still_work() -> None:
    get_user_model().objects.create_user("carol", password=GOOD)
    for i in range(8):  # one failure each for eight guessed accounts
        assert login(f"guess{i}", "wrong-guess", address="10.6.6.6").status_code == 200
    refused = login("carol", GOOD, address="10.6.6.6")
    assert refused.status_code == 429 and "Too many attempts" in refused.content.decode()
    assert signed_in(login("carol", GOOD, address="10.7.7.7"))


def test_a_successful_sign_in_clears_the_accounts_failures(limits: Any) -> None:
    limits.PLAYGROUND_LOGIN_FAILURES_PER_ADDRESS = 20  # the address's failures are not cleared
    get_user_model().objects.create_user("dan", password=GOOD)
    for _ in range(4):
        login("dan", "wrong-guess")
    assert signed_in(login("dan", GOOD))
    for _ in range(4):
        assert login("dan", "wrong-guess").status_code == 200
    assert signed_in(login("dan", GOOD))


def test_the_admin_login_is_throttled_too() -> None:
    get_user_model().objects.create_superuser("root", password=GOOD)
    client = Client(REMOTE_ADDR="10.1.1.1")
    for _ in range(5):
        client.post("/admin/login/", {"username": "root", "password": "wrong-guess"})
    response = client.post("/admin/login/?next=/admin/", {"username": "root", "password": GOOD})
    assert response.status_code == 200  # the form again, not signed in
    assert "_auth_user_id" not in client.session


def test_a_sign_up_burst_is_throttled_per_address() -> None:
    def signup(name: str, address: str) -> Any:
        return Client(REMOTE_ADDR=address).post(
            "/accounts/signup/", {"username": name, "password1": GOOD, "password2": GOOD}
        )

    assert [signup(f"new{i}", "10.2.2.2").status_code for i in range(3)] == [302, 302, 302]
    refused = signup("new3", "10.2.2.2")
    assert refused.status_code == 429 and "Too many attempts; try again in " in refused.content.decode()
    assert not get_user_model().objects.filter(username="new3").exists()
    assert signup("new4", "10.3.3.3").status_code == 302


@pytest.mark.parametrize(
    ("password", "message"),
    [
        (" " * 8, "too few different characters"),
        ("83920174", "This password is entirely numeric."),
        ("password123", "This password is too common."),
        ("short1!", "This password is too short. It must contain at least 8 characters."),
        ("aaaaaaaaaaaa", "too few different characters"),
        ("zelda-monroe-x", "The password is too similar to the username."),
    ],
)
def test_weak_passwords_are_refused_with_the_rule(password: str, message: str) -> None:
    response = Client().post(
        "/accounts/signup/", {"username": "zelda-monroe", "password1": password, "password2": password}
    )
    assert response.status_code == 200
    assert message in response.content.decode().replace("&#x27;", "'")
    assert not get_user_model().objects.filter(username="zelda-monroe").exists()


def test_the_sign_up_page_lists_the_rules() -> None:
    page = Client().get("/accounts/signup/").content.decode()
    assert "entirely numeric" in page and "at least 5 different characters" in page
