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
