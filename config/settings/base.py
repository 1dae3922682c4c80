"""Settings shared by every environment. Values come from the environment through django-environ.

With no environment at all the platform runs embedded: a SQLite file and Celery tasks executed
in-process. `DATABASE_URL` switches to PostgreSQL; `CELERY_BROKER_URL` sends tasks to real workers.
"""

from datetime import timedelta
from pathlib import Path

import environ
from celery.schedules import crontab
from django.utils.translation import gettext_lazy as _

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

DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'db.sqlite3'}")}
DATABASES["default"]["ATOMIC_REQUESTS"] = False  # services own their transactions
DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("DJANGO_CONN_MAX_AGE", default=0))
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

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
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
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
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
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
