"""Error pages (403, 404, 410, 500) share the app's look: its header, a card saying what happened and
the way back; the 500 page renders without a request context (Django gives it none)."""

from __future__ import annotations

import pytest
from django.template.loader import render_to_string
from django.test import Client

from playground.services import sharing
from tests.playground.test_teams import client_for, make_world

pytestmark = pytest.mark.django_db


def assert_app_page(body: str, status: int) -> None:
    assert 'class="topbar"' in body, "the app's header"
    assert "/static/playground/playground." in body, "the app's styles"
    assert f'data-status="{status}"' in body
    assert "Back to the playground" in body
    assert body.count("<h1") == 1


def test_403_404_and_410_pages_have_the_apps_look() -> None:
    world = make_world()
    viewer = client_for(world, "viewer")
    response = viewer.post(f"/c/{world['conversation'].pk}/rename/", {"title": "Mine now"})
    assert response.status_code == 403
    body = response.content.decode()
    assert_app_page(body, 403)
    assert "Your role does not allow this" in body and "403 Forbidden" not in body
    # Signed in, the header still knows who you are.
    assert 'data-testid="username"' in body

    response = viewer.get("/c/987654/")
    assert response.status_code == 404
    assert_app_page(response.content.decode(), 404)
    assert "Nothing here" in response.content.decode()
    anonymous = Client().get("/s/not-a-token/")
    assert anonymous.status_code == 404
    assert_app_page(anonymous.content.decode(), 404)

    sharing.share_link_revoke(user=world["users"]["ann"], share_link_id=world["link"].pk)
    response = Client().get(f"/s/{world['link'].token}/")
    assert response.status_code == 410
    assert_app_page(response.content.decode(), 410)
    assert "was revoked" in response.content.decode()


def test_the_500_page_renders_without_a_request() -> None:
    body = render_to_string("500.html")
    assert_app_page(body, 500)
    assert "Something went wrong on our side" in body
