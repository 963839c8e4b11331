"""Response headers: the Content-Security-Policy on every page, templates with nothing it would block, and
the HTTPS settings (PLAYGROUND_HTTPS, PLAYGROUND_BEHIND_PROXY) that make ``check --deploy`` clean."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

ROOT = Path(__file__).resolve().parents[2]


class Blocked(HTMLParser):
    """What a strict CSP blocks in markup: inline scripts, event handler attributes, <style> elements.
    (Style attributes are listed apart: the policy allows them for the page scripts, templates have none.)"""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []
        self.style_attributes: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        names = dict(attrs)
        if tag == "script" and "src" not in names and names.get("type") != "application/json":
            self.found.append("inline <script>")
        if tag == "style":
            self.found.append("<style>")
        self.found += [f"{tag} {name}=" for name, _ in attrs if name.startswith("on")]
        self.style_attributes += [tag for name, _ in attrs if name == "style"]


def blocked(html: str) -> Blocked:
    parser = Blocked()
    parser.feed(html)
    return parser


@pytest.mark.django_db
def test_every_page_has_the_policy_and_nothing_it_blocks() -> None:
    user = get_user_model().objects.create_user("hal")
    client = Client()
    assert "default-src 'self'" in Client().get("/accounts/login/")["Content-Security-Policy"]
    client.force_login(user)
    for url in ("/", "/compare/", "/conversations/", "/presets/", "/comparisons/", "/accounts/signup/"):
        response = client.get(url, follow=True)
        assert response.status_code == 200, url
        policy = response["Content-Security-Policy"]
        directives = dict(d.strip().split(" ", 1) for d in policy.split(";"))
        assert directives["script-src"] == "'self'" and directives["script-src-attr"] == "'none'"
        assert directives["style-src"] == "'self'" and directives["style-src-elem"] == "'self'"
        assert directives["object-src"] == "'none'" and directives["frame-ancestors"] == "'none'"
        assert directives["base-uri"] == "'self'"
        assert directives["connect-src"] == "'self' ws://testserver wss://testserver"
        assert "unsafe-eval" not in policy
        found = blocked(response.content.decode())
        assert found.found == [] and found.style_attributes == [], url
        assert response["X-Frame-Options"] == "DENY" and response["X-Content-Type-Options"] == "nosniff"


def test_no_template_has_inline_script_handlers_or_styles() -> None:
    for path in (ROOT / "templates").rglob("*.html"):
        found = blocked(path.read_text())
        assert found.found == [] and found.style_attributes == [], path


def run_settings(code: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {
        k: v for k, v in os.environ.items() if not k.startswith(("PLAYGROUND_HTTPS", "PLAYGROUND_BEHIND"))
    }
    clean.update(DJANGO_SETTINGS_MODULE="playground.settings", DJANGO_LOG_LEVEL="WARNING", **env)
    return subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=clean, capture_output=True, text=True, timeout=60
    )


PRODUCTION = {
    "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
    "DJANGO_ALLOWED_HOSTS": "play.example.com",
    "DJANGO_CSRF_TRUSTED_ORIGINS": "https://play.example.com",
    "PLAYGROUND_HTTPS": "1",
    "PLAYGROUND_BEHIND_PROXY": "1",
}


def test_check_deploy_is_clean_under_the_production_settings() -> None:
    done = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env={**os.environ, "DJANGO_LOG_LEVEL": "WARNING", **PRODUCTION},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "no issues" in done.stdout
    # Without PLAYGROUND_HTTPS the deploy check names what is missing.
    plain = {k: v for k, v in PRODUCTION.items() if k != "PLAYGROUND_HTTPS"}
    loose = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy"],
        cwd=ROOT,
        env={**{k: v for k, v in os.environ.items() if k != "PLAYGROUND_HTTPS"}, **plain},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert "security.W004" in loose.stderr + loose.stdout


def test_https_settings() -> None:
    code = (
        "import django; django.setup(); from django.conf import settings as s; "
        "print(s.SECURE_HSTS_SECONDS, s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE, s.SECURE_SSL_REDIRECT, "
        "s.SECURE_PROXY_SSL_HEADER)"
    )
    on = run_settings(code, **PRODUCTION).stdout.split()
    assert on[:4] == ["31536000", "True", "True", "True"] and "HTTP_X_FORWARDED_PROTO" in on[4]
    off = run_settings(code, DJANGO_SECRET_KEY="x" * 50).stdout.split()
    assert off == ["0", "False", "False", "False", "None"]


@pytest.mark.django_db
def test_hsts_and_secure_cookies_on_a_secure_request(settings: Any) -> None:
    settings.SECURE_HSTS_SECONDS = 31536000
    settings.SESSION_COOKIE_SECURE = settings.CSRF_COOKIE_SECURE = True
    response = Client().get("/accounts/login/", secure=True)
    assert response["Strict-Transport-Security"].startswith("max-age=31536000")
    assert response.cookies["csrftoken"]["secure"] is True
    assert "connect-src 'self' wss://testserver" in response["Content-Security-Policy"]
