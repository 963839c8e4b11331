"""Full-text search: the database's own index (FTS5 on SQLite, tsvector + GIN on PostgreSQL), one row per
title and per message; ``Message.search_text``, which a LIKE scan read, goes.

The statements are the ones this migration first ran (frozen here); migration 0012 changed the index and
fills it, so a database made from scratch is filled once, there.
"""

from __future__ import annotations

from typing import Any

from django.db import migrations

TABLE = "playground_search"


def create(apps: Any, schema_editor: Any) -> None:
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"CREATE TABLE {TABLE} (key bigint PRIMARY KEY, words tsvector NOT NULL)")
        schema_editor.execute(f"CREATE INDEX {TABLE}_words ON {TABLE} USING gin (words)")
    elif schema_editor.connection.vendor == "sqlite":
        schema_editor.execute(
            f"CREATE VIRTUAL TABLE {TABLE} USING fts5(words, tokenize = 'unicode61 remove_diacritics 0')"
        )
    else:
        raise NotImplementedError("Full-text search is written for SQLite and PostgreSQL.")


def drop(apps: Any, schema_editor: Any) -> None:
    schema_editor.execute(f"DROP TABLE {TABLE}")


class Migration(migrations.Migration):
    dependencies = [("playground", "0009_run_timeline_frames")]

    operations = [
        migrations.RunPython(create, drop),
        migrations.RemoveField(model_name="message", name="search_text"),
    ]
