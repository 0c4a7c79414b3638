"""The Celery app. Workers: `celery -A grmweb worker -Q cpu` and `-Q gpu --pool=solo`."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "grmweb.settings")

app = Celery("grmweb")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
