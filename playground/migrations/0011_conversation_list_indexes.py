"""The list's indexes in its order (updated_at, then id, both descending) with the permission filter's
columns: a page is read in order and counted from the index alone (playground/models.py)."""

from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("playground", "0010_full_text_search"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddIndex(
            model_name="conversation",
            index=models.Index(
                fields=["workspace", "-updated_at", "-id", "owner", "visibility"],
                name="conversation_workspace_list",
            ),
        ),
        migrations.AddIndex(
            model_name="conversation",
            index=models.Index(
                fields=["workspace", "model", "-updated_at", "-id", "owner", "visibility"],
                name="conversation_workspace_models",
            ),
        ),
        migrations.RemoveIndex(
            model_name="conversation",
            name="conversation_workspace_recent",
        ),
        migrations.RemoveIndex(
            model_name="conversation",
            name="conversation_workspace_model",
        ),
    ]
