"""The Celery app. Workers: `celery -A grmweb worker -Q cpu` and `-Q gpu --pool=solo`."""

import os

from celery import Celery
from celery.signals import task_postrun, task_prerun

from grmweb import logcontext

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "grmweb.settings")

app = Celery("grmweb")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

# Every line a task logs carries its task id and name and the run, upload, release or checkpoint it works on.
task_prerun.connect(logcontext.task_started, weak=False)
task_postrun.connect(logcontext.task_ended, weak=False)
