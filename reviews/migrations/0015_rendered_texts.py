"""Rendered texts: the sanitized HTML of stored texts, so pages read it instead of rendering Markdown per
view (reviews.rendering)."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("reviews", "0014_queue_guidelines_label_modes"),
    ]

    operations = [
        migrations.CreateModel(
            name="RenderedText",
            fields=[
                ("key", models.UUIDField(primary_key=True, serialize=False)),
                (
                    "version",
                    models.PositiveSmallIntegerField(help_text="reviews.rendering.RENDERER_VERSION when rendered."),
                ),
                ("html", models.TextField()),
            ],
        ),
    ]
