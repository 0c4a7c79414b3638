"""The roles' permissions on uploads and their errors (0004) and review queues (0005), now that the admin
site lists them: reviewers read them; admins manage them (the Django admin checks these permissions;
adding is off there, since uploads and queues are made by their own pages and services)."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

MODELS = ("upload", "uploaderror", "reviewqueue")
REVIEWER = [f"view_{model}" for model in MODELS]
ADMIN = [f"{action}_{model}" for model in MODELS for action in ("view", "add", "change", "delete")]


def forward(apps, schema_editor):
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for name, codenames in (("reviewer", REVIEWER), ("admin", ADMIN)):
        group, _ = Group.objects.get_or_create(name=name)
        group.permissions.add(*Permission.objects.filter(content_type__app_label="reviews", codename__in=codenames))


def backward(apps, schema_editor):
    Permission = apps.get_model("auth", "Permission")
    for group in apps.get_model("auth", "Group").objects.filter(name__in=["reviewer", "admin"]):
        group.permissions.remove(*Permission.objects.filter(content_type__app_label="reviews", codename__in=ADMIN))


class Migration(migrations.Migration):
    dependencies = [("reviews", "0015_rendered_texts")]

    operations = [migrations.RunPython(forward, backward)]
