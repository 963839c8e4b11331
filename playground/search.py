"""Full-text search of saved conversations: the one owner of its index, its words and its match.

The index is the database's own: an FTS5 table on SQLite, a ``tsvector`` column with a GIN index on
PostgreSQL, both named ``playground_search``. It has one row per conversation title and one per message,
holding its words, keyed by ``key``: the conversation's id in the high 32 bits, so a match yields its
conversation without reading anything but the index (a common word matches a message in every
conversation: reading a column per match made it slower than the scan it replaced), and a conversation's
rows are one range of keys to delete. The services that write messages and titles call ``search_index``
(and ``search_forget`` before a delete); the list's selector calls ``search_match``. A row left behind by
a delete that did not go through a service (a cascade from an account's deletion) names a conversation
that no longer exists: it matches nothing the list shows, and ids are never reused on either database.

What matches is what a user typed, as words, in order, the last word as a prefix: "river fire" finds
"River fireworks" and "river, firefly", not "fire river". Words are runs of letters and digits, compared
without case or accents ("cafe" finds "Café"); punctuation separates them ("needle-4242" is "needle 4242").
Only the first ``MAX_CHARS`` characters of a message's words are indexed (a PostgreSQL ``tsvector`` holds
at most 1 MB), and on PostgreSQL a phrase matches only within a message's first 16,383 words.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Iterable
from typing import Any

from django.db import connection

TABLE = "playground_search"
MAX_CHARS = 200_000
# A word: letters and digits (the underscore, which \w allows, separates words as FTS5 does).
_WORD = re.compile(r"[^\W_]+")


def search_words(text: str) -> str:
    """The words of ``text`` as the index holds them: case-folded, accents removed, one space apart."""
    if not text:
        return ""
    if text.isascii():  # most replies: nothing to fold but case (10x faster than the general path)
        plain = text.lower()
    else:
        folded = unicodedata.normalize("NFKD", text.casefold())
        plain = "".join(c for c in folded if not unicodedata.combining(c))
    return " ".join(_WORD.findall(plain))[:MAX_CHARS]


def create_sql(vendor: str) -> list[str]:
    """The statements that create the index on this database (the migration runs them)."""
    if vendor == "postgresql":
        return [
            f"CREATE TABLE {TABLE} (key bigint PRIMARY KEY, words tsvector NOT NULL)",
            f"CREATE INDEX {TABLE}_words ON {TABLE} USING gin (words)",
        ]
    if vendor == "sqlite":
        # The words are already folded: the tokenizer only splits them at the spaces.
        return [f"CREATE VIRTUAL TABLE {TABLE} USING fts5(words, tokenize = 'unicode61 remove_diacritics 0')"]
    raise NotImplementedError(f"Full-text search is written for SQLite and PostgreSQL, not {vendor}.")


SLOTS = 1 << 32  # keys per conversation: slot 0 its title, 1 .. 2**32 - 1 its messages


def key(conversation_id: int, message_id: int | None = None) -> int:
    """The index row of a conversation's title (no message) or of one of its messages."""
    return conversation_id * SLOTS + (0 if message_id is None else message_id % (SLOTS - 1) + 1)


def _write(rows: list[tuple[int, str]]) -> None:
    if not rows:
        return
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.executemany(
                f"INSERT INTO {TABLE} (key, words) VALUES (%s, to_tsvector('simple', %s)) "
                "ON CONFLICT (key) DO UPDATE SET words = EXCLUDED.words",
                rows,
            )
        else:
            cursor.executemany(f"INSERT OR REPLACE INTO {TABLE} (rowid, words) VALUES (%s, %s)", rows)


def search_index(*, conversations: Iterable[Any] = (), messages: Iterable[Any] = ()) -> None:
    """Index (again) these conversations' titles and these messages' text, in one statement.

    Every service that saves a message or a title calls this in its transaction; a message's text
    never changes once saved (an edit is a new message), so each is indexed once.
    """
    rows = [(key(c.pk), search_words(c.title)) for c in conversations]
    rows += [(key(m.conversation_id, m.pk), search_words(m.text)) for m in messages]
    _write(rows)


def search_forget(*, conversation_ids: list[int]) -> None:
    """Take these conversations and their messages out of the index (before they are deleted)."""
    column = "key" if connection.vendor == "postgresql" else "rowid"
    with connection.cursor() as cursor:
        for pk in conversation_ids:
            cursor.execute(
                f"DELETE FROM {TABLE} WHERE {column} BETWEEN %s AND %s", [key(pk), key(pk) + SLOTS - 1]
            )


def search_match(query: str) -> tuple[str, list[Any]] | None:
    """SQL selecting the ids of the conversations whose title or a message matches ``query``.

    None when the query has no word (only punctuation): nothing can match it.
    """
    words = search_words(query).split()
    if not words:
        return None
    if connection.vendor == "postgresql":
        terms = " <-> ".join(f"'{w}'" for w in words) + ":*"
        return (f"SELECT key / {SLOTS} FROM {TABLE} WHERE words @@ to_tsquery('simple', %s)", [terms])
    phrase = '"' + " ".join(words) + '" *'
    return (f"SELECT rowid / {SLOTS} FROM {TABLE} WHERE {TABLE} MATCH %s", [phrase])


def search_rebuild() -> int:
    """Index every conversation and message again from scratch (the migration; a repair); returns rows."""
    from playground.content import content_text

    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {TABLE}")
        cursor.execute("SELECT id, title FROM playground_conversation")
        rows = [(key(pk), search_words(title)) for pk, title in cursor.fetchall()]
    _write(rows)
    count = len(rows)
    last = 0
    while True:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT id, conversation_id, content FROM playground_message "
                "WHERE id > %s ORDER BY id LIMIT 5000",
                [last],
            )
            batch = cursor.fetchall()
        if not batch:
            return count
        rows = [(key(cid, pk), search_words(content_text(_json(content)))) for pk, cid, content in batch]
        _write(rows)
        count += len(rows)
        last = batch[-1][0]


def _json(value: Any) -> Any:
    # A raw cursor gives JSON columns as their text (decoded values, should a driver decode them).
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value
