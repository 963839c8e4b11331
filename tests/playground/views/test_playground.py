"""The pages: login required, sign-up on and off, the playground page's data and static files."""

from __future__ import annotations

import json
import re

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from playground.params import registry_json

pytestmark = pytest.mark.django_db


TESTIDS = (
    "prompt-input",
    "send",
    "stop",
    "assistant-message",
    "usage",
    "sampling-options",
    "perf-metrics",
    "error",
    "emulator-badge",
    "model-input",
    "sign-out",
)


def _json_script(html: str, element_id: str) -> object:
    match = re.search(rf'<script id="{element_id}" type="application/json">(.*?)</script>', html, re.S)
    assert match, element_id
    return json.loads(match[1])


@pytest.fixture
def user_client() -> Client:
    """A client signed in as a fresh user."""
    user = get_user_model().objects.create_user("ada", password="a-long-passphrase-1")
    client = Client()
    client.force_login(user)
    return client


def test_playground_requires_login() -> None:
    response = Client().get("/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_login_page_renders_with_signup_link() -> None:
    response = Client().get("/accounts/login/")
    assert response.status_code == 200
    assert b'data-testid="signup-link"' in response.content


def test_signup_creates_signs_in_and_redirects() -> None:
    client = Client()
    response = client.post(
        "/accounts/signup/",
        {"username": "grace", "password1": "a-long-passphrase-1", "password2": "a-long-passphrase-1"},
    )
    assert response.status_code == 302
    assert response["Location"] == "/"
    assert client.get("/").status_code == 200


def test_signup_shows_form_errors() -> None:
    response = Client().post("/accounts/signup/", {"username": "x", "password1": "a", "password2": "b"})
    assert response.status_code == 200
    assert b"field-error" in response.content
    assert not get_user_model().objects.filter(username="x").exists()


def test_signup_off_is_404(settings) -> None:
    settings.PLAYGROUND_ALLOW_SIGNUP = False
    assert Client().get("/accounts/signup/").status_code == 404
    assert b"signup-link" not in Client().get("/accounts/login/").content


def test_page_carries_registry_config_and_testids(user_client: Client, settings) -> None:
    settings.FIREWORKS_BASE_URL = "http://127.0.0.1:8765/inference/v1"  # the emulator, as serve starts it
    settings.PLAYGROUND_DEFAULT_MODEL = "accounts/fireworks/models/test-model"
    html = user_client.get("/").content.decode()
    assert _json_script(html, "param-registry") == json.loads(json.dumps(registry_json()))
    config = _json_script(html, "playground-config")
    workspace = config.pop("workspace")
    assert workspace["name"] == "Personal" and isinstance(workspace["id"], int)
    rights = {
        "can_run": True,
        "can_edit": True,
        "can_share": False,
        "can_set_visibility": False,
        "can_fork": False,
    }
    assert config == {
        "default_model": "accounts/fireworks/models/test-model",
        "emulator": True,
        "server": {"kind": "emulator", "label": "offline emulator", "host": "127.0.0.1:8765"},
        "ws_path": "/ws/chat/",
        "username": "ada",
        # A new conversation in the user's own workspace: theirs to run (access.js reads the rights).
        "role": "owner",
        "workspace_rights": rights,
        "rights": rights,
    }
    for testid in TESTIDS:
        assert f'data-testid="{testid}"' in html, testid
    assert "Offline emulator" in html and "— replies are synthetic" in html
    assert 'action="/accounts/logout/"' in html


def test_no_emulator_badge_for_a_real_upstream(user_client: Client, settings) -> None:
    settings.FIREWORKS_BASE_URL = "https://api.fireworks.ai/inference/v1"
    html = user_client.get("/").content.decode()
    assert "emulator-badge" not in html
    assert '"emulator": false' in html
    assert 'data-testid="server-badge" data-kind="fireworks"' in html


def test_another_server_is_labelled_from_the_base_url(user_client: Client, settings) -> None:
    """The kind of server comes from the base URL, whatever PLAYGROUND_EMULATOR says (issue 13)."""
    settings.FIREWORKS_BASE_URL = "http://10.0.0.5:8000/v1"
    settings.PLAYGROUND_EMULATOR = True
    html = user_client.get("/").content.decode()
    assert "emulator-badge" not in html
    assert 'data-kind="other"' in html and "OpenAI-compatible" in html and "10.0.0.5:8000" in html
    config = _json_script(html, "playground-config")
    assert config["server"] == {"kind": "other", "label": "OpenAI-compatible server", "host": "10.0.0.5:8000"}
    assert config["emulator"] is False


def test_api_key_never_reaches_the_page(user_client: Client, settings) -> None:
    settings.FIREWORKS_API_KEY = "fw_VIEWTESTSECRET"
    assert b"fw_VIEWTESTSECRET" not in user_client.get("/").content


def test_static_files_are_served_hashed(user_client: Client) -> None:
    html = user_client.get("/").content.decode()
    scripts = re.findall(r'src="(/static/playground/pages/playground\.[0-9a-f]{12}\.js)"', html)
    css = re.findall(r'href="(/static/playground/playground\.[0-9a-f]{12}\.css)"', html)
    assert scripts and css
    for url in (scripts[0], css[0], "/static/playground/core/socket.js", "/static/playground/core/stream.js"):
        response = user_client.get(url)
        assert response.status_code == 200, url
        b"".join(response.streaming_content) if response.streaming else response.content


def test_signup_shows_the_password_rules_and_each_error() -> None:
    page = Client().get("/accounts/signup/").content.decode()
    assert 'data-testid="field-help-password1"' in page
    assert "at least 8 characters" in page
    # A short password typed twice differently: both problems, each under its own field.
    response = Client().post(
        "/accounts/signup/", {"username": "shorty", "password1": "ab", "password2": "cd"}
    )
    html = response.content.decode()
    assert 'data-testid="field-error-password1"' in html and "too short" in html
    assert 'data-testid="field-error-password2"' in html
    response = Client().post(
        "/accounts/signup/", {"username": "shorty", "password1": "ab", "password2": "ab"}
    )
    html = response.content.decode()
    assert 'data-testid="field-error-password1"' in html and "too short" in html
    assert not get_user_model().objects.filter(username="shorty").exists()
