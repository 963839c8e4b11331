"""Search at conversation granularity: ``playground_search_conversation`` (playground/search.py), one row
per title and per chunk of a conversation's messages, filled here for everything already saved. On
SQLite it replaces the table of one row per message; PostgreSQL keeps that one for exact phrases."""

from __future__ import annotations

from typing import Any

from django.db import migrations

from playground import search


def forwards(apps: Any, schema_editor: Any) -> None:
    vendor = schema_editor.connection.vendor
    if vendor == "sqlite":
        schema_editor.execute(f"DROP TABLE {search.TABLE}")
    for statement in search.create_conversations_sql(vendor):
        schema_editor.execute(statement)
    # PostgreSQL's table of messages was filled by migration 0010 when it first ran; a database that
    # comes from before 0010 now (0010 no longer fills it) gets it filled here too.
    filled = True
    if vendor == "postgresql":
        with schema_editor.connection.cursor() as cursor:
            cursor.execute(f"SELECT EXISTS (SELECT 1 FROM {search.TABLE})")
            filled = bool(cursor.fetchone()[0])
    search.search_rebuild(messages_table=not filled)


def backwards(apps: Any, schema_editor: Any) -> None:
    """Back to migration 0010's index: on SQLite, its table of one row per title and per message."""
    from playground.content import content_text

    schema_editor.execute(f"DROP TABLE {search.CONVERSATIONS}")
    if schema_editor.connection.vendor != "sqlite":
        return
    table = search.TABLE
    schema_editor.execute(
        f"CREATE VIRTUAL TABLE {table} USING fts5(words, tokenize = 'unicode61 remove_diacritics 0')"
    )
    with schema_editor.connection.cursor() as cursor:
        cursor.execute("SELECT id, title FROM playground_conversation")
        rows = [(search.key(pk), search.search_words(title)) for pk, title in cursor.fetchall()]
        cursor.execute("SELECT id, conversation_id, content FROM playground_message")
        rows += [
            (search.key(cid, pk), search.search_words(content_text(search._json(content))))
            for pk, cid, content in cursor.fetchall()
        ]
        cursor.executemany(f"INSERT INTO {table} (rowid, words) VALUES (%s, %s)", rows)


class Migration(migrations.Migration):
    dependencies = [("playground", "0011_conversation_list_indexes")]

    operations = [migrations.RunPython(forwards, backwards)]
