"""``manage.py benchlist``: seed a throwaway database with many conversations and time the list.

The parent process makes a throwaway database and runs itself again with ``DATABASE_URL`` pointing at
it, so no real database is ever touched: a new SQLite file in a temporary folder, or, with
``--database-url postgres://user@host:port/any``, a new database ``benchlist_<pid>`` on that PostgreSQL
server, dropped afterwards. The child migrates, seeds (bulk inserts, indexed for search by
``playground.search`` as the services index), and requests each page through Django's test client (the
full middleware stack, signed in), printing the median and 95th percentile per page and the number of
SQL queries each one made (after one untimed request per page).

With ``--keep`` the database is kept for the next run with the same sizes and seeded only once (seeding a
million messages takes minutes): a file ``benchlist-keep/benchlist-<conversations>-<messages>.sqlite3``
in the temporary folder, or a database ``benchlist_keep_<conversations>_<messages>`` on the PostgreSQL
server. A kept database is migrated at every run, so it also measures a new migration filling existing
data. Delete the file, or ``DROP DATABASE`` it, to start again.
"""

from __future__ import annotations

import argparse
import gc
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection, reset_queries

THROWAWAY = "benchlist_"

MODELS = [
    "accounts/fireworks/models/llama-v3p1-8b-instruct",
    "accounts/fireworks/models/llama-v3p1-70b-instruct",
    "accounts/fireworks/models/qwen3-235b-a22b",
    "accounts/fireworks/models/deepseek-v3",
]
WORDS = "lake river fireworks summer harbour rocket sparkle night festival music crowd boat".split()  # noqa: SIM905


class Command(BaseCommand):
    help = "Seed N conversations / M messages into a throwaway database and time the list and search pages."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--conversations", type=int, default=10_000)
        parser.add_argument("--messages", type=int, default=100_000)
        parser.add_argument("--requests", type=int, default=30, help="requests per page")
        parser.add_argument(
            "--streams",
            type=int,
            default=0,
            help="Before seeding, also time the database work of this many streams as StreamRun does it "
            "(run_start, run_finish): CPU and statements per stream, a new conversation and a follow-up.",
        )
        parser.add_argument(
            "--database-url",
            default="",
            help="A PostgreSQL server to measure on, e.g. postgres://postgres@127.0.0.1:5432/postgres: "
            f"a database {THROWAWAY}<pid> is made there and dropped after (default: a SQLite file).",
        )
        parser.add_argument(
            "--keep",
            action="store_true",
            help="Keep the database for the next run with the same sizes, and reuse it if it is there "
            "(seeded once; migrated each run). Prints where it is.",
        )
        parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)

    def handle(self, *args: Any, **options: Any) -> None:
        if not options["child"]:
            if options["database_url"]:
                self.spawn_postgresql(options)
            else:
                self.spawn_sqlite(options)
            return
        database = settings.DATABASES["default"]
        throwaway = (database["ENGINE"].endswith("sqlite3") and "benchlist-" in str(database["NAME"])) or (
            database["ENGINE"].endswith("postgresql") and str(database["NAME"]).startswith(THROWAWAY)
        )
        if not throwaway:
            raise CommandError("benchlist --child only runs against its own throwaway database.")
        self.run_child(options)

    def spawn_sqlite(self, options: dict[str, Any]) -> None:
        if options["keep"]:
            folder = Path(tempfile.gettempdir()) / "benchlist-keep"
            folder.mkdir(exist_ok=True)
            path = folder / f"benchlist-{options['conversations']}-{options['messages']}.sqlite3"
            self.stdout.write(f"kept database: {path}")
            self.spawn(options, f"sqlite:///{path}")
            return
        with tempfile.TemporaryDirectory(prefix="benchlist-") as folder:
            self.spawn(options, f"sqlite:///{Path(folder) / 'benchlist.sqlite3'}")

    def spawn_postgresql(self, options: dict[str, Any]) -> None:
        from proxy.bench.backends import BackendUnavailable, throwaway_postgresql

        if options["keep"]:
            name = f"{THROWAWAY}keep_{options['conversations']}_{options['messages']}"
            self.stdout.write(f"kept database: {name}")
            self.spawn(options, _kept_postgresql(options["database_url"], name))
            return
        try:
            with throwaway_postgresql(options["database_url"], f"{THROWAWAY}{os.getpid()}") as url:
                self.spawn(options, url)
        except BackendUnavailable as exc:
            raise CommandError(f"Cannot use --database-url: {exc}") from None

    def spawn(self, options: dict[str, Any], database_url: str) -> None:
        env = {**os.environ, "DATABASE_URL": database_url, "DJANGO_DEBUG": "0"}
        command = [
            sys.executable,
            str(Path(settings.BASE_DIR) / "manage.py"),
            "benchlist",
            "--child",
            f"--conversations={options['conversations']}",
            f"--messages={options['messages']}",
            f"--requests={options['requests']}",
            f"--streams={options['streams']}",
            *(["--keep"] if options["keep"] else []),
        ]
        result = subprocess.run(command, env=env, check=False)
        if result.returncode:
            raise CommandError(f"the benchmark process failed ({result.returncode})")

    def run_child(self, options: dict[str, Any]) -> None:
        from django.contrib.auth import get_user_model
        from django.test import Client

        started = time.perf_counter()
        call_command("migrate", verbosity=0, interactive=False)
        self.stdout.write(f"migrated in {time.perf_counter() - started:.1f} s")
        users = get_user_model().objects
        user = users.filter(username="bench").first()
        if user is None:
            user = users.create_user("bench")
            if options["streams"]:
                self.time_streams(user, options["streams"])
            started = time.perf_counter()
            seed(user, options["conversations"], options["messages"])
            self.stdout.write(
                f"seeded {options['conversations']:,} conversations, {options['messages']:,} messages "
                f"and {options['conversations']:,} runs on {connection.vendor} "
                f"in {time.perf_counter() - started:.1f} s"
            )
        else:
            if options["streams"]:
                self.time_streams(user, options["streams"])
            self.stdout.write(f"reusing the kept database on {connection.vendor} (seeded before)")
        if connection.vendor == "postgresql":
            # What autovacuum does within a minute of a bulk load: the planner's statistics, and the
            # visibility map that lets an index-only scan skip the table (PostgreSQL >= 13 vacuums a
            # table after inserts too).
            with connection.cursor() as cursor:
                cursor.execute("VACUUM ANALYZE")
        # As the server does at startup (``manage.py serve``, freeze_startup_objects): what this process
        # made before serving (the migration graph, the seeding) is kept out of the collector's full
        # passes. Without it a full collection here walked them, 61 ms every ~60 requests, which the
        # server's own process does not pay.
        gc.collect()
        gc.freeze()
        client = Client(HTTP_HOST="127.0.0.1")
        client.force_login(user)
        pages = {
            "list, page 1": "/conversations/",
            "list, page 200": "/conversations/?page=200",
            "filter by model": f"/conversations/?model={MODELS[2]}",
            "search title/text, common word": "/conversations/?q=fireworks",
            "search text, rare word": "/conversations/?q=needle-4242",
            "search text, phrase": "/conversations/?q=harbour message 1",
            "search text + model, page 3": f"/conversations/?q=river&model={MODELS[0]}&page=3",
        }
        self.stdout.write(f"{'page':34} {'p50 ms':>8} {'p95 ms':>8} {'queries':>8}")
        for label, url in pages.items():
            samples = []
            queries = 0
            client.get(
                url
            )  # once untimed: the first request of a process compiles templates and warms caches
            for _ in range(options["requests"]):
                reset_queries()
                with _count_queries() as counted:
                    start = time.perf_counter()
                    response = client.get(url)
                    samples.append((time.perf_counter() - start) * 1000)
                if response.status_code != 200:
                    raise CommandError(f"{url} answered {response.status_code}")
                queries = counted[0]
            samples.sort()
            p95 = samples[min(len(samples) - 1, int(len(samples) * 0.95))]
            self.stdout.write(f"{label:34} {statistics.median(samples):8.1f} {p95:8.1f} {queries:8d}")

    def time_streams(self, user: Any, streams: int) -> None:
        """The database work of one stream, as ``proxy.stream.StreamRun`` does it: open the run (a new
        conversation, or a follow-up in one of ten turns) and save a 200-token reply with its timeline."""
        from playground.models import personal_workspace_of
        from playground.pricing.selectors import price_from, workspace_prices
        from playground.services import runs

        personal = personal_workspace_of(user.pk).pk
        # The socket's prices, read when it connects (proxy/access.py), not per stream.
        prices = workspace_prices(workspace_ids=[personal])
        reply = "word " * 200
        ask = [{"role": "user", "content": "Tell me a short story about a lighthouse keeper."}]

        def stream(conversation_id: int | None, sent: list[dict[str, Any]]) -> Any:
            body = {"model": MODELS[0], "messages": sent, "stream": True, "temperature": 0.7}
            run = runs.run_start(
                user=user,
                conversation_id=conversation_id,
                mode="chat",
                model=MODELS[0],
                messages=sent,
                prompt=None,
                params={"temperature": 0.7},
                extra={},
                request=body,
                personal_workspace_id=personal,
            )
            # The price the run is costed at, from what the socket knows (StreamRun._open_run).
            price_from(prices[run.conversation.workspace_id], MODELS[0])
            timeline = [
                {"type": "chat.delta", "i": i, "t": 20.0 * i, "choice": 0, "content": "word "}
                for i in range(200)
            ]
            output = [{"content": reply, "reasoning": "", "tool_calls": None, "finish_reason": "stop"}]
            result = runs.run_finish(
                run_id=run.pk,
                status="done",
                output=output,
                timeline=timeline,
                error=None,
                perf=None,
                opened={"request_id": "r", "headers": {}, "sampling_options": {"temperature": 0.7}},
                usage={"prompt_tokens": 12, "completion_tokens": 200, "total_tokens": 212},
                timings={"ttft_ms": 100.0},
                response_model=MODELS[0],
                finish_reasons={0: "stop"},
                place=run.place,
            )
            return run.conversation_id, result

        def measure(label: str, make: Any, per: int = 1) -> None:
            make()  # warm
            with _count_queries() as counted:
                make()
            cpu, wall = time.process_time(), time.perf_counter()
            for _ in range(max(1, streams // per)):
                make()
            cpu = (time.process_time() - cpu) / (max(1, streams // per) * per) * 1000
            wall = (time.perf_counter() - wall) / (max(1, streams // per) * per) * 1000
            self.stdout.write(f"{label:34} {cpu:8.2f} {wall:8.2f} {counted[0] / per:8.1f}")

        def follow_up() -> None:
            # A conversation of ten messages (five turns), then one more question in it.
            conversation_id, sent = None, list(ask)
            for _ in range(5):
                conversation_id, result = stream(conversation_id, sent)
                sent = [*sent, {"role": "assistant", "content": reply, "id": result.message_id}]
                sent = [*sent, {"role": "user", "content": "And then?"}]

        self.stdout.write(f"{'database work per stream':34} {'CPU ms':>8} {'wall ms':>8} {'queries':>8}")
        measure("new conversation", lambda: stream(None, ask))
        measure("a follow-up (mean of 5 turns)", follow_up, per=5)


def _kept_postgresql(server_url: str, name: str) -> str:
    """The URL of database ``name`` on the server at ``server_url``, made if it is not there (kept)."""
    from urllib.parse import urlsplit

    import psycopg

    parts = urlsplit(server_url)
    if parts.scheme not in ("postgres", "postgresql", "pgsql"):
        raise CommandError(f"{server_url!r} is not a postgres:// URL.")
    try:
        with psycopg.connect(server_url, autocommit=True) as admin:
            if not admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
                admin.execute(f'CREATE DATABASE "{name}"')
    except psycopg.Error as exc:
        raise CommandError(f"Cannot use --database-url: {exc}") from None
    return parts._replace(path=f"/{name}").geturl()


class _count_queries:
    """Count the SQL statements run inside the block (without needing DEBUG)."""

    def __enter__(self) -> list[int]:
        self.count = [0]

        def wrapper(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
            self.count[0] += 1
            return execute(sql, params, many, context)

        self.hook = connection.execute_wrapper(wrapper)
        self.hook.__enter__()
        return self.count

    def __exit__(self, *exc: Any) -> None:
        self.hook.__exit__(*exc)


def seed(user: Any, conversations: int, messages: int) -> None:
    """Bulk-insert the data set: each conversation a linear branch of alternating user/assistant turns."""
    from playground.models import Conversation, Message, Run, personal_workspace_of
    from playground.search import search_index

    workspace = personal_workspace_of(user.pk)
    each, extra = divmod(messages, conversations)
    batch = 2000
    for start in range(0, conversations, batch):
        rows = Conversation.objects.bulk_create(
            Conversation(
                owner=user,
                workspace=workspace,
                title=f"{WORDS[i % len(WORDS)].title()} question #{i}",
                model=MODELS[i % len(MODELS)],
            )
            for i in range(start, min(conversations, start + batch))
        )
        nodes = []
        for c in rows:
            count = each + (1 if c.pk % conversations < extra else 0)
            for p in range(count):
                text = f"{WORDS[(c.pk + p) % len(WORDS)]} message {p} of conversation {c.pk}"
                if c.pk == 4242 and p == 0:
                    text += " needle-4242"
                nodes.append(
                    Message(
                        conversation=c,
                        position=p,
                        role="user" if p % 2 == 0 else "assistant",
                        content=text,
                    )
                )
        Message.objects.bulk_create(nodes, batch_size=5000)
        search_index(conversations=rows, messages=nodes)
        Run.objects.bulk_create(
            (Run(conversation=c, model=c.model, status=("done", "stopped", "error")[c.pk % 3]) for c in rows),
            batch_size=5000,
        )
