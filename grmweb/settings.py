"""Settings, read from typed environment variables.

The defaults are the embedded development setup: SQLite under GRM_DATA_DIR, no external server,
Celery on a filesystem broker. DATABASE_URL and REDIS_URL switch to PostgreSQL and Redis; with
GRM_DEBUG=0 the production settings (secure cookies, HSTS, allowed hosts) apply.
"""

from __future__ import annotations

from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from grmweb.env import env_bool, env_choice, env_int, env_list, env_rate, env_str, env_url
from workers.backends.default_model import DEFAULT_MODEL

BASE_DIR = Path(__file__).resolve().parent.parent
DATA_DIR = Path(env_str("GRM_DATA_DIR", str(BASE_DIR / "var"))).resolve()
# Folders this configuration writes to; grmweb.apps creates them when Django starts.
GRM_DATA_FOLDERS: list[Path] = [DATA_DIR]

DEBUG = env_bool("GRM_DEBUG", True)

SECRET_KEY = env_str("GRM_SECRET_KEY")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("GRM_SECRET_KEY must be set when GRM_DEBUG is off")
    SECRET_KEY = "dev-only-key-never-used-with-debug-off-7f3c9a1e5b2d4f6a8c0e"  # noqa: S105 (debug only)

ALLOWED_HOSTS = env_list("GRM_ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]"] if DEBUG else [])
if not DEBUG and not ALLOWED_HOSTS:
    raise ImproperlyConfigured("GRM_ALLOWED_HOSTS must list the served host names when GRM_DEBUG is off")
CSRF_TRUSTED_ORIGINS = env_list("GRM_CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "grmweb.apps.GrmwebConfig",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_htmx",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "auditlog",
    "reviews",
    "workers",
]

MIDDLEWARE = [
    "grmweb.security.ContentSecurityPolicyMiddleware",  # first: every answer carries it
    "grmweb.health.HealthCheckMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "grmweb.logcontext.RequestIdMiddleware",  # X-Request-ID; the request's ids on its log lines
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "auditlog.middleware.AuditlogMiddleware",  # the signed-in user as the actor of what a request changes
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
]

ROOT_URLCONF = "grmweb.urls"
WSGI_APPLICATION = "grmweb.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "reviews.roles.role_context",
            ],
        },
    },
]

# --- Database: SQLite under GRM_DATA_DIR unless DATABASE_URL names PostgreSQL (or another SQLite file).
DATABASE_URL = env_url("DATABASE_URL", ("postgres", "postgresql", "sqlite"))
if DATABASE_URL:
    DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=60, conn_health_checks=True)}
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": str(DATA_DIR / "db.sqlite3"),
            # A file, not memory, so that worker processes started by tests share it.
            "TEST": {"NAME": str(DATA_DIR / "test.sqlite3")},
        }
    }
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The web process and the workers write concurrently: WAL plus immediate write transactions
    # make them wait for each other instead of failing with "database is locked".
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"]["OPTIONS"] = {
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 30,
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Cache and Celery: Redis when REDIS_URL is set, else in-process cache and a filesystem broker.
REDIS_URL = env_url("REDIS_URL", ("redis", "rediss"))
if REDIS_URL:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}}
    CELERY_BROKER_URL = REDIS_URL
    CELERY_RESULT_BACKEND = REDIS_URL
    # A task not acknowledged within this time (a worker died mid-batch) is delivered again.
    CELERY_BROKER_TRANSPORT_OPTIONS: dict[str, object] = {
        "visibility_timeout": env_int("GRM_TASK_VISIBILITY_TIMEOUT", 3600, minimum=1)
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    BROKER_DIR = DATA_DIR / "celery" / "broker"
    CELERY_BROKER_URL = "filesystem://localhost//"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(BROKER_DIR),
        "data_folder_out": str(BROKER_DIR),
        "control_folder": str(DATA_DIR / "celery" / "control"),
    }
    CELERY_RESULT_BACKEND = f"file://{DATA_DIR / 'celery' / 'results'}"
    GRM_DATA_FOLDERS += [BROKER_DIR, DATA_DIR / "celery" / "control", DATA_DIR / "celery" / "results"]

CELERY_TASK_DEFAULT_QUEUE = "cpu"
CELERY_TASK_ROUTES = {"workers.tasks.gpu_*": {"queue": "gpu"}}
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_RESULT_EXPIRES = 24 * 3600
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
# The watchdog re-enqueues stalled runs; beat runs inside the CPU worker (`celery worker -B`).
# The watchdog (celery beat): re-sends lost or stalled work, removes orphaned upload files.
CELERY_BEAT_SCHEDULE = {
    "runs-watchdog": {
        "task": "workers.tasks.runs_watchdog",
        "schedule": float(env_int("GRM_WATCHDOG_SECONDS", 60, minimum=1)),
    }
}
CELERY_BEAT_SCHEDULE_FILENAME = str(DATA_DIR / "celerybeat-schedule")

# --- Auth
# With Redis, sessions are read from the cache and kept in the database too: a page's session costs no
# SQL once cached, and none is lost with the cache. Without it, from the database: a cache in each
# process's memory would let a session logged out in one web process live on in the others.
SESSION_ENGINE = "django.contrib.sessions.backends." + ("cached_db" if REDIS_URL else "db")
# Django's model backend, the request user read with its roles in one statement (reviews.roles).
AUTHENTICATION_BACKENDS = ["reviews.roles.RolesBackend"]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"
GRM_ADMIN_USER = env_str("GRM_ADMIN_USER", "admin")

# --- Internationalisation
LANGUAGE_CODE = "en-us"
TIME_ZONE = env_str("GRM_TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

# --- Static and uploaded files
STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(env_str("GRM_STATIC_ROOT", str(DATA_DIR / "staticfiles")))
GRM_DATA_FOLDERS.append(STATIC_ROOT)  # whitenoise warns about a missing one
MEDIA_ROOT = DATA_DIR / "media"
MEDIA_URL = "media/"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}

# --- REST API
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "reviews.api.authentication.BearerTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["reviews.api.permissions.ReadForReviewersWriteForAdmins"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "reviews.api.errors.handle",
    # Failures only (reviews/throttles.py): "N/period", period one of second, minute, hour, day.
    "DEFAULT_THROTTLE_RATES": {
        "login_failures": env_rate("GRM_LOGIN_FAILURES", "10/hour"),
        "token_failures": env_rate("GRM_TOKEN_FAILURES", "30/hour"),
    },
}
SPECTACULAR_SETTINGS = {
    "TITLE": "GRM workbench API",
    "DESCRIPTION": "Datasets, queries, runs, samples and verdicts of the GRM workbench.",
    "VERSION": "1",
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {
        "RunStatusEnum": "reviews.models.Run.Status",
        "UploadStatusEnum": "reviews.models.Upload.Status",
        "CheckpointStatusEnum": "reviews.models.MetaRmCheckpoint.Status",
        "RunMetaStatusEnum": "reviews.models.Run.MetaStatus",
        "ReleaseStatusEnum": "reviews.models.Release.Status",
        "ReleaseKindEnum": "reviews.models.Release.Kind",
        "RunEventKindEnum": "reviews.models.RunEvent.Kind",
        # A reviewer's or an admin's decision (accept, reject) keeps its name beside a sample's (also held).
        "DecisionEnum": "reviews.models.Annotation.Decision",
        "SampleDecisionEnum": "reviews.models.runs.DECISIONS",
    },
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "reviews.api.schema.document_error_responses",
    ],
}

# --- Ingestion limits (shared by the importer command and the upload API)
GRM_MAX_RESPONSES = env_int("GRM_MAX_RESPONSES", 16, minimum=1)
GRM_MAX_TEXT_CHARS = env_int("GRM_MAX_TEXT_CHARS", 200_000, minimum=1)
GRM_UPLOAD_MAX_BYTES = env_int("GRM_UPLOAD_MAX_BYTES", 4 << 30, minimum=1)
GRM_UPLOAD_MAX_ITEMS = env_int("GRM_UPLOAD_MAX_ITEMS", 2_000_000, minimum=1)
# Received upload bodies wait here for the cpu worker: web and workers must share this directory.
GRM_UPLOAD_DIR = Path(env_str("GRM_UPLOAD_DIR", str(DATA_DIR / "uploads")))

# --- Generation defaults
GRM_MODEL = env_str("GRM_MODEL", DEFAULT_MODEL)
GRM_BUILTIN_MODEL = DEFAULT_MODEL  # the small model shipped on PyPI: its runs force scores by default
# A run with no progress for this long is re-enqueued when a worker starts (its worker died).
GRM_RUN_STALL_SECONDS = env_int("GRM_RUN_STALL_SECONDS", 300, minimum=0)
# How often each worker says it is alive (/healthz reports the age of each one's last word).
GRM_WORKER_HEARTBEAT_SECONDS = env_int("GRM_WORKER_HEARTBEAT_SECONDS", 30, minimum=1)

# --- Meta RM: trained checkpoints, and under cache/ the plain backbone copies and cached features they
# start from (shared by the gpu workers).
GRM_METARM_DIR = Path(env_str("GRM_METARM_DIR", str(DATA_DIR / "metarm")))
# Samples per scoring batch: one forward pass each, and one write of their scores.
GRM_METARM_BATCH = env_int("GRM_METARM_BATCH", 64, minimum=1)
# Built releases: one folder per version, never changed once ready (docs/exports.md).
GRM_RELEASE_DIR = Path(env_str("GRM_RELEASE_DIR", str(DATA_DIR / "releases")))
GRM_DATA_FOLDERS.append(GRM_RELEASE_DIR)

# --- Security. GRM_HTTPS (default: on when debug is off) turns on redirects, secure cookies, HSTS.
GRM_HTTPS = env_bool("GRM_HTTPS", not DEBUG)
SECURE_SSL_REDIRECT = GRM_HTTPS
SESSION_COOKIE_SECURE = GRM_HTTPS
CSRF_COOKIE_SECURE = GRM_HTTPS
SECURE_HSTS_SECONDS = env_int("GRM_HSTS_SECONDS", 31_536_000 if GRM_HTTPS else 0, minimum=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = SECURE_HSTS_SECONDS > 0
SECURE_HSTS_PRELOAD = SECURE_HSTS_SECONDS > 0
if env_bool("GRM_BEHIND_PROXY", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_CONTENT_TYPE_NOSNIFF = True
SESSION_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"
# The audit trail (django-auditlog, visible to admins in /admin/auditlog/): who created, changed or deleted
# what, when, with the previous values; kept when the object is deleted. What workers change (progress,
# a run's status as it goes) is left out or has no actor. API calls get theirs in reviews/audit.py.
AUDITLOG_INCLUDE_TRACKING_MODELS = (
    {"model": "reviews.annotation", "m2m_fields": ["failure_modes"]},
    {"model": "reviews.adjudication"},
    {"model": "reviews.apitoken", "include_fields": ["user", "name", "prefix", "revoked_at"]},
    {
        "model": "reviews.run",
        "include_fields": ["dataset", "model_config", "k", "status", "rft_round", "k_meta", "meta_checkpoint"],
    },
    {"model": "reviews.reviewqueue", "exclude_fields": ["item_count", "completed_count"]},
    {"model": "reviews.release", "include_fields": ["name", "version", "kind", "rft_round", "filters", "status"]},
    {"model": "reviews.round"},
    {
        "model": "auth.user",
        "include_fields": ["username", "is_active", "is_staff", "is_superuser", "groups"],
        "m2m_fields": ["groups"],
    },
)

# grmweb/security.py: this site only; no inline script or style, no eval, no framing. `data:` images and
# fonts: the API docs' and KaTeX's stylesheets embed some.
GRM_CSP: dict[str, list[str]] = {
    "default-src": ["'self'"],
    "script-src": ["'self'"],
    "style-src": ["'self'"],
    "img-src": ["'self'", "data:"],
    "font-src": ["'self'", "data:"],
    "connect-src": ["'self'"],
    "object-src": ["'none'"],
    "base-uri": ["'self'"],
    "form-action": ["'self'"],
    "frame-ancestors": ["'none'"],
}

# One JSON object per line (python-json-logger: time in UTC ISO 8601, level, logger, message, process,
# exc_info, and the request, task, run, upload, release or checkpoint ids of grmweb/logcontext.py), or
# GRM_LOG_FORMAT=plain for a person reading a terminal (`make run`'s logs).
GRM_LOG_FORMAT = env_choice("GRM_LOG_FORMAT", ("json", "plain"), "json")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"context": {"()": "grmweb.logcontext.ContextFilter"}},
    "formatters": {
        "plain": {
            "class": "grmweb.logcontext.PlainFormatter",
            "format": "%(asctime)s %(levelname)s %(name)s: %(message)s",
        },
        "json": {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "fmt": "%(levelname)s %(name)s %(message)s %(process)d",
            "rename_fields": {"levelname": "level", "name": "logger"},
            "timestamp": "time",
        },
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": GRM_LOG_FORMAT, "filters": ["context"]},
    },
    "root": {"handlers": ["console"], "level": env_str("GRM_LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}
