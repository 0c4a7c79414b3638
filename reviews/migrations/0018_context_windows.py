"""Context windows: the queries a run did not judge because they do not fit the model's window (with the
reason), and the window a worker found for each model configuration."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("reviews", "0017_run_phase"),
    ]

    operations = [
        migrations.AddField(
            model_name="modelconfig",
            name="context_window",
            field=models.PositiveIntegerField(
                blank=True,
                help_text="Tokens a sequence may hold, as a worker found when it loaded the model.",
                null=True,
            ),
        ),
        migrations.AddField(
            model_name="run",
            name="skipped_queries",
            field=models.JSONField(
                blank=True,
                default=dict,
                help_text="Queries not judged because their prompt and max tokens exceed the model's context window: {query id: {prompt_tokens, window}}.",
            ),
        ),
        migrations.AlterField(
            model_name="modelconfig",
            name="generation_params",
            field=models.JSONField(
                blank=True,
                default=dict,
                help_text="Extra backend parameters; context_window shortens the model's window.",
            ),
        ),
    ]
