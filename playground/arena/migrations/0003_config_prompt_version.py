import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("arena", "0002_prompt_runner"),
        ("prompts", "0001_initial"),
    ]

    operations = [
        migrations.AddField(
            model_name="arenaconfig",
            name="prompt_version",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="+",
                to="prompts.promptversion",
            ),
        ),
        migrations.AddField(
            model_name="arenaconfig",
            name="template",
            field=models.JSONField(blank=True, default=dict),
        ),
    ]
