"""Full-text search: the database's own index (FTS5 on SQLite, tsvector + GIN on PostgreSQL), filled for
the conversations and messages already saved; ``Message.search_text``, which a LIKE scan read, goes."""

from __future__ import annotations

from typing import Any

from django.db import migrations

from playground import search


def create(apps: Any, schema_editor: Any) -> None:
    for statement in search.create_sql(schema_editor.connection.vendor):
        schema_editor.execute(statement)
    search.search_rebuild()


def drop(apps: Any, schema_editor: Any) -> None:
    schema_editor.execute(f"DROP TABLE {search.TABLE}")


class Migration(migrations.Migration):
    dependencies = [("playground", "0009_run_timeline_frames")]

    operations = [
        migrations.RunPython(create, drop),
        migrations.RemoveField(model_name="message", name="search_text"),
    ]
