"""What a worker is doing for a run now (loading the model, generating, computing the report)."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("reviews", "0016_roles_for_uploads_and_queues"),
    ]

    operations = [
        migrations.AddField(
            model_name="run",
            name="phase",
            field=models.CharField(
                blank=True,
                choices=[
                    ("loading", "loading the model"),
                    ("generating", "generating"),
                    ("aggregating", "computing the report"),
                ],
                max_length=20,
            ),
        ),
    ]
