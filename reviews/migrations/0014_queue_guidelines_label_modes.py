"""Queue guidelines (Markdown for the reviewers), and failure modes scoped to what they are about: a
judgment (every mode so far) or a query's label, with the label-level choices a dataset queue offers."""

from django.db import migrations, models

LABEL_MODES = [
    ("label_ambiguous", "Ambiguous", "Reasonable reviewers could pick either response: the label is a guess."),
    ("label_no_good_response", "No good response", "Every response is wrong; the labelled one is only the least bad."),
    ("label_needs_expertise", "Needs expertise", "Judging the label needs knowledge the reviewer does not have."),
]


def add_label_modes(apps, schema_editor):
    FailureMode = apps.get_model("reviews", "FailureMode")
    for position, (code, label, description) in enumerate(LABEL_MODES, start=1):
        FailureMode.objects.update_or_create(
            code=code,
            defaults={"scope": "label"},  # again after a migration back and forth (the scope column was dropped)
            create_defaults={"label": label, "description": description, "position": position, "scope": "label"},
        )


class Migration(migrations.Migration):
    dependencies = [
        ("reviews", "0013_search_indexes"),
    ]

    operations = [
        migrations.AddField(
            model_name="failuremode",
            name="scope",
            field=models.CharField(
                choices=[("judgment", "a GRM judgment (run queues)"), ("label", "a query's label (dataset queues)")],
                default="judgment",
                help_text="What the mode is about: review forms offer a queue only the modes of its items' kind.",
                max_length=10,
            ),
        ),
        migrations.AddField(
            model_name="reviewqueue",
            name="guidelines",
            field=models.TextField(
                blank=True, help_text="Markdown for the reviewers: shown beside each item and in the keyboard help."
            ),
        ),
        # Back: the modes stay (annotations may name them; the scope column goes with the field).
        migrations.RunPython(add_label_modes, migrations.RunPython.noop),
    ]
