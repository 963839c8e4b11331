"""Full-text search of saved conversations: the one owner of its index, its words and its match.

The index is the database's own: an FTS5 table on SQLite, a ``tsvector`` column with a GIN index on
PostgreSQL, both named ``playground_search``. It has one row per message (keyed by the message's id) and
one per conversation title (keyed by minus the conversation's id), each with its conversation's id and its
words. The services that write messages and titles call ``search_index`` (and ``search_forget`` before a
delete); the list's selector calls ``search_match``. A row left behind by a delete that did not go through
a service (a cascade from an account's deletion) names a conversation or message that no longer exists:
it matches nothing the list shows, and ids are never reused on either database.

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
    folded = unicodedata.normalize("NFKD", text.casefold())
    plain = "".join(c for c in folded if not unicodedata.combining(c))
    return " ".join(_WORD.findall(plain))[:MAX_CHARS]


def create_sql(vendor: str) -> list[str]:
    """The statements that create the index on this database (the migration runs them)."""
    if vendor == "postgresql":
        return [
            f"CREATE TABLE {TABLE} (id bigint PRIMARY KEY, conversation_id bigint NOT NULL, "
            "words tsvector NOT NULL)",
            f"CREATE INDEX {TABLE}_words ON {TABLE} USING gin (words)",
            f"CREATE INDEX {TABLE}_conversation ON {TABLE} (conversation_id)",
        ]
    if vendor == "sqlite":
        # The words are already folded: the tokenizer only splits them at the spaces.
        return [
            f"CREATE VIRTUAL TABLE {TABLE} USING fts5(words, conversation_id UNINDEXED, "
            "tokenize = 'unicode61 remove_diacritics 0')"
        ]
    raise NotImplementedError(f"Full-text search is written for SQLite and PostgreSQL, not {vendor}.")


def _write(rows: list[tuple[int, int, str]]) -> None:
    if not rows:
        return
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.executemany(
                f"INSERT INTO {TABLE} (id, conversation_id, words) "
                "VALUES (%s, %s, to_tsvector('simple', %s)) "
                "ON CONFLICT (id) DO UPDATE SET conversation_id = EXCLUDED.conversation_id, "
                "words = EXCLUDED.words",
                rows,
            )
        else:
            cursor.executemany(
                f"INSERT OR REPLACE INTO {TABLE} (rowid, conversation_id, words) VALUES (%s, %s, %s)", rows
            )


def search_index(*, conversations: Iterable[Any] = (), messages: Iterable[Any] = ()) -> None:
    """Index (again) these conversations' titles and these messages' text, in one statement.

    Every service that saves a message or a title calls this in its transaction; a message's text
    never changes once saved (an edit is a new message), so each is indexed once.
    """
    rows = [(-c.pk, c.pk, search_words(c.title)) for c in conversations]
    rows += [(m.pk, m.conversation_id, search_words(m.text)) for m in messages]
    _write(rows)


def search_forget(*, conversation_ids: list[int]) -> None:
    """Take these conversations and their messages out of the index (before they are deleted)."""
    if not conversation_ids:
        return
    marks = ", ".join(["%s"] * len(conversation_ids))
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(f"DELETE FROM {TABLE} WHERE conversation_id IN ({marks})", conversation_ids)
        else:
            # FTS5 finds rows by rowid, not by an unindexed column: the messages' ids and the titles'.
            cursor.execute(
                f"DELETE FROM {TABLE} WHERE rowid IN (SELECT id FROM playground_message "
                f"WHERE conversation_id IN ({marks})) OR rowid IN ({marks})",
                [*conversation_ids, *(-pk for pk in conversation_ids)],
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
        return (f"SELECT conversation_id FROM {TABLE} WHERE words @@ to_tsquery('simple', %s)", [terms])
    phrase = '"' + " ".join(words) + '" *'
    return (f"SELECT conversation_id FROM {TABLE} WHERE {TABLE} MATCH %s", [phrase])


def search_rebuild() -> int:
    """Index every conversation and message again from scratch (the migration; a repair); returns rows."""
    from playground.content import content_text

    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {TABLE}")
        cursor.execute("SELECT id, title FROM playground_conversation")
        rows = [(-pk, pk, search_words(title)) for pk, title in cursor.fetchall()]
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
        rows = [(pk, cid, search_words(content_text(_json(content)))) for pk, cid, content in batch]
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
