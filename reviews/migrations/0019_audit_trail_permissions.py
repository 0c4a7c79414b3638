"""The admin role reads the audit trail (django-auditlog's log entries) in the admin site; nobody edits it
there (auditlog's admin offers no add, change or delete)."""

from django.contrib.auth.management import create_permissions
from django.db import migrations


def forward(apps, schema_editor):
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    group, _ = Group.objects.get_or_create(name="admin")
    group.permissions.add(*Permission.objects.filter(content_type__app_label="auditlog", codename="view_logentry"))


def backward(apps, schema_editor):
    Permission = apps.get_model("auth", "Permission")
    for group in apps.get_model("auth", "Group").objects.filter(name="admin"):
        group.permissions.remove(
            *Permission.objects.filter(content_type__app_label="auditlog", codename="view_logentry")
        )


class Migration(migrations.Migration):
    dependencies = [("reviews", "0018_context_windows"), ("auditlog", "0017_add_actor_email")]

    operations = [migrations.RunPython(forward, backward)]
