"""gunicorn's settings for `make run` and docker-compose's web service (`gunicorn -c grmweb/gunicorn.conf.py
grmweb.wsgi --bind HOST:PORT`): gthread workers, so a long streamed upload is not killed by the timeout,
and as many worker processes as the CPUs suggest (gunicorn's rule, 2 x cores + 1, at most 12), unless
GRM_WEB_WORKERS says."""

import multiprocessing
import os

_cores = multiprocessing.cpu_count()
workers = int(os.environ.get("GRM_WEB_WORKERS") or min(2 * _cores + 1, 12))
worker_class = "gthread"
threads = 4
timeout = 120
accesslog = "-"
# One line per request with its X-Request-ID, the id the app's own lines for that request carry
# (grmweb/logcontext.py); with GRM_LOG_FORMAT=json (the default) gunicorn's lines are JSON objects too.
access_log_format = '%(h)s "%(r)s" %(s)s %(B)s %(M)sms request_id=%({x-request-id}o)s'
if os.environ.get("GRM_LOG_FORMAT", "json") == "json":
    logconfig_dict = {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {
            "json": {
                "()": "pythonjsonlogger.json.JsonFormatter",
                "fmt": "%(levelname)s %(name)s %(message)s %(process)d",
                "rename_fields": {"levelname": "level", "name": "logger"},
                "timestamp": "time",
            }
        },
        "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "json", "stream": "ext://sys.stderr"}},
        "root": {"level": "INFO", "handlers": ["console"]},
        "loggers": {
            "gunicorn.error": {"level": "INFO", "handlers": ["console"], "propagate": False},
            "gunicorn.access": {"level": "INFO", "handlers": ["console"], "propagate": False},
        },
    }
