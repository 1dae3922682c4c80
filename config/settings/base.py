"""Settings shared by every environment. Values come from the environment through django-environ.

With no environment at all the platform runs embedded: a SQLite file and Celery tasks executed
in-process. `DATABASE_URL` switches to PostgreSQL; `CELERY_BROKER_URL` sends tasks to real workers.
"""

from datetime import timedelta
from pathlib import Path

import environ
from celery.schedules import crontab
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _
from kombu import Exchange, Queue

BASE_DIR = Path(__file__).resolve().parent.parent.parent
env = environ.Env()
if (BASE_DIR / ".env").is_file():
    environ.Env.read_env(BASE_DIR / ".env")

VAR_DIR = Path(env("PLATFORM_VAR_DIR", default=str(BASE_DIR / "var")))

DEBUG = env.bool("DJANGO_DEBUG", default=False)
SECRET_KEY = env("DJANGO_SECRET_KEY", default="")
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["127.0.0.1", "localhost"])

INSTALLED_APPS = [
    "apps.accounts.admin_config.PlatformAdminConfig",  # the admin console, second factor required
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.forms",  # its widget templates, for the project's form renderer (FORM_RENDERER below)
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "guardian",
    "axes",
    "csp",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "django_celery_beat",
    "apps.core",
    "apps.accounts",
    "apps.ledger",
    "apps.organizations",
    "apps.notifications",
    "apps.incidents",
    "apps.tasking",
    "apps.datapool",
    "apps.access",
    "apps.monitoring",
    "apps.reporting",
    "apps.portal",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "apps.core.middleware.RequestIdMiddleware",
    "apps.core.middleware.ReplicaPinMiddleware",  # after a write, lists read the primary (decision 0014)
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",  # request.user.is_verified(): a second factor this session
    "django.contrib.messages.middleware.MessageMiddleware",
    "apps.accounts.middleware.SessionLimitsMiddleware",  # idle and absolute session limits
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",  # sends CONTENT_SECURITY_POLICY where a settings module sets one
    "apps.core.middleware.AccessDeniedMiddleware",
    "axes.middleware.AxesMiddleware",  # last: turns a lockout flagged during the view into the lockout page
]

# Form widgets render through the project's template engine (its cached loader), so the project can
# override a widget template: templates/django/forms/widgets/select.html writes its options inline.
FORM_RENDERER = "django.forms.renderers.TemplatesSetting"

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "apps.portal.context_processors.portal",
            ],
        },
    },
]


def with_session_settings(db: dict, **settings: str) -> dict:
    """`db` with PostgreSQL settings for each of its sessions, passed at connect time (`-c
    name=value` in libpq's options: no extra query per connection). An empty value keeps the
    server's own setting. Other engines are returned unchanged."""
    if db.get("ENGINE") != "django.db.backends.postgresql":
        return db
    options = dict(db.get("OPTIONS", {}))
    extra = " ".join(f"-c {name}={value}" for name, value in settings.items() if value != "")
    options["options"] = f"{options.get('options', '')} {extra}".strip()
    return db | {"OPTIONS": options}


# Parallel query, per process (decision 0015): off by default, so a web or API request's page query
# never waits 10-30 ms for parallel workers to start (the planner's estimates over JSONB filters
# make it start them for pages it serves serially in about 1 ms). Batch workers (ingest, reports)
# may set DATABASE_PARALLEL_WORKERS=2 in their environment; an empty value keeps the server's.
DATABASE_PARALLEL_WORKERS = env("DATABASE_PARALLEL_WORKERS", default="0")
DATABASE_SESSION_SETTINGS = {"max_parallel_workers_per_gather": DATABASE_PARALLEL_WORKERS}

DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'db.sqlite3'}")}
DATABASES["default"]["ATOMIC_REQUESTS"] = False  # services own their transactions
DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("DJANGO_CONN_MAX_AGE", default=0))
DATABASES["default"] = with_session_settings(DATABASES["default"], **DATABASE_SESSION_SETTINGS)
# A streaming read replica (optional, decision 0014). With DATABASE_REPLICA_URL set, reads inside an
# explicit `apps.core.db.replica_reads()` scope (list pages and API lists, report snapshots) go to
# it; everything else, and every read inside a transaction, stays on the primary. The connection is
# opened read-only, so a write that reached it would fail instead of diverging.
DATABASE_REPLICA_URL = env("DATABASE_REPLICA_URL", default="")
if DATABASE_REPLICA_URL:
    DATABASES["replica"] = environ.Env.db_url_config(DATABASE_REPLICA_URL)
    DATABASES["replica"]["CONN_MAX_AGE"] = DATABASES["default"]["CONN_MAX_AGE"]
    DATABASES["replica"] = with_session_settings(
        DATABASES["replica"], default_transaction_read_only="on", **DATABASE_SESSION_SETTINGS
    )
DATABASE_ROUTERS = ["apps.core.db.ReplicaRouter"]  # a no-op without the "replica" alias
# seconds after a write for which that client's lists read the primary (ReplicaPinMiddleware)
DATABASE_REPLICA_PIN_SECONDS = env.int("DATABASE_REPLICA_PIN_SECONDS", default=5)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
# Nothing keeps state in a web process: sessions are in the database; Django's cache is per process
# unless CACHE_URL names a shared one (e.g. redis://cache.internal:6379/1), which several web
# processes behind a proxy should use.
CACHES = {"default": env.cache("CACHE_URL", default="locmemcache://")}

AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",  # first: refuses a locked-out username+address before any password check
    "django.contrib.auth.backends.ModelBackend",
    "guardian.backends.ObjectPermissionBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 12}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "portal:login"
LOGIN_REDIRECT_URL = "portal:dashboard"
LOGOUT_REDIRECT_URL = "portal:login"

# Brute-force lockout (django-axes, docs/decisions/0012): failures count per username AND client
# address together, so an attacker cannot lock a colleague out from elsewhere. Every lockout is an
# `auth.lockout` ledger event (apps.accounts.receivers). Behind reverse proxies set
# DJANGO_TRUSTED_PROXY_COUNT so the address is read from X-Forwarded-For (apps.accounts.lockout).
AUTH_TRUSTED_PROXY_COUNT = env.int("DJANGO_TRUSTED_PROXY_COUNT", default=0)
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("AXES_COOLOFF_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True  # a successful login clears that username+address's failures
AXES_CLIENT_IP_CALLABLE = "apps.accounts.lockout.client_ip"
AXES_LOCKOUT_CALLABLE = "apps.accounts.lockout.lockout_response"
AXES_DISABLE_ACCESS_LOG = True  # successful logins are `auth.login` ledger events already
AXES_ENABLE_ADMIN = False  # unlock with `manage.py axes_reset_username`; the console stays scoped

# Second factor (django-otp, decision 0012): TOTP authenticator apps plus single-use backup codes.
# Required for the admin console and for approving access to sensitive or secret data; optional
# otherwise. The issuer is the name authenticator apps show next to the code.
OTP_TOTP_ISSUER = env("OTP_TOTP_ISSUER", default="跨域应急协同平台")
OTP_ADMIN_HIDE_SENSITIVE_DATA = True

# guardian: grants go to department groups only; no anonymous user row.
ANONYMOUS_USER_NAME = None
GUARDIAN_RAISE_403 = False

LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", "简体中文"), ("en", "English")]
LOCALE_PATHS = [BASE_DIR / "locale"]
# Named date formats per language (config/formats/<lang>/formats.py): 2026年11月24日 under zh-hans.
FORMAT_MODULE_PATH = ["config.formats"]
TIME_ZONE = "Asia/Shanghai"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = VAR_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_URL = "/media/"
MEDIA_ROOT = VAR_DIR / "media"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}
# Stored files (uploads, attachments, reports, archives) go through Django's storage API only, never a
# local path (tests/scaleout/test_object_storage.py). STORAGE_BACKEND=s3 keeps them in S3-compatible
# object storage (MinIO, Ceph RGW on the intranet) through django-storages, so every web and worker
# host sees the same files (decision 0014). The bucket stays private: downloads are streamed by the
# platform after its permission check and ledger entry, never linked.
STORAGE_BACKEND = env("STORAGE_BACKEND", default="filesystem")
if STORAGE_BACKEND == "s3":
    STORAGES["default"] = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": env("AWS_STORAGE_BUCKET_NAME"),
            "endpoint_url": env("AWS_S3_ENDPOINT_URL", default=None),  # e.g. https://minio.internal:9000
            "region_name": env("AWS_S3_REGION_NAME", default=None),
            "access_key": env("AWS_S3_ACCESS_KEY_ID", default=None),
            "secret_key": env("AWS_S3_SECRET_ACCESS_KEY", default=None),
            "location": env("AWS_LOCATION", default=""),  # a key prefix inside the bucket
            "addressing_style": env("AWS_S3_ADDRESSING_STYLE", default="path"),  # MinIO/Ceph: bucket in the path
            "signature_version": "s3v4",
            "verify": env("AWS_S3_CA_BUNDLE", default=None),  # the intranet CA's bundle, if not in the system's
            "default_acl": None,  # objects inherit the bucket's (private) policy
            "file_overwrite": False,  # a name already taken gets a suffix, as on disk
        },
    }
elif STORAGE_BACKEND != "filesystem":
    raise ImproperlyConfigured("STORAGE_BACKEND must be 'filesystem' or 's3'.")

# Sessions (docs/decisions/0012): ended server-side after 30 minutes without activity and 12 hours
# after login whatever the activity (apps.accounts.middleware, which records `auth.session_expired`).
# The cookie and the database row outlive neither; the cookie also goes when the browser closes.
AUTH_SESSION_IDLE_SECONDS = 30 * 60
AUTH_SESSION_MAX_SECONDS = 12 * 60 * 60
AUTH_SESSION_ACTIVITY_RESOLUTION = 60  # seconds: activity is written to the session at most once a minute
SESSION_COOKIE_AGE = AUTH_SESSION_MAX_SECONDS
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
SESSION_COOKIE_SAMESITE = "Lax"  # links from e-mail notifications still arrive logged in
CSRF_COOKIE_SAMESITE = "Strict"
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = False
X_FRAME_OPTIONS = "DENY"
# Content-Security-Policy (django-csp 4, decision 0012): the platform's own assets only; no inline
# scripts, inline styles, eval or framing. data: images only because vendored CSS (Swagger UI) draws
# icons with them. Production sends it (CONTENT_SECURITY_POLICY there); tests/accounts/test_csp.py
# renders pages under it.
CONTENT_SECURITY_POLICY_STRICT = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'none'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    },
}
DATA_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "apps.accounts.authentication.IntegrationKeyAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "apps.core.api.pagination.StandardPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_FILTER_BACKENDS": ["apps.core.api.filters.ApiFilterBackend"],  # boolean filters read strictly
    "DEFAULT_SCHEMA_CLASS": "apps.core.api.schema.ApiAutoSchema",  # documents the error answers of every operation
    "EXCEPTION_HANDLER": "apps.core.api.errors.exception_handler",
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Cross-region Emergency Collaboration API",
    "DESCRIPTION": "Integration API: every call is scoped to the caller's departments.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "SCHEMA_PATH_PREFIX": "/api/v1",
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {
        "MembershipRoleEnum": "apps.core.permissions.Role",
        "LeadingGroupRoleEnum": "apps.organizations.choices.LeadingGroupRole",
        "LeadingGroupKindEnum": "apps.organizations.choices.LeadingGroupKind",
        "DepartmentTypeEnum": "apps.organizations.choices.DepartmentType",
        "RegionLevelEnum": "apps.organizations.choices.RegionLevel",
        "IncidentStatusEnum": "apps.incidents.choices.IncidentStatus",
        "WarningStatusEnum": "apps.incidents.choices.WarningStatus",
        "WarningLevelEnum": "apps.incidents.choices.WarningLevel",
        "ReportKindEnum": "apps.incidents.choices.ReportKind",
        "ClockKindEnum": "apps.incidents.choices.ClockKind",
        "IntakeChannelEnum": "apps.incidents.choices.IntakeChannel",
        "TimelineKindEnum": "apps.incidents.choices.TimelineKind",
        "TaskStatusEnum": "apps.tasking.choices.TaskStatus",
        "IngestionJobStatusEnum": "apps.datapool.choices.JobStatus",
        "DataRequestStatusEnum": "apps.access.choices.RequestStatus",
        "DataDemandStatusEnum": "apps.access.choices.DemandStatus",
        "ClassificationEnum": "apps.datapool.choices.Classification",
        "SourceKindEnum": "apps.datapool.choices.SourceKind",
        "TaskPriorityEnum": "apps.tasking.choices.Priority",
        "TaskEventKindEnum": "apps.tasking.choices.TaskEventKind",
        "TaskActionEnum": "apps.tasking.api.serializers.TASK_ACTIONS",
    },
}

# Celery: embedded (eager) unless a broker is configured.
CELERY_BROKER_URL = env("CELERY_BROKER_URL", default="")
CELERY_TASK_ALWAYS_EAGER = not CELERY_BROKER_URL
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_RESULT_BACKEND = env("CELERY_RESULT_BACKEND", default=None)
CELERY_TIMEZONE = TIME_ZONE
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_TIME_LIMIT = 30 * 60
CELERY_TASK_SOFT_TIME_LIMIT = 25 * 60
# A message whose worker died this many times while running it is dead-lettered on its next
# delivery instead of killing another worker (apps.core.task_base, docs/decisions/0013).
TASK_MAX_DELIVERIES = env.int("TASK_MAX_DELIVERIES", default=5)
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
# Three queues, so each kind of work gets workers (and hosts) of its own (docs/deploy.md, decision
# 0014): `dispatch` is the short, latency-bound work of the emergency response (tasks, incidents'
# reporting clocks, notifications, monitoring, grants, ledger checkpoints); `ingest` the data pool's
# long loads, syncs and linking; `reports` the consolidated reports, reviews and archives. Routed by
# task name, one pattern per app: a new task in an app goes where its app's tasks go, and
# tests/scaleout/test_task_routes.py fails for a task that matches no pattern. A worker started
# without -Q consumes all three (`make worker`); `make worker QUEUES=ingest` consumes one.
CELERY_TASK_QUEUES = tuple(Queue(name, Exchange(name), routing_key=name) for name in ("dispatch", "ingest", "reports"))
CELERY_TASK_DEFAULT_QUEUE = "dispatch"  # anything unrouted (Celery's own tasks) goes where workers always listen
CELERY_TASK_ROUTES = {
    "apps.tasking.tasks.*": {"queue": "dispatch"},
    "apps.incidents.tasks.*": {"queue": "dispatch"},
    "apps.notifications.tasks.*": {"queue": "dispatch"},
    "apps.monitoring.tasks.*": {"queue": "dispatch"},
    "apps.access.tasks.*": {"queue": "dispatch"},
    "apps.ledger.tasks.*": {"queue": "dispatch"},
    "apps.datapool.tasks.*": {"queue": "ingest"},
    "apps.reporting.tasks.*": {"queue": "reports"},
}
CELERY_BEAT_SCHEDULE = {
    "incident-reporting-clocks": {
        "task": "apps.incidents.tasks.clocks_check_task",
        "schedule": crontab(minute="*"),
    },
    "task-escalation": {
        "task": "apps.tasking.tasks.tasks_escalate_task",
        "schedule": crontab(minute="*"),
    },
    "ledger-checkpoint": {
        "task": "apps.ledger.tasks.ledger_checkpoint_task",
        "schedule": crontab(minute="*/10"),
    },
}

# Notifications (docs/decisions/0006): the outbox relay publishes the delivery jobs the web
# process committed (each commit also nudges it at once); the digest goes out every morning.
CELERY_BEAT_SCHEDULE |= {
    "notification-outbox-relay": {
        "task": "apps.notifications.tasks.outbox_relay_task",
        "schedule": 5.0,  # seconds; a run with nothing to publish costs one query
    },
    "notification-daily-digest": {
        "task": "apps.notifications.tasks.digest_send_task",
        "schedule": crontab(hour=7, minute=0),
    },
}

# The data pool: upload limits, the database-sync schedule, and the key that encrypts the
# connection strings of external databases (Fernet; several comma-separated keys rotate: the
# first encrypts, all decrypt). Without one, a key is derived from SECRET_KEY (development only:
# production refuses to start without DATAPOOL_ENCRYPTION_KEYS).
DATAPOOL_MAX_UPLOAD_MB = env.int("DATAPOOL_MAX_UPLOAD_MB", default=512)
DATAPOOL_MAX_XLSX_UNPACKED_MB = env.int("DATAPOOL_MAX_XLSX_UNPACKED_MB", default=1024)
DATAPOOL_MAX_XLSX_CELLS = env.int("DATAPOOL_MAX_XLSX_CELLS", default=50_000_000)
DATAPOOL_MAX_BATCH_RECORDS = env.int("DATAPOOL_MAX_BATCH_RECORDS", default=10_000)
DATAPOOL_ENCRYPTION_KEYS = env.list("DATAPOOL_ENCRYPTION_KEYS", default=[])
FILE_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024  # larger uploads spool to a temporary file, never to memory
CELERY_BEAT_SCHEDULE |= {
    "datapool-sync-due": {
        "task": "apps.datapool.tasks.sync_due_task",
        "schedule": crontab(minute="*"),
    },
    "access-grants-sweep": {
        "task": "apps.access.tasks.grants_sweep_task",
        "schedule": crontab(minute="*/5"),
    },
    "datapool-staged-uploads-purge": {
        "task": "apps.datapool.tasks.staged_uploads_purge_task",
        "schedule": crontab(hour=3, minute=30),
    },
    "datapool-jobs-resume": {
        "task": "apps.datapool.tasks.jobs_resume_task",
        "schedule": crontab(minute="*/5"),
    },
}

# Early warning and reporting: monitoring rules run every minute over the records loaded since
# their last run; consolidated-report schedules are checked every minute (each fires once a day).
CELERY_BEAT_SCHEDULE |= {
    "monitoring-rules-evaluate": {
        "task": "apps.monitoring.tasks.rules_evaluate_task",
        "schedule": crontab(minute="*"),
    },
    "reporting-schedules-run": {
        "task": "apps.reporting.tasks.schedules_run_task",
        "schedule": crontab(minute="*"),
    },
    "reporting-reports-resume": {
        "task": "apps.reporting.tasks.reports_resume_task",
        "schedule": crontab(minute="*/5"),
    },
}

# Ledger checkpoints are signed with Ed25519 and written outside the database.
LEDGER_SIGNING_KEY = env("LEDGER_SIGNING_KEY", default="")
LEDGER_CHECKPOINT_DIR = Path(env("LEDGER_CHECKPOINT_DIR", default=str(VAR_DIR / "ledger-checkpoints")))

vars().update(env.email_url("EMAIL_URL", default="smtp://localhost:25"))
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", default="noreply@localhost")
NOTIFICATIONS_SITE_URL = env("NOTIFICATIONS_SITE_URL", default="")

PORTAL_NAME = _("Cross-region Emergency Collaboration Platform")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env("DJANGO_LOG_LEVEL", default="INFO")},
    # axes logs every login at INFO; lockouts (WARNING) are what matter, and the ledger has the rest
    "loggers": {"axes": {"level": "WARNING"}},
}
