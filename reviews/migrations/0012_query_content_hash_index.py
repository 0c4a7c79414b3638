"""An index on the query's content hash: a release reads samples in that order (duplicates side by side),
and PostgreSQL then streams them from the first row instead of sorting the whole selection first."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("reviews", "0011_roles_for_checkpoints_and_adjudications"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="query",
            index=models.Index(fields=["content_hash"], name="query_content_hash"),
        ),
    ]
