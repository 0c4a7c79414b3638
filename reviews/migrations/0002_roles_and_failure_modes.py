"""The reviewer and admin groups with their permissions, and the default failure-mode taxonomy."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

REVIEWS_MODELS = (
    "dataset",
    "query",
    "response",
    "prompttemplate",
    "modelconfig",
    "round",
    "run",
    "sample",
    "verdict",
    "failuremode",
    "annotation",
    "release",
)

# Reviewers read everything and write only their own annotations (views enforce the "own").
REVIEWER_PERMISSIONS = [("reviews", f"view_{model}") for model in REVIEWS_MODELS] + [
    ("reviews", "add_annotation"),
    ("reviews", "change_annotation"),
]
ADMIN_PERMISSIONS = [
    ("reviews", f"{action}_{model}") for model in REVIEWS_MODELS for action in ("view", "add", "change", "delete")
] + [("auth", "view_user"), ("auth", "add_user"), ("auth", "change_user"), ("auth", "view_group")]

# GRM_SPEC section 8 (paper App. F.2), plus the format and bias failures worth tracking.
FAILURE_MODES = [
    ("incorrect_critique", "Incorrect critique", "The analysis gets a check wrong (complex or domain knowledge)."),
    ("imbalanced_weights", "Imbalanced principle weights", "Principles are sensible but weighted badly."),
    ("improper_principles", "Improper principles", "The principles do not fit the query."),
    (
        "label_contradicts_truth",
        "Label contradicts ground truth",
        "The dataset's label itself looks wrong (label noise).",
    ),
    ("parse_failure", "Score format / parse failure", "No valid boxed scores, or the wrong number of them."),
    ("position_bias", "Position bias", "The judgment favours a response for where it was shown."),
    ("length_bias", "Length bias", "The judgment favours the longer response without reason."),
    ("hallucinated_critique", "Factual hallucination in critique", "The critique asserts facts that are false."),
]


def forward(apps, schema_editor):
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")

    def grant(group_name, pairs):
        group, _ = Group.objects.get_or_create(name=group_name)
        for app_label, codename in pairs:
            group.permissions.add(Permission.objects.get(content_type__app_label=app_label, codename=codename))

    grant("reviewer", REVIEWER_PERMISSIONS)
    grant("admin", ADMIN_PERMISSIONS)

    FailureMode = apps.get_model("reviews", "FailureMode")
    for position, (code, label, description) in enumerate(FAILURE_MODES, start=1):
        FailureMode.objects.get_or_create(
            code=code, defaults={"label": label, "description": description, "position": position}
        )


def backward(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name__in=["reviewer", "admin"]).delete()
    apps.get_model("reviews", "FailureMode").objects.filter(code__in=[code for code, _, _ in FAILURE_MODES]).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("reviews", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(forward, backward)]
