"""The saved-work pages through the Django test client: list, search, rename, delete, duplicate, fork,
export/import, run pages, other users' 404s, and query counts that do not grow with the data."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from playground.models import Conversation, Message, Run
from playground.search import search_index
from playground.services import runs
from playground.services.transfer import conversation_import

pytestmark = pytest.mark.django_db

MODEL = "accounts/fireworks/models/llama-v3p1-8b-instruct"
OTHER_MODEL = "accounts/fireworks/models/qwen3-235b-a22b"
KEY = "fw_CONVERSATIONVIEWSECRET"


def make_user(name: str) -> Any:
    return get_user_model().objects.create_user(name, password="a-long-passphrase-1")


def signed_in(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def ada() -> Any:
    return make_user("ada")


@pytest.fixture
def client(ada: Any) -> Client:
    return signed_in(ada)


def converse(
    user: Any, text: str, *, reply: str = "Sure.", model: str = MODEL, conversation_id: int | None = None
) -> runs.RunResult:
    """One saved exchange (run_start + run_finish), as the consumer makes it."""
    messages = [{"role": "user", "content": text}]
    if conversation_id is not None:
        conversation = Conversation.objects.get(pk=conversation_id)
        from playground.selectors.conversations import conversation_path

        messages = [
            {"role": m.role, "content": m.content, "id": m.pk}
            for m in conversation_path(conversation=conversation)
        ] + messages
    request = {"model": model, "messages": messages, "temperature": 0.3, "stream": True}
    run = runs.run_start(
        user=user,
        conversation_id=conversation_id,
        mode="chat",
        model=model,
        messages=messages,
        prompt=None,
        params={"temperature": 0.3},
        extra={"prompt_cache_key": "k"},
        request=request,
        system_prompt="Be brief.",
    )
    return runs.run_finish(
        run_id=run.pk,
        status="done",
        opened={
            "headers": {"x-request-id": "req-7", "fireworks-prompt-tokens": "9"},
            "request_id": "req-7",
            "sampling_options": {"temperature": 0.3, "top_p": 1.0},
            "rate_limits": {"x-ratelimit-remaining-requests": "59"},
        },
        output=[
            {"content": reply, "reasoning": "", "tool_calls": None, "finish_reason": "stop", "logprobs": None}
        ],
        usage={"prompt_tokens": 9, "completion_tokens": 2, "total_tokens": 11, "cached_tokens": 0},
        perf={"server-time-to-first-token": 0.02},
        timings={
            "ttft_ms": 20.0,
            "total_ms": 60.0,
            "chunks": 2,
            "tokens": 2,
            "decode_ms": 40.0,
            "tokens_per_second": 25.0,
        },
        timeline=[
            {"type": "chat.delta", "i": 0, "t": 20.0, "choice": 0, "content": "Sure"},
            {"type": "chat.delta", "i": 1, "t": 60.0, "choice": 0, "content": "."},
            {"type": "chat.done", "status": "done", "finish_reasons": {"0": "stop"}, "t": 60.0},
        ],
        error=None,
        response_model=model,
        finish_reasons={0: "stop"},
    )


def conversation_of(result: runs.RunResult) -> Conversation:
    return Run.objects.get(pk=result.run_id).conversation


def seed(user: Any, count: int, messages_each: int = 4) -> None:
    """``count`` conversations with ``messages_each`` messages and one run each, in bulk."""
    workspace = user.personal_workspace
    conversations = Conversation.objects.bulk_create(
        Conversation(
            owner=user, workspace=workspace, title=f"Seeded {i}", model=MODEL if i % 2 else OTHER_MODEL
        )
        for i in range(count)
    )
    nodes = Message.objects.bulk_create(
        Message(conversation=c, position=p, role="user", content=f"text {p}")
        for c in conversations
        for p in range(messages_each)
    )
    search_index(conversations=conversations, messages=nodes)
    Run.objects.bulk_create(Run(conversation=c, model=c.model, status="done") for c in conversations)


def rows(html: str) -> list[str]:
    return re.findall(r'data-testid="conversation-open">([^<]*)<', html)


def test_list_newest_first_with_status_and_model(client: Client, ada: Any) -> None:
    first = conversation_of(converse(ada, "First question"))
    second = conversation_of(converse(ada, "Second question", model=OTHER_MODEL))
    html = client.get("/conversations/").content.decode()
    assert rows(html) == ["Second question", "First question"]
    assert f'href="/c/{second.pk}/"' in html and f'href="/c/{first.pk}/"' in html
    assert 'class="chip done"' in html
    assert OTHER_MODEL in html
    assert 'data-testid="nav-conversations"' in html


def test_search_by_title_and_message_text_and_filter_by_model(client: Client, ada: Any) -> None:
    converse(ada, "About lakes")
    converse(ada, "About rivers", reply="Fireworks über dem Fluss")
    converse(ada, "About seas", model=OTHER_MODEL)
    assert rows(client.get("/conversations/?q=lakes").content.decode()) == ["About lakes"]
    # Message text, case-insensitive (for ASCII letters on SQLite), non-ASCII text included.
    assert rows(client.get("/conversations/?q=FIREWORKS über").content.decode()) == ["About rivers"]
    assert rows(client.get(f"/conversations/?model={OTHER_MODEL}").content.decode()) == ["About seas"]
    assert rows(client.get(f"/conversations/?q=about&model={MODEL}").content.decode()) == [
        "About rivers",
        "About lakes",
    ]
    assert (
        'data-testid="conversation-empty"' in client.get("/conversations/?q=nothing-like-it").content.decode()
    )


def test_pagination(client: Client, ada: Any) -> None:
    seed(ada, 30)
    first = client.get("/conversations/").content.decode()
    second = client.get("/conversations/?page=2").content.decode()
    assert len(rows(first)) == 25 and len(rows(second)) == 5
    assert not set(rows(first)) & set(rows(second))
    assert "Page 1 of 2" in first
    assert 'data-testid="page-next"' in first
    # The filters ride along in the pager's links.
    filtered = client.get(f"/conversations/?model={MODEL}&q=Seeded").content.decode()
    assert len(rows(filtered)) == 15


def test_a_search_counts_up_to_what_the_page_needs_and_says_so(
    client: Client, ada: Any, monkeypatch: Any
) -> None:
    """A search counts at most CountUpTo.AT_LEAST matches (or up to the page after the one asked for):
    past that the page shows the count with a "+", and the pager still goes on."""
    from playground.views.conversations import CountUpTo

    monkeypatch.setattr(CountUpTo, "AT_LEAST", 10)
    seed(ada, 80)
    first = client.get("/conversations/?q=seeded").content.decode()
    assert len(rows(first)) == 25
    assert "50+ saved · matching" in first  # counted up to page 2, which follows
    assert "Page 1 of 2+" in first and 'data-testid="page-next"' in first
    third = client.get("/conversations/?q=seeded&page=3").content.decode()
    assert len(rows(third)) == 25 and "Page 3 of 4" in third and "80 saved · matching" in third
    last = client.get("/conversations/?q=seeded&page=4").content.decode()
    assert len(rows(last)) == 5 and 'data-testid="page-next"' not in last
    # Every match once, in the list's order, across the pages.
    pages = [rows(client.get(f"/conversations/?q=seeded&page={n}").content.decode()) for n in range(1, 5)]
    assert [title for page in pages for title in page] == [f"Seeded {i}" for i in reversed(range(80))]
    # Without a query the list counts everything.
    assert "80 saved" in client.get("/conversations/").content.decode()


def test_the_model_filter_offers_the_models_of_the_conversations_the_user_sees() -> None:
    from tests.playground.test_teams import _switched, client_for, make_world

    world = make_world()
    olive = world["users"]["olive"]  # the team's owner: her private conversations are hers alone
    for model in ("m/zeta", "m/alpha", "m/alpha"):
        Conversation.objects.create(owner=olive, workspace=world["team"], title="x", model=model)

    # Another member's private conversations: their models are not offered to the viewer.
    def offered(who: str) -> list[str]:
        page = _switched(client_for(world, who), world["team"].pk).get("/conversations/").content.decode()
        select = re.search(r'data-testid="model-filter">(.*?)</select>', page, re.S)
        assert select
        return re.findall(r'<option value="([^"]+)"', select.group(1))

    assert offered("viewer") == [world["conversation"].model]  # ann's shared one only
    assert offered("owner") == sorted({world["conversation"].model, "m/alpha", "m/zeta"})


@pytest.mark.parametrize("count", [3, 60])
def test_list_and_search_take_a_constant_number_of_queries(
    client: Client, ada: Any, count: int, django_assert_num_queries: Any
) -> None:
    seed(ada, count)
    # session, user, the user's workspaces (switcher + current), count, page rows, the model filter
    with django_assert_num_queries(6):
        assert client.get("/conversations/").status_code == 200
    with django_assert_num_queries(6):
        assert client.get("/conversations/?q=text 3&page=2").status_code == 200
    with django_assert_num_queries(6):
        assert client.get(f"/conversations/?model={MODEL}&q=Seeded").status_code == 200


def test_rename(client: Client, ada: Any) -> None:
    conversation = conversation_of(converse(ada, "Old title"))
    response = client.post(
        f"/c/{conversation.pk}/rename/", {"title": "  New   title ", "next": "/conversations/?q=New"}
    )
    assert response.status_code == 302 and response["Location"] == "/conversations/?q=New"
    conversation.refresh_from_db()
    assert conversation.title == "New title"
    # An off-site next is ignored.
    response = client.post(f"/c/{conversation.pk}/rename/", {"title": "x", "next": "https://evil.example/"})
    assert response["Location"] == "/conversations/"
    assert client.get(f"/c/{conversation.pk}/rename/").status_code == 405


def test_delete_asks_then_deletes(client: Client, ada: Any) -> None:
    conversation = conversation_of(converse(ada, "Doomed"))
    page = client.get(f"/c/{conversation.pk}/delete/").content.decode()
    assert "Delete “Doomed”?" in page and 'data-testid="delete-confirm-button"' in page
    assert Conversation.objects.filter(pk=conversation.pk).exists()
    response = client.post(f"/c/{conversation.pk}/delete/")
    assert response.status_code == 302 and response["Location"] == "/conversations/"
    assert not Conversation.objects.filter(pk=conversation.pk).exists()
    assert not Run.objects.filter(conversation_id=conversation.pk).exists()


def test_duplicate_copies_tree_and_runs(client: Client, ada: Any) -> None:
    conversation = conversation_of(converse(ada, "Original"))
    response = client.post(f"/c/{conversation.pk}/duplicate/")
    assert response.status_code == 302
    copy = Conversation.objects.exclude(pk=conversation.pk).get()
    assert copy.title == "Copy of Original"
    assert [m.content for m in copy.messages.order_by("pk")] == ["Original", "Sure."]
    assert copy.runs.get().request == conversation.runs.get().request
    assert rows(client.get("/conversations/").content.decode())[0] == "Copy of Original"


def test_open_conversation_page_carries_its_tree(client: Client, ada: Any) -> None:
    result = converse(ada, "Hi there")
    conversation = conversation_of(result)
    html = client.get(f"/c/{conversation.pk}/").content.decode()
    match = re.search(r'<script id="playground-config" type="application/json">(.*?)</script>', html, re.S)
    assert match
    data = json.loads(match[1])["conversation"]
    assert data["id"] == conversation.pk
    assert data["system_prompt"] == "Be brief."
    assert data["params"] == {"temperature": 0.3}
    assert data["extra"] == {"prompt_cache_key": "k"}
    assert data["current_leaf"] == result.message_id
    assert [(m["role"], m["content"], m["run"]) for m in data["messages"]] == [
        ("user", "Hi there", None),
        ("assistant", "Sure.", result.run_id),
    ]
    assert client.get(f"/c/{conversation.pk}/data/").json() == data


def test_fork_and_switch_branch(client: Client, ada: Any) -> None:
    result = converse(ada, "Hi")
    conversation = conversation_of(result)
    again = converse(ada, "More", conversation_id=conversation.pk)
    response = client.post(f"/c/{conversation.pk}/fork/", {"message": result.message_id})
    fork = Conversation.objects.get(forked_from=conversation)
    assert response["Location"] == f"/c/{fork.pk}/"
    assert [m.content for m in fork.messages.order_by("position")] == ["Hi", "Sure."]
    assert client.post(f"/c/{conversation.pk}/leaf/", {"message": result.message_id}).json() == {"ok": True}
    conversation.refresh_from_db()
    assert conversation.current_leaf_id == result.message_id != again.message_id
    assert client.post(f"/c/{conversation.pk}/leaf/", {"message": "x"}).status_code == 400


def test_export_import_round_trip(client: Client, ada: Any) -> None:
    first = converse(ada, "Round trip ✓")
    conversation = conversation_of(first)
    converse(ada, "Second turn", conversation_id=conversation.pk)
    # A second branch, so the tree and current leaf are exercised.
    runs.run_start(
        user=ada,
        conversation_id=conversation.pk,
        mode="chat",
        model=MODEL,
        messages=[{"role": "user", "content": "Round trip, edited"}],
        prompt=None,
        params={},
        extra={},
        request={"model": MODEL},
    )
    response = client.get(f"/c/{conversation.pk}/export/")
    assert response["Content-Disposition"] == f'attachment; filename="conversation-{conversation.pk}.json"'
    exported = json.loads(response.content)
    upload = SimpleUploadedFile("c.json", response.content, content_type="application/json")
    imported = client.post("/conversations/import/", {"file": upload})
    new = Conversation.objects.exclude(pk=conversation.pk).get()
    assert imported["Location"] == f"/c/{new.pk}/"
    again = client.get(f"/c/{new.pk}/export/").json()
    # Lossless: the same document but for the moment of export (ids never appear in it).
    exported.pop("exported_at")
    again.pop("exported_at")
    assert again == exported
    assert len(exported["messages"]) == 5 and len(exported["runs"]) == 3
    assert not any("id" in m for m in exported["messages"])


def test_import_refuses_what_is_not_an_export(client: Client, ada: Any) -> None:
    for content, fragment in (
        (b"not json", "not JSON"),
        (b'{"format": "other"}', "Not a conversation export"),
        (
            json.dumps(
                {
                    "format": "fireworks-playground.conversation",
                    "version": 1,
                    "conversation": {"mode": "chat"},
                    "messages": [{"ref": 1, "parent": 9, "role": "user"}],
                    "runs": [],
                }
            ).encode(),
            "parent must be the ref of an earlier message",
        ),
    ):
        response = client.post(
            "/conversations/import/", {"file": SimpleUploadedFile("c.json", content)}, follow=True
        )
        assert fragment in response.content.decode()
    assert not Conversation.objects.exists()


def test_run_page_shows_everything_but_the_key(client: Client, ada: Any, settings) -> None:
    settings.FIREWORKS_API_KEY = KEY
    result = converse(ada, "Show me")
    Run.objects.filter(pk=result.run_id).update(
        request={"model": MODEL, "messages": [{"role": "user", "content": f"leaked {KEY}"}]}
    )
    html = client.get(f"/runs/{result.run_id}/").content.decode()
    assert KEY not in html
    assert "leaked [redacted]" in html
    for text in (
        'data-testid="run-request"',
        "x-ratelimit-remaining-requests",
        "req-7",
        "fireworks-prompt-tokens",
        "server-time-to-first-token",
        'data-testid="timeline-chart"',
        'id="run-chart"',
        f'href="/runs/{result.run_id}/code/"',
        "stop",
    ):
        assert text in html, text
    # The chart data is the run's frames (compared as JSON: PostgreSQL's jsonb keeps its own key order).
    chart = json.loads(
        html.split('<script id="run-chart" type="application/json">', 1)[1].split("</script>", 1)[0]
    )
    assert chart["frames"][0] == {"type": "chat.delta", "i": 0, "t": 20.0, "choice": 0, "content": "Sure"}


def test_other_users_get_404(ada: Any) -> None:
    result = converse(ada, "Private")
    conversation = conversation_of(result)
    eve = signed_in(make_user("eve"))
    for url in (
        f"/c/{conversation.pk}/",
        f"/c/{conversation.pk}/data/",
        f"/c/{conversation.pk}/export/",
        f"/c/{conversation.pk}/delete/",
        f"/runs/{result.run_id}/",
    ):
        assert eve.get(url).status_code == 404, url
    for url, data in (
        (f"/c/{conversation.pk}/rename/", {"title": "mine"}),
        (f"/c/{conversation.pk}/delete/", {}),
        (f"/c/{conversation.pk}/duplicate/", {}),
        (f"/c/{conversation.pk}/fork/", {"message": result.message_id}),
        (f"/c/{conversation.pk}/leaf/", {"message": result.message_id}),
    ):
        assert eve.post(url, data).status_code == 404, url
    assert rows(eve.get("/conversations/?q=Private").content.decode()) == []
    conversation.refresh_from_db()
    assert conversation.title == "Private"
    assert Conversation.objects.count() == 1
    assert Client().get("/conversations/").status_code == 302


def test_import_service_belongs_to_the_importer(ada: Any) -> None:
    from playground.services.transfer import conversation_export

    conversation = conversation_of(converse(ada, "Mine"))
    eve = make_user("eve")
    copy = conversation_import(
        user=eve, document=conversation_export(user=ada, conversation_id=conversation.pk)
    )
    assert copy.owner == eve and copy.runs.get().started_by == eve


def test_page_data_carries_the_last_run_of_the_branch_on_screen(client: Client, ada: Any) -> None:
    result = converse(ada, "Hi there")
    conversation = conversation_of(result)
    data = client.get(f"/c/{conversation.pk}/data/").json()
    run = data["last_run"]
    assert run["id"] == result.run_id and run["message"] == result.message_id
    assert run["usage"]["prompt_tokens"] == 9
    assert run["timings"]["ttft_ms"] == 20.0
    assert run["sampling_options"] == {"temperature": 0.3, "top_p": 1.0}
    assert run["requested_options"] == {"temperature": 0.3}
    assert run["perf_metrics"] == {"server-time-to-first-token": 0.02}
    assert run["request_id"] == "req-7"
    assert run["rate_limits"] == {"x-ratelimit-remaining-requests": "59"}
    assert [(f["type"], f["t"]) for f in run["frames"]] == [
        ("chat.delta", 20.0),
        ("chat.delta", 60.0),
        ("chat.done", 60.0),
    ]
    assert run["frames"][-1]["run"] == result.run_id and run["frames"][-1]["message_id"] == result.message_id
    assert run["choices"] == 1
    assert run["emulator"] is False
    assert "timeline" not in run and "output" not in run
    # Another branch on screen: its own run; a stream still open is not "the last run".
    again = converse(ada, "More", conversation_id=conversation.pk)
    assert client.get(f"/c/{conversation.pk}/data/").json()["last_run"]["id"] == again.run_id
    client.post(f"/c/{conversation.pk}/leaf/", {"message": result.message_id})
    assert client.get(f"/c/{conversation.pk}/data/").json()["last_run"]["id"] == result.run_id


def test_page_data_query_count_does_not_grow_with_runs(client: Client, ada: Any) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    conversation = conversation_of(converse(ada, "One"))
    counts = []
    for _ in range(3):
        converse(ada, "Again", conversation_id=conversation.pk)
        with CaptureQueriesContext(connection) as captured:
            client.get(f"/c/{conversation.pk}/data/")
        counts.append(len(captured))
    assert len(set(counts)) == 1, counts


def test_emulator_runs_are_labelled_in_the_list_and_on_the_run_page(client: Client, ada: Any) -> None:
    real = converse(ada, "From the real API")
    emulated = converse(ada, "From the emulator")
    Run.objects.filter(pk=emulated.run_id).update(
        response_headers={"x-playground-emulator": "1", "fireworks-cached-prompt-tokens": "0"}, usage=None
    )
    html = client.get("/conversations/").content.decode()
    rows_html = html.split('data-testid="conversation-row"')[1:]
    assert 'data-testid="emulator-chip"' in rows_html[0]  # the newest: the emulator's
    assert 'data-testid="emulator-chip"' not in rows_html[1]
    # The distinguishing part of the model id first, the full id in the title.
    assert '<code class="model-name">llama-v3p1-8b-instruct</code>' in html
    assert f'title="{MODEL}"' in html
    page = client.get(f"/runs/{emulated.run_id}/").content.decode()
    assert 'data-testid="emulator-chip"' in page
    # Cached tokens agree with the playground: the header's count when usage never came.
    assert re.search(r'data-testid="run-cached">0<', page)
    assert 'data-testid="emulator-chip"' not in client.get(f"/runs/{real.run_id}/").content.decode()


def test_the_list_offers_only_what_the_role_allows() -> None:
    from tests.playground.test_teams import _switched, client_for, make_world

    world = make_world()
    c = world["conversation"]
    buttons = ("rename-toggle", "share", "duplicate", "delete", "import-file", "list-new")

    def offered(who: str) -> set[str]:
        page = _switched(client_for(world, who), world["team"].pk).get("/conversations/").content.decode()
        assert f'data-id="{c.pk}"' in page, who
        return {b for b in buttons if f'data-testid="{b}"' in page}

    # A viewer reads, exports and opens; nothing that would end on a 403.
    assert offered("viewer") == set()
    viewer_page = _switched(client_for(world, "viewer"), world["team"].pk).get("/conversations/")
    assert 'data-testid="list-read-only"' in viewer_page.content.decode()
    assert 'data-testid="export"' in viewer_page.content.decode()
    # An editor (not its author) renames, shares and duplicates, but deleting is its author's or an owner's.
    assert offered("editor") == {"rename-toggle", "share", "duplicate", "import-file", "list-new"}
    assert offered("owner") == set(buttons)


# --- the playground's sidebar: /api/conversations/ ------------------------------------------------------


def sidebar(client: Client, q: str = "") -> list[dict[str, Any]]:
    response = client.get("/api/conversations/", {"q": q} if q else {})
    assert response.status_code == 200, response.content
    return response.json()["conversations"]


def test_sidebar_lists_newest_first_and_searches_titles_and_messages(client: Client, ada: Any) -> None:
    first = conversation_of(converse(ada, "Tell me about otters"))
    second = conversation_of(converse(ada, "What is a monad?"))
    listed = sidebar(client)
    assert [c["id"] for c in listed] == [second.pk, first.pk]
    assert listed[0]["title"] == second.title and listed[0]["model"] == MODEL
    assert listed[0]["status"] == "done" and listed[0]["ago"] == "just now"
    # The message text matches, case-insensitively, as on the list page.
    assert [c["id"] for c in sidebar(client, "OTTERS")] == [first.pk]
    assert sidebar(client, "no such words anywhere") == []
    # The key never appears.
    assert KEY not in client.get("/api/conversations/").content.decode()


def test_sidebar_is_permission_filtered_like_the_list() -> None:
    from tests.playground.test_teams import _switched, client_for, make_world

    world = make_world()
    shared = world["conversation"]
    ann = world["users"]["ann"]
    private = conversation_of(converse(ann, "Private thoughts", conversation_id=None))
    Conversation.objects.filter(pk=private.pk).update(workspace=world["team"])
    # A viewer of the team sees the shared conversation, not ann's private one.
    viewer = _switched(client_for(world, "viewer"), world["team"].pk)
    assert [c["id"] for c in sidebar(viewer)] == [shared.pk]
    assert sidebar(viewer, "Private") == []
    # Ann sees both; an outsider's own workspace has neither.
    ann_client = _switched(signed_in(ann), world["team"].pk)
    assert {c["id"] for c in sidebar(ann_client)} == {shared.pk, private.pk}
    assert sidebar(client_for(world, "outsider")) == []
    # Signed out: sent to sign in, nothing listed.
    response = Client().get("/api/conversations/")
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_sidebar_refuses_an_overlong_query_clearly(client: Client) -> None:
    response = client.get("/api/conversations/", {"q": "x" * 201})
    assert response.status_code == 400
    assert response.json()["error"]["field"] == "q"
    assert "200" in response.json()["error"]["message"]
