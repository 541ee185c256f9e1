"""ICTMS settings: one module, read from environment variables (every one is in .env.example).

With nothing set this is the embedded default: SQLite and files under var/, Celery tasks run
eagerly in-process, development mode on (the DEBUG variable). DATABASE_URL, REDIS_URL and the
storage variables switch to real services; DEBUG=0 switches on the production security settings.

The DEBUG variable sets DEV_MODE, not Django's DEBUG: users see the product's own error pages in
every mode. Django's technical pages (every URL pattern, tracebacks) need ICTMS_DEBUG_PAGES=1.
"""
from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import socket
from ipaddress import ip_network
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from ictms.lib.env import env_bool, env_int, env_list, env_str, public_url, url_host

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env_str("ICTMS_VAR_DIR", str(BASE_DIR / "var")))

# Development (embedded) mode: a generated secret key, cookies over plain HTTP, seed_demo allowed.
DEV_MODE = env_bool("DEBUG", True)
# Django's DEBUG only shows the technical 404/500 pages (and static files from the apps): a developer's opt-in.
DEBUG = env_bool("ICTMS_DEBUG_PAGES", False)


def _secret_key() -> str:
    key = env_str("SECRET_KEY")
    if key:
        return key
    if not DEV_MODE:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off")
    # Embedded mode: keep one random key under var/ so sessions survive a restart.
    path = VAR_DIR / "secret_key"
    if not path.exists():
        VAR_DIR.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(50))
        path.chmod(0o600)
    return path.read_text().strip()


SECRET_KEY = _secret_key()
# The key of the audit trail's hashes (HMAC-SHA-256), kept outside the database; derived from SECRET_KEY
# unless set. Changing it makes every earlier event fail verification: set it once and back it up.
AUDIT_HMAC_KEY = env_str("AUDIT_HMAC_KEY") or hmac.new(SECRET_KEY.encode(), b"ictms audit chain", hashlib.sha256).hexdigest()
# Events up to this seq may carry the plain SHA-256 of installations from before keyed hashing.
AUDIT_UNKEYED_UNTIL = env_int("AUDIT_UNKEYED_UNTIL", 0)
# Append-only file of the chain's head after every commit (audit.checkpoint); verify_audit reads it.
AUDIT_CHECKPOINT_FILE = Path(env_str("AUDIT_CHECKPOINT_FILE", str(VAR_DIR / "audit" / "checkpoints.log")))
# Links in e-mails: SITE_URL (the configured public address), else where `make run` serves (HOST/PORT,
# passed as ICTMS_HOST/ICTMS_PORT), so an invitation never points to another server.
SITE_URL = public_url(env_str("SITE_URL"), env_str("ICTMS_HOST", "127.0.0.1"), env_str("ICTMS_PORT", "8000"),
                      hostname=socket.gethostname())
# Cross-origin DICOMweb (OHIF served from another origin): off unless origins are listed; /dicomweb/ only.
CORS_ALLOWED_ORIGINS = env_list("CORS_ALLOWED_ORIGINS", [])
CORS_URLS_REGEX = r"^/dicomweb/.*$"
CORS_EXPOSE_HEADERS = ["Content-Type", "Content-Length", "Warning"]
# Whether SITE_URL was set (a public address behind a proxy): DICOMweb then builds its absolute URIs on it.
SITE_URL_CONFIGURED = bool(env_str("SITE_URL"))
# The default answers to the local names and to the host of SITE_URL.
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", list(dict.fromkeys(
    ["127.0.0.1", "localhost", "[::1]", "testserver", url_host(SITE_URL)])))
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "guardian",
    "simple_history",
    "axes",
    "corsheaders",
    "audit",
    "trials",
    "imaging",
    "reads",
    "ictms",  # the project itself: seed_demo, which spans every app
]

MIDDLEWARE = [
    "ictms.lib.csp.ContentSecurityPolicyMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "ictms.lib.uploads.RequestSizeLimitMiddleware",
    "corsheaders.middleware.CorsMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "simple_history.middleware.HistoryRequestMiddleware",
    "ictms.lib.request_context.RequestContextMiddleware",
    # Axes must be last: it turns a lockout raised during authentication into a response.
    "axes.middleware.AxesMiddleware",
]

# Content-Security-Policy of every response: ictms.lib.csp.DEFAULT_POLICY, unless CONTENT_SECURITY_POLICY
# is set here to another {directive: sources} dict.

ROOT_URLCONF = "ictms.urls"
WSGI_APPLICATION = "ictms.wsgi.application"

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
                "trials.context_processors.memberships",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------------
DATABASE_URL = env_str("DATABASE_URL")
if DATABASE_URL:
    DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=env_int("DB_CONN_MAX_AGE", 60))}
else:
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": VAR_DIR / "db.sqlite3",
            "OPTIONS": {
                # IMMEDIATE takes the write lock when a transaction starts, so two writers never
                # deadlock upgrading a read lock (the audit hash chain reads, then appends).
                "transaction_mode": "IMMEDIATE",
                "timeout": 30,
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            },
            # A file, not the in-memory default: the browser tests' live server answers several
            # requests at once, and threads sharing one in-memory connection lock each other out.
            # One file per test process, so concurrent runs on one machine do not share it.
            "TEST": {"NAME": VAR_DIR / f"test-db-{os.getpid()}.sqlite3"},
        }
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Celery ----------------------------------------------------------------------------------
REDIS_URL = env_str("REDIS_URL")
# Embedded: an in-memory broker that is never used (tasks run eagerly); its host is named so kombu does not warn.
CELERY_BROKER_URL = REDIS_URL or "memory://localhost/"
CELERY_RESULT_BACKEND = REDIS_URL or None
CELERY_TASK_ALWAYS_EAGER = not REDIS_URL
CELERY_TASK_EAGER_PROPAGATES = True
# A task is acknowledged only after it finished, and re-queued if its worker dies, so a worker
# killed mid-task loses nothing; tasks are written to be safe to run twice.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# A task taken by a worker that died is redelivered after this many seconds (Redis transport).
# Workers look for such tasks every 10 s (kombu's default looks on every 10th tick, ~100 s).
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": env_int("CELERY_VISIBILITY_TIMEOUT", 900),
    "unacked_restore_interval": 10,
    "unacked_restore_throttle": 1,
}
CELERY_TASK_DEFAULT_QUEUE = env_str("CELERY_QUEUE", "ictms")
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = "UTC"

CACHES = {
    "default": (
        {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}
        if REDIS_URL
        else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
    )
}

# --- Storage ---------------------------------------------------------------------------------
# De-identified images live in the default storage; it is never served directly, only through
# permission-checked views. Identified originals wait in the quarantine directory, outside it.
MEDIA_ROOT = Path(env_str("ICTMS_MEDIA_ROOT", str(VAR_DIR / "storage")))
MEDIA_URL = "/media-not-served/"
QUARANTINE_DIR = Path(env_str("ICTMS_QUARANTINE_DIR", str(VAR_DIR / "quarantine")))
UPLOAD_TMP_DIR = Path(env_str("ICTMS_UPLOAD_TMP_DIR", str(VAR_DIR / "uploads")))
AWS_STORAGE_BUCKET_NAME = env_str("AWS_STORAGE_BUCKET_NAME")
if AWS_STORAGE_BUCKET_NAME:
    _default_storage = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": AWS_STORAGE_BUCKET_NAME,
            "endpoint_url": env_str("AWS_S3_ENDPOINT_URL") or None,
            "region_name": env_str("AWS_S3_REGION_NAME") or None,
            "access_key": env_str("AWS_ACCESS_KEY_ID") or None,
            "secret_key": env_str("AWS_SECRET_ACCESS_KEY") or None,
            "default_acl": "private",
            "querystring_auth": True,
            # Keys are deterministic (de-identified UIDs): a redelivered task rewrites the same bytes.
            "file_overwrite": True,
        },
    }
else:
    _default_storage = {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        # Keys are deterministic (de-identified UIDs): a redelivered task rewrites the same bytes.
        "OPTIONS": {"location": MEDIA_ROOT, "allow_overwrite": True},
    }
STORAGES = {
    "default": _default_storage,
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEV_MODE
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}
STATIC_URL = "/static/"
STATIC_ROOT = Path(env_str("ICTMS_STATIC_ROOT", str(VAR_DIR / "static")))
STATICFILES_DIRS = [BASE_DIR / "static"]
# WhiteNoise serves from here after collectstatic; it warns on every request if it is missing.
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
# In development mode WhiteNoise serves the files straight from static/ and the apps (no collectstatic),
# picking up edits, whatever Django's DEBUG is; a deployment serves the collected, hashed files.
WHITENOISE_USE_FINDERS = DEV_MODE
WHITENOISE_AUTOREFRESH = DEV_MODE
UPLOAD_TMP_DIR.mkdir(parents=True, exist_ok=True)

# Upload limits (per file, and for zip archives: total expanded size, members, compression ratio).
UPLOAD_MAX_FILE_MB = env_int("UPLOAD_MAX_FILE_MB", 4096)
# A whole request body (a multipart batch, one resumable chunk): refused with 413 while it streams.
UPLOAD_MAX_REQUEST_MB = env_int("UPLOAD_MAX_REQUEST_MB", UPLOAD_MAX_FILE_MB + 16)
# Crash recovery (imaging.intake.recovery): a file queued this long ago and still waiting is queued
# again, up to INTAKE_MAX_ATTEMPTS times, then refused; every few minutes on Celery beat.
INTAKE_STUCK_MINUTES = env_int("INTAKE_STUCK_MINUTES", 15)
INTAKE_MAX_ATTEMPTS = env_int("INTAKE_MAX_ATTEMPTS", 3)
# CPU seconds a worker may spend de-identifying one file before it is refused (imaging.deid.budget).
INTAKE_FILE_CPU_SECONDS = env_int("INTAKE_FILE_CPU_SECONDS", 120)
# An invitation of an existing account to a trial can be accepted for this many days; pending ones
# past it are marked expired hourly on Celery beat (and refused at once by the accept page).
INVITATION_EXPIRY_DAYS = env_int("INVITATION_EXPIRY_DAYS", 14)
CELERY_BEAT_SCHEDULE = {
    "intake-recover": {"task": "imaging.intake.tasks.intake_recover_task",
                       "schedule": env_int("INTAKE_RECOVER_EVERY_SECONDS", 300)},
    "invitations-expire": {"task": "trials.tasks.invitations_expire_task", "schedule": 3600},
}
ZIP_MAX_TOTAL_MB = env_int("ZIP_MAX_TOTAL_MB", 16384)
ZIP_MAX_MEMBERS = env_int("ZIP_MAX_MEMBERS", 50000)
ZIP_MAX_RATIO = env_int("ZIP_MAX_RATIO", 200)
UPLOAD_CHUNK_MB = env_int("UPLOAD_CHUNK_MB", 8)
# Multipart uploads spill to disk here (identified data: not the shared /tmp), and a script may
# send many files in one request.
FILE_UPLOAD_TEMP_DIR = str(UPLOAD_TMP_DIR)
FILE_UPLOAD_HANDLERS = ["ictms.lib.uploads.LargeChunkTemporaryFileUploadHandler"]
DATA_UPLOAD_MAX_NUMBER_FILES = 2000

# --- E-mail ----------------------------------------------------------------------------------
EMAIL_BACKEND = env_str("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
EMAIL_HOST = env_str("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "ICTMS <ictms@localhost>")

# --- Authentication and login security ---------------------------------------------------------
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
    "guardian.backends.ObjectPermissionBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": env_int("PASSWORD_MIN_LENGTH", 12)},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"
# Idle timeout: the session expires SESSION_TIMEOUT_MINUTES after the last request.
SESSION_COOKIE_AGE = env_int("SESSION_TIMEOUT_MINUTES", 30) * 60
SESSION_SAVE_EVERY_REQUEST = True
# A personal API token (POST /api/auth/token/, the account's token page) works for this many days after
# it was issued, then is refused and deleted; a password change, deactivation or lockout revokes it at once.
API_TOKEN_EXPIRY_DAYS = env_int("API_TOKEN_EXPIRY_DAYS", 30)
if API_TOKEN_EXPIRY_DAYS < 1:
    raise ImproperlyConfigured("API_TOKEN_EXPIRY_DAYS must be at least 1")
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_HTTPONLY = False  # the pages' JavaScript reads it to send X-CSRFToken
# Lockout (ictms.lib.lockout): LOGIN_FAILURE_LIMIT failures for one account from one client address
# lock that account from that address only (so nobody can lock a colleague out from elsewhere, and
# many users of one hospital behind a shared NAT address do not lock each other out); an address
# that fails LOGIN_ADDRESS_FAILURE_LIMIT times within the cool-off, across any accounts, is refused
# as a whole (password spraying). The address is the audit trail's (client_ip_from_request).
AXES_FAILURE_LIMIT = env_int("LOGIN_FAILURE_LIMIT", 5)
LOGIN_ADDRESS_FAILURE_LIMIT = env_int("LOGIN_ADDRESS_FAILURE_LIMIT", 20)
AXES_COOLOFF_TIME = env_int("LOGIN_LOCKOUT_MINUTES", 30) / 60  # hours
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_HANDLER = "ictms.lib.lockout.LockoutHandler"
AXES_CLIENT_IP_CALLABLE = "ictms.lib.request_context.client_ip_from_request"
# Attempts refused during a lockout test no password: they neither count nor extend the lock.
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_VERBOSE = False
GUARDIAN_RAISE_403 = False
ANONYMOUS_USER_NAME = None  # guardian: no anonymous user object; anonymous clients get nothing

SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
if not DEV_MODE:
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", True)
    SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", True)
if env_bool("BEHIND_TLS_PROXY", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# The reverse proxies (addresses or networks) whose X-Forwarded-For names the client: the address
# the audit trail records and the login lockout counts by (ictms.lib.request_context).
TRUSTED_PROXIES = env_list("TRUSTED_PROXIES", [])
for _proxy in TRUSTED_PROXIES:
    try:
        ip_network(_proxy, strict=False)
    except ValueError as exc:
        raise ImproperlyConfigured(f"TRUSTED_PROXIES: {_proxy!r} is not an address or network") from exc

# --- REST API --------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "ictms.tokens.ExpiringTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_PAGINATION_CLASS": "ictms.lib.api.BoundedLimitOffsetPagination",
    "PAGE_SIZE": 100,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "ictms.lib.api.exception_handler",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "ICTMS API",
    "DESCRIPTION": "Imaging clinical trial management system. Resource names are fixed by docs/api.md.",
    "VERSION": "0.1.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # The schema and its docs page are for signed-in users (and scripts with a token) only.
    "SERVE_PERMISSIONS": ["rest_framework.permissions.IsAuthenticated"],
    "COMPONENT_SPLIT_REQUEST": True,
    # Swagger UI assets come from the installed sidecar package, never from a CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "ENUM_NAME_OVERRIDES": {
        "TrialStatusEnum": "trials.choices.TrialStatus",
        "ParticipantStatusEnum": "trials.choices.ParticipantStatus",
        "VisitStateEnum": "trials.choices.VisitState",
        "RoleEnum": "trials.choices.Role",
        "QueryStateEnum": "imaging.choices.QueryState",
        "QcReasonEnum": "imaging.choices.QcReason",
        "AdjudicationReasonEnum": "reads.choices.AdjudicationReason",
    },
}

# --- Product settings ---------------------------------------------------------------------------
ICTMS_DEMO_PASSWORD = "ictms-demo"  # noqa: S105  (the demo users' published password; seed_demo refuses outside DEV_MODE)

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}
