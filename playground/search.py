"""Full-text search of saved conversations: the one owner of its index, its words and its match.

The index is the database's own, in two tables. ``playground_search_conversation`` holds a
conversation's words at conversation granularity: one row for its title and one per *chunk* of its
messages (consecutive messages, appended as they are saved, up to ``CHUNK_CHARS``), so a word found in
every conversation matches about one row per conversation and not one per message. On SQLite it is an
FTS5 table (with prefix indexes for one- and two-letter prefixes, which a last word like "1" needs), and
the messages of a chunk are separated by a token no query can contain (``SEP``), so a phrase never runs
from one message into the next: it answers every query exactly. On PostgreSQL it is a ``tsvector`` of the
chunk's words without positions (a ``tsvector`` keeps at most 256 positions of a word and none past
16,383, too few for a whole conversation) with a GIN index, and ``playground_search`` keeps one row per
title and per message with positions, which decides a phrase exactly, conversation by conversation.

Keys carry the conversation's id in their high 32 bits (``key``), so a match yields its conversation
without reading anything but the index and a conversation's rows are one range of keys. The services
that write messages and titles call ``search_index`` in their transaction (and ``search_forget`` before a
delete); the list's selector filters with ``search_filter``. A row left behind by a delete that did not
go through a service (a cascade from an account's deletion) names a conversation that no longer exists:
it matches nothing the list shows, and ids are never reused on either database.

What matches is what a user typed, as words, in order, the last word as a prefix: "river fire" finds
"River fireworks" and "river, firefly", not "fire river". Words are runs of letters and digits, compared
without case or accents ("cafe" finds "Café"); punctuation separates them ("needle-4242" is "needle 4242").
A phrase matches within one message or the title, never across two. Only the first ``MAX_CHARS``
characters of a message's words are indexed (a PostgreSQL ``tsvector`` holds at most 1 MB), and on
PostgreSQL a phrase matches only within a message's first 16,383 words.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Iterable
from typing import Any

from django.db import connection
from django.db.models import BooleanField, Expression, F

TABLE = "playground_search"  # PostgreSQL: one row per title and per message (exact phrases)
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


def create_conversations_sql(vendor: str) -> list[str]:
    """The statements that create the conversation-granularity table (migration 0012; PostgreSQL's table
    of messages is migration 0010's)."""
    if vendor == "postgresql":
        return [
            f"CREATE TABLE {CONVERSATIONS} "
            "(key bigint PRIMARY KEY, size integer NOT NULL, words tsvector NOT NULL)",
            f"CREATE INDEX {CONVERSATIONS}_words ON {CONVERSATIONS} USING gin (words)",
        ]
    if vendor == "sqlite":
        # The words are already folded: the tokenizer only splits them at the spaces. The prefix indexes
        # answer a short last word ("1*", thousands of terms) without merging every term it starts.
        return [
            f"CREATE VIRTUAL TABLE {CONVERSATIONS} USING fts5(words, "
            "tokenize = 'unicode61 remove_diacritics 0', prefix = '1 2')"
        ]
    raise NotImplementedError(f"Full-text search is written for SQLite and PostgreSQL, not {vendor}.")


SLOTS = 1 << 32  # keys per conversation: slot 0 its title, then its messages (or chunks of them)
CONVERSATIONS = "playground_search_conversation"
# Between two messages of a chunk on SQLite: a token (a private-use character, a "letter" to FTS5's
# tokenizer) that search_words never produces, so no phrase can run across it.
SEP = "\ue000"
# A chunk takes messages until it holds this many characters (SQLite, rewritten whole when a message
# is appended) or bytes of words (PostgreSQL, whose tsvector holds at most 1 MB); a longer message is a
# chunk of its own.
CHUNK_CHARS = {"sqlite": 16_000, "postgresql": 400_000}
# PostgreSQL: a query whose words are in at least this many rows of the conversation table tests each
# conversation the list walks (newest first, stopping at the page's end) instead of gathering them all.
DENSE_ROWS = 1000


def key(conversation_id: int, message_id: int | None = None) -> int:
    """The row of a conversation's title (no message) or of one of its messages (``playground_search``)."""
    return conversation_id * SLOTS + (0 if message_id is None else message_id % (SLOTS - 1) + 1)


# PostgreSQL's table of one row per title and per message (with positions: exact phrases), written by
# the same statement as the conversation table (a data-modifying WITH), so indexing costs no statement more.
_MESSAGE_ROWS = (
    f"message_rows AS (INSERT INTO {TABLE} (key, words) "
    "SELECT k, to_tsvector('simple', w) FROM unnest(%s::bigint[], %s::text[]) AS m(k, w) "
    "ON CONFLICT (key) DO UPDATE SET words = EXCLUDED.words)"
)
_TITLE = {
    "sqlite": f"INSERT OR REPLACE INTO {CONVERSATIONS} (rowid, words) VALUES (%s, %s)",
    "postgresql": (
        f"INSERT INTO {CONVERSATIONS} (key, size, words) VALUES (%s, 0, strip(to_tsvector('simple', %s))) "
        "ON CONFLICT (key) DO UPDATE SET words = EXCLUDED.words"
    ),
}
# Append a group of message words to a conversation's last chunk, or start the next chunk when the
# last one would grow past the limit (or there is none): one statement, no read before the write.
_APPEND = {
    "sqlite": (
        f"WITH last(slot, words) AS (SELECT rowid, words FROM {CONVERSATIONS} "
        "WHERE rowid BETWEEN %s AND %s ORDER BY rowid DESC LIMIT 1) "
        f"INSERT OR REPLACE INTO {CONVERSATIONS} (rowid, words) "
        "SELECT CASE WHEN last.slot IS NULL THEN %s WHEN length(last.words) + %s > %s THEN last.slot + 1 "
        "ELSE last.slot END, "
        "CASE WHEN last.slot IS NULL OR length(last.words) + %s > %s THEN %s ELSE last.words || %s || %s END "
        "FROM (SELECT 1) AS one LEFT JOIN last ON 1"
    ),
    "postgresql": (
        f"last AS (SELECT key, size FROM {CONVERSATIONS} WHERE key BETWEEN %s AND %s "
        "ORDER BY key DESC LIMIT 1) "
        f"INSERT INTO {CONVERSATIONS} AS chunk (key, size, words) "
        "SELECT CASE WHEN last.key IS NULL THEN %s WHEN last.size + %s > %s THEN last.key + 1 "
        "ELSE last.key END, %s, strip(to_tsvector('simple', %s)) "
        "FROM (SELECT 1) AS one LEFT JOIN last ON true "
        "ON CONFLICT (key) DO UPDATE SET words = chunk.words || EXCLUDED.words, "
        "size = chunk.size + EXCLUDED.size + 1"
    ),
}


def _vendor() -> str:
    return "postgresql" if connection.vendor == "postgresql" else "sqlite"


def _index_titles(titles: list[tuple[int, str]], *, messages_table: bool = True) -> None:
    """Write these conversations' titles (id, words) to slot 0 (and, on PostgreSQL, to the table of
    messages), one statement."""
    if not titles:
        return
    vendor = _vendor()
    with connection.cursor() as cursor:
        if vendor == "postgresql" and messages_table:
            cursor.executemany(
                f"WITH {_MESSAGE_ROWS} {_TITLE[vendor]}",
                [([key(pk)], [words], key(pk), words) for pk, words in titles],
            )
        else:
            cursor.executemany(_TITLE[vendor], [(key(pk), words) for pk, words in titles])


def _append(texts: dict[int, list[tuple[int, str]]], *, messages_table: bool = True) -> None:
    """Append each conversation's new messages (key, words), in order, to its chunks: in groups no
    larger than a chunk (a longer message is a group of its own), each group to the last chunk if it
    fits there, one statement per group (on PostgreSQL writing the group's rows of messages too)."""
    vendor = _vendor()
    limit = CHUNK_CHARS[vendor]
    between = " " if vendor == "postgresql" else f" {SEP} "
    with_messages = vendor == "postgresql" and messages_table
    rows: list[list[Any]] = []
    for conversation_id, messages in texts.items():
        low, high = conversation_id * SLOTS + 1, conversation_id * SLOTS + SLOTS - 1
        groups: list[list[tuple[int, str]]] = []
        size = 0
        for row in messages:
            if not row[1]:
                continue  # no words (an image, an empty reply): nothing to find
            length = len(row[1].encode()) if vendor == "postgresql" else len(row[1])
            if not groups or size + len(between) + length > limit:
                groups.append([])
                size = -len(between)
            groups[-1].append(row)
            size += len(between) + length
        for group in groups:
            joined = between.join(words for _, words in group)
            length = len(joined.encode()) if vendor == "postgresql" else len(joined)
            if vendor == "sqlite":
                rows.append([low, high, low, length, limit, length, limit, joined, between, joined])
                continue
            params = [low, high, low, length, limit, length, joined]
            if with_messages:
                params = [[k for k, _ in group], [w for _, w in group], *params]
            rows.append(params)
    if rows:
        sql = _APPEND[vendor]
        if vendor == "postgresql":
            sql = f"WITH {_MESSAGE_ROWS}, {sql}" if with_messages else f"WITH {sql}"
        with connection.cursor() as cursor:
            cursor.executemany(sql, rows)


def search_index(*, conversations: Iterable[Any] = (), messages: Iterable[Any] = ()) -> None:
    """Index (again) these conversations' titles and these messages' text.

    Every service that saves a message or a title calls this in its transaction; a message's text
    never changes once saved (an edit is a new message), so each is indexed once, appended to its
    conversation's last chunk.
    """
    _index_titles([(c.pk, search_words(c.title)) for c in conversations])
    indexed = sorted(((m.conversation_id, m.pk, search_words(m.text)) for m in messages), key=lambda r: r[:2])
    texts: dict[int, list[tuple[int, str]]] = {}
    for conversation_id, pk, words in indexed:
        texts.setdefault(conversation_id, []).append((key(conversation_id, pk), words))
    _append(texts)


def search_forget(*, conversation_ids: list[int]) -> None:
    """Take these conversations and their messages out of the index (before they are deleted)."""
    postgresql = connection.vendor == "postgresql"
    tables = [(TABLE, "key"), (CONVERSATIONS, "key")] if postgresql else [(CONVERSATIONS, "rowid")]
    with connection.cursor() as cursor:
        for pk in conversation_ids:
            for table, column in tables:
                cursor.execute(
                    f"DELETE FROM {table} WHERE {column} BETWEEN %s AND %s", [key(pk), key(pk) + SLOTS - 1]
                )


def search_condition(query: str) -> tuple[str, list[Any]] | None:
    """SQL that is true for a conversation (its id column written ``{id}``) whose title or a message
    matches ``query``; None when the query has no word (only punctuation): nothing can match it.

    SQLite: the conversation's id is among those the FTS5 table matches (gathered once per statement).
    PostgreSQL: when the words are in fewer than ``DENSE_ROWS`` rows, the same (a hashed set of the
    GIN index's matches, a phrase then checked in that conversation's messages); when they are in more,
    each conversation the statement reaches is tested on its own rows (a range of the primary key), so
    a page of a common word stops after its 25 rows instead of gathering 50,000 conversations.
    """
    words = search_words(query).split()
    if not words:
        return None
    if connection.vendor != "postgresql":
        phrase = '"' + " ".join(words) + '" *'
        return (
            f"{{id}} IN (SELECT rowid / {SLOTS} FROM {CONVERSATIONS} WHERE {CONVERSATIONS} MATCH %s)",
            [phrase],
        )
    every = " & ".join(f"'{w}'" for w in words) + ":*"  # all the words, anywhere in a chunk
    phrase = " <-> ".join(f"'{w}'" for w in words) + ":*"
    rows = f"key BETWEEN {{id}} * {SLOTS} AND {{id}} * {SLOTS} + {SLOTS - 1}"
    # A function, not the @@ operator: the GIN index is not used to test one conversation's rows.
    # OFFSET 0 keeps each EXISTS a test per conversation (PostgreSQL would otherwise make it a join).
    in_messages = (
        f"EXISTS (SELECT 1 FROM {TABLE} WHERE {rows} "
        "AND ts_match_vq(words, to_tsquery('simple', %s)) OFFSET 0)"
    )
    in_chunks = (
        f"EXISTS (SELECT 1 FROM {CONVERSATIONS} WHERE {rows} "
        "AND ts_match_vq(words, to_tsquery('simple', %s)) OFFSET 0)"
    )
    gathered = (
        f"{{id}} IN (SELECT key / {SLOTS} FROM {CONVERSATIONS} WHERE words @@ to_tsquery('simple', %s))"
    )
    dense = (
        f"(SELECT count(*) FROM (SELECT 1 FROM {CONVERSATIONS} WHERE words @@ to_tsquery('simple', %s) "
        f"LIMIT {DENSE_ROWS}) AS found) >= {DENSE_ROWS}"
    )
    if len(words) == 1:
        return (f"CASE WHEN {dense} THEN {in_chunks} ELSE {gathered} END", [every, every, every])
    return (
        f"CASE WHEN {dense} THEN {in_messages} ELSE ({gathered} AND {in_messages}) END",
        [every, phrase, every, phrase],
    )


class SearchFilter(Expression):
    """A filter on conversations: ``search_condition``'s SQL with ``{id}`` the (aliased) id column."""

    output_field = BooleanField()

    def __init__(self, condition: tuple[str, list[Any]], column: Any = None) -> None:
        super().__init__()
        self.condition = condition
        self.column = column if column is not None else F("pk")

    def get_source_expressions(self) -> list[Any]:
        return [self.column]

    def set_source_expressions(self, exprs: list[Any]) -> None:
        (self.column,) = exprs

    def as_sql(self, compiler: Any, connection: Any) -> tuple[str, list[Any]]:
        column, params = compiler.compile(self.column)
        sql, own = self.condition
        if params:  # a plain column has none; the template may name it several times
            raise ValueError("SearchFilter needs a plain column.")
        return sql.replace("{id}", column), list(own)


def search_filter(query: str) -> SearchFilter | None:
    """The filter of conversations matching ``query`` (None when it has no word: nothing matches)."""
    condition = search_condition(query)
    return SearchFilter(condition) if condition else None


def search_rebuild(*, messages_table: bool = True) -> int:
    """Index every conversation and message again from scratch (the migrations; a repair); returns the
    rows indexed (titles and messages). ``messages_table=False`` leaves PostgreSQL's table of messages
    as it is (migration 0012, which only adds the conversation table)."""
    from playground.content import content_text

    postgresql = connection.vendor == "postgresql"
    messages_table = messages_table and postgresql
    with connection.cursor() as cursor:
        for table in (TABLE, CONVERSATIONS) if messages_table else (CONVERSATIONS,):
            cursor.execute(f"DELETE FROM {table}")
        cursor.execute("SELECT id, title FROM playground_conversation")
        titles = [(pk, search_words(title)) for pk, title in cursor.fetchall()]
    _index_titles(titles, messages_table=messages_table)
    count = len(titles)
    last = (0, 0)
    while True:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT id, conversation_id, content FROM playground_message "
                "WHERE conversation_id > %s OR (conversation_id = %s AND id > %s) "
                "ORDER BY conversation_id, id LIMIT 5000",
                [last[0], last[0], last[1]],
            )
            batch = cursor.fetchall()
        if not batch:
            return count
        texts: dict[int, list[tuple[int, str]]] = {}
        for pk, cid, content in batch:
            texts.setdefault(cid, []).append((key(cid, pk), search_words(content_text(_json(content)))))
        _append(texts, messages_table=messages_table)
        count += len(batch)
        last = (batch[-1][1], batch[-1][0])


def _json(value: Any) -> Any:
    # A raw cursor gives JSON columns as their text (decoded values, should a driver decode them).
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value
