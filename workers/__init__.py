"""Celery tasks and the GRM engine they drive."""
