"""All settings, read from the environment.

With no environment at all the project runs locally on `db.sqlite3` with DEBUG off.
Production needs only environment variables (see README, "Configuration").
"""

from email.utils import parseaddr
from pathlib import Path
from urllib.parse import urlsplit

import environ
from django.core.exceptions import ImproperlyConfigured
from django.utils.csp import CSP

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
if env.bool("READ_DOT_ENV", default=True) and (BASE_DIR / ".env").exists():
    environ.Env.read_env(BASE_DIR / ".env")

DEBUG = env.bool("DEBUG", default=False)

# A fixed development key keeps local sessions valid across restarts; `check --deploy`
# flags it (security.W009), so production must set SECRET_KEY.
SECRET_KEY = env.str("SECRET_KEY", default="django-insecure-local-development-key-only")
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

# HTTPS=true turns on everything a site served over TLS needs; each piece can be tuned.
HTTPS = env.bool("HTTPS", default=False)
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=HTTPS)
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=HTTPS)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=HTTPS)
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31_536_000 if HTTPS else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=HTTPS)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=HTTPS)
# Behind our own TLS-terminating proxy: trust its X-Forwarded-Proto, and its
# X-Forwarded-For for the client address that sign-in protection counts.
BEHIND_PROXY = env.bool("BEHIND_PROXY", default=False)
if BEHIND_PROXY:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True

# Security headers
# Content Security Policy, sent by Django's middleware on every response (pages and API).
# Our pages load everything from this site and carry no inline script or style (htmx's
# indicator styles are off, JSON data goes through json_script, which is not executed).
SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF],
    "style-src": [CSP.SELF],
    "img-src": [CSP.SELF, "data:"],
    "font-src": [CSP.SELF],
    "connect-src": [CSP.SELF],
    "frame-ancestors": [CSP.NONE],
    "base-uri": [CSP.SELF],
    "object-src": [CSP.NONE],
}

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django_htmx",
    # Serves the API docs' Swagger UI from our static files (no CDN) under the CSP.
    "ninja",
    "core",
    "organizations",
    "customers",
    "orders",
    "checkouts",
    "webhooks",
    "activity",
    "imports",
    # Customer sessions and the customer portal API.
    "portal",
    # Metrics over time: the metrics API and the overview page.
    "analytics",
    "accounts",
    # seed_demo and seed_scale: above every app they fill.
    "demo",
]

MIDDLEWARE = [
    # Security headers first, so every response below (a 503 included) carries them.
    "django.middleware.security.SecurityMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    "core.observability.RequestLogMiddleware",
    "core.outage.DatabaseOutageMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # Only with DATABASE_REPLICA_URLS: which of the request's reads a replica may serve.
    "core.replicas.ReplicaReadsMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "core.middleware.RejectNulCharactersMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "core.middleware.ActingMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "organizations.idempotency.IdempotencyMiddleware",
    "core.middleware.GoneRowIsNotFoundMiddleware",
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
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]
# Every form field as one grid cell: label above (no colon), control, error, focus.
FORM_RENDERER = "core.form_layout.DashboardFormRenderer"


def _database_from_env() -> dict:
    """Parse DATABASE_URL, failing at start with a message that names the problem."""
    url = env.str("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")
    scheme = urlsplit(url).scheme
    if scheme not in {"sqlite", "postgres", "postgresql", "pgsql"}:
        raise ImproperlyConfigured(
            f"DATABASE_URL must start with postgres:// or sqlite:///, got scheme {scheme!r}."
        )
    try:
        config = environ.Env.db_url_config(url)
    except Exception as exc:
        raise ImproperlyConfigured(f"DATABASE_URL is malformed: {exc}") from exc
    if config["ENGINE"] == "django.db.backends.sqlite3":
        if not config.get("NAME"):
            raise ImproperlyConfigured("DATABASE_URL for SQLite needs a file path.")
        config["OPTIONS"] = {
            # IMMEDIATE takes the write lock at BEGIN, so concurrent writers queue instead
            # of failing with "database is locked" halfway through a transaction.
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        }
        return config
    if not config.get("NAME"):
        raise ImproperlyConfigured("DATABASE_URL for PostgreSQL needs a database name.")
    return _postgres_connection(config)


def _postgres_connection(config: dict) -> dict:
    """How the app holds its PostgreSQL connections, the same for the primary and replicas.

    Several hosts (`postgres://app@db1,db2/customers?target_session_attrs=read-write`) are
    libpq's failover: it tries them in order and keeps the first that is the primary, so
    after a promotion the next connection finds the new one. `connect_timeout` (5 s unless
    the URL says) bounds the wait on a host that does not answer at all.
    """
    options = config.setdefault("OPTIONS", {})
    options.setdefault("connect_timeout", 5)
    if env.bool("DATABASE_PGBOUNCER", default=False):
        # PgBouncer in transaction pooling hands each transaction any server connection:
        # nothing may outlive a transaction. psycopg must not prepare statements (PgBouncer
        # before 1.21 cannot route them) and querysets' .iterator() must not open WITH HOLD
        # server-side cursors.
        options["prepare_threshold"] = None
        config["DISABLE_SERVER_SIDE_CURSORS"] = True
    if env.bool("DATABASE_POOL", default=False):
        # psycopg's pool replaces persistent connections; Django forbids using both.
        config["OPTIONS"] = {**config.get("OPTIONS", {}), "pool": True}
        config["CONN_MAX_AGE"] = 0
    else:
        config["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
    config["CONN_HEALTH_CHECKS"] = True
    return config


DATABASES = {"default": _database_from_env()}


def _replicas_from_env() -> dict:
    """DATABASE_REPLICA_URLS (comma-separated) adds read replicas, `replica_1`, `replica_2`
    ...; core/replicas.py decides which reads they serve."""
    urls = env.list("DATABASE_REPLICA_URLS", default=[])
    if urls and DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql":
        raise ImproperlyConfigured("DATABASE_REPLICA_URLS needs a PostgreSQL DATABASE_URL.")
    replicas = {}
    for number, url in enumerate(urls, start=1):
        if urlsplit(url).scheme not in {"postgres", "postgresql", "pgsql"}:
            raise ImproperlyConfigured(
                f"DATABASE_REPLICA_URLS entry {number} must start with postgres://, got {url!r}."
            )
        try:
            config = environ.Env.db_url_config(url)
        except Exception as exc:
            raise ImproperlyConfigured(f"DATABASE_REPLICA_URLS entry {number}: {exc}") from exc
        if not config.get("NAME"):
            raise ImproperlyConfigured(f"DATABASE_REPLICA_URLS entry {number} needs a database.")
        # Tests on one database see the replica as the primary itself.
        config["TEST"] = {"MIRROR": "default"}
        replicas[f"replica_{number}"] = _postgres_connection(config)
    return replicas


DATABASES |= _replicas_from_env()
if len(DATABASES) > 1:
    DATABASE_ROUTERS = ["core.replicas.ReplicaRouter"]
# After a write, the client (session, portal cookie, API token) reads from the primary for
# this long; a replica further behind than REPLICA_MAX_LAG_SECONDS is skipped; each process
# measures each replica at most every REPLICA_CHECK_SECONDS.
REPLICA_STICKY_SECONDS = env.float("REPLICA_STICKY_SECONDS", default=5.0)
REPLICA_MAX_LAG_SECONDS = env.float("REPLICA_MAX_LAG_SECONDS", default=5.0)
REPLICA_CHECK_SECONDS = env.float("REPLICA_CHECK_SECONDS", default=1.0)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "login"

# Sign-in protection
# Failed sign-ins are counted per username and per client address over a window; each
# failure after the first makes the next try wait a little longer (refused at once with a
# 429 and Retry-After if it comes early: no request ever sleeps), and reaching a limit
# locks that username or address (even with the right password) for a while.
SIGN_IN_WINDOW_MINUTES = env.int("SIGN_IN_WINDOW_MINUTES", default=15)
SIGN_IN_USERNAME_MAX_FAILURES = env.int("SIGN_IN_USERNAME_MAX_FAILURES", default=5)
SIGN_IN_ADDRESS_MAX_FAILURES = env.int("SIGN_IN_ADDRESS_MAX_FAILURES", default=20)
SIGN_IN_LOCK_MINUTES = env.int("SIGN_IN_LOCK_MINUTES", default=15)
SIGN_IN_SLOWDOWN_SECONDS = env.float("SIGN_IN_SLOWDOWN_SECONDS", default=0.5)
SIGN_IN_SLOWDOWN_MAX_SECONDS = env.float("SIGN_IN_SLOWDOWN_MAX_SECONDS", default=3.0)

LANGUAGE_CODE = "en-us"
TIME_ZONE = env.str("TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
# Where collectstatic (run by scripts/serve.sh) puts the files whitenoise serves.
STATIC_ROOT = env.path("STATIC_ROOT", default=BASE_DIR / "staticfiles")
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if not DEBUG
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
# Tests and `runserver` without collectstatic must still find files through the finders.
WHITENOISE_USE_FINDERS = env.bool("WHITENOISE_USE_FINDERS", default=DEBUG)

# The public address of this site, for links in webhook payloads (checkout URLs).
SITE_URL = env.str("SITE_URL", default="http://127.0.0.1:8000").rstrip("/")

# Webhooks: private, loopback and link-local targets are refused unless allowed (the demo
# and the tests allow them; production should not).
WEBHOOKS_ALLOW_PRIVATE_URLS = env.bool("WEBHOOKS_ALLOW_PRIVATE_URLS", default=False)
WEBHOOK_TIMEOUT_SECONDS = env.float("WEBHOOK_TIMEOUT_SECONDS", default=10.0)
# An endpoint is disabled automatically only once every attempt to it has failed for this
# long (and at least WEBHOOK_DISABLE_MIN_ATTEMPTS times): a burst of 500s never disables it.
WEBHOOK_DISABLE_AFTER_HOURS = env.float("WEBHOOK_DISABLE_AFTER_HOURS", default=72.0)
WEBHOOK_DISABLE_MIN_ATTEMPTS = env.int("WEBHOOK_DISABLE_MIN_ATTEMPTS", default=10)
# Events waiting for a disabled endpoint longer than this are marked expired when it is
# enabled again (shown in its log, and redeliverable) instead of being sent.
WEBHOOK_RETENTION_DAYS = env.int("WEBHOOK_RETENTION_DAYS", default=30)


def _audit_retention_days() -> int | None:
    """Timeline entries older than this many days are removed by `manage.py purge_audit`
    (run it from cron); empty or unset keeps them forever."""
    raw = env.str("AUDIT_RETENTION_DAYS", default="").strip()
    if not raw:
        return None
    if not raw.isdigit() or int(raw) < 1:
        raise ImproperlyConfigured(
            f"AUDIT_RETENTION_DAYS must be a positive whole number of days, or empty to keep "
            f"every entry; it is {raw!r}."
        )
    return int(raw)


AUDIT_RETENTION_DAYS = _audit_retention_days()

# Uploaded files (CSV imports) are kept here; several nodes need it on shared storage.
MEDIA_ROOT = env.path("MEDIA_ROOT", default=BASE_DIR / "media")
# The largest CSV an import takes (2 GB); a larger upload is refused as it streams in.
IMPORT_MAX_BYTES = env.int("IMPORT_MAX_BYTES", default=2 * 1024**3)
if IMPORT_MAX_BYTES <= 0:
    raise ImproperlyConfigured("IMPORT_MAX_BYTES must be a positive number of bytes.")
# Rows per batch: each is one transaction of the apply (and the unit a resumed one redoes).
IMPORT_BATCH_ROWS = env.int("IMPORT_BATCH_ROWS", default=2_000)
if not 1 <= IMPORT_BATCH_ROWS <= 10_000:
    raise ImproperlyConfigured("IMPORT_BATCH_ROWS must be between 1 and 10000.")

# Checkouts: how long a buyer has to pay, and who takes the money.
CHECKOUT_TTL_SECONDS = env.int("CHECKOUT_TTL_SECONDS", default=3600)
# How long a customer session (the customer portal's token) lasts.
CUSTOMER_SESSION_TTL_SECONDS = env.int("CUSTOMER_SESSION_TTL_SECONDS", default=3600)
if CUSTOMER_SESSION_TTL_SECONDS <= 0:
    raise ImproperlyConfigured("CUSTOMER_SESSION_TTL_SECONDS must be a positive number.")
# The portal's sign-in by emailed code: codes asked per email, and codes asked or entered
# per client address, each an hour.
PORTAL_SIGN_IN_CODES_PER_EMAIL_PER_HOUR = env.int(
    "PORTAL_SIGN_IN_CODES_PER_EMAIL_PER_HOUR", default=5
)
PORTAL_SIGN_IN_REQUESTS_PER_ADDRESS_PER_HOUR = env.int(
    "PORTAL_SIGN_IN_REQUESTS_PER_ADDRESS_PER_HOUR", default=20
)
if min(PORTAL_SIGN_IN_CODES_PER_EMAIL_PER_HOUR, PORTAL_SIGN_IN_REQUESTS_PER_ADDRESS_PER_HOUR) < 1:
    raise ImproperlyConfigured("The PORTAL_SIGN_IN_* limits must be at least 1.")
PAYMENT_PROCESSOR = env.str("PAYMENT_PROCESSOR", default="checkouts.payments.TestModeProcessor")
# Renewals: a declined renewal is retried this often, this many times, before the
# subscription ends as unpaid.
RENEWAL_RETRY_HOURS = env.int("RENEWAL_RETRY_HOURS", default=24)
RENEWAL_MAX_ATTEMPTS = env.int("RENEWAL_MAX_ATTEMPTS", default=4)


# Email: apps queue messages in core's outbox (core.emails.email_send) and the worker
# (`run_jobs`, job "emails") sends them through Django's default mailer, which EMAIL_URL
# describes. Django 6.1 configures mail with MAILERS (the EMAIL_HOST family is deprecated
# and refused beside it), so django-environ's parse of the URL becomes the mailer's options.
def mailer_from_email_url(url: str, *, timeout: float) -> dict:
    """The default mailer (a MAILERS entry) for an EMAIL_URL such as
    `smtp+tls://user:pass@smtp.example.com:587` or `consolemail://`; ImproperlyConfigured
    naming the problem when the URL cannot be used."""
    # smtp+tls is STARTTLS (port 587), smtp+ssl TLS from the first byte (465). No `smtps`:
    # django-environ reads it as STARTTLS, which is not what the name says elsewhere.
    schemes = ["smtp", "smtp+tls", "smtp+ssl", "consolemail", "memorymail", "dummymail"]
    scheme = urlsplit(url).scheme
    if scheme not in schemes:
        raise ImproperlyConfigured(
            f"EMAIL_URL must start with one of {', '.join(f'{s}://' for s in schemes)} "
            f"(e.g. smtp+tls://user:password@host:587), got scheme {scheme!r}."
        )
    if urlsplit(url).query:
        raise ImproperlyConfigured("EMAIL_URL takes no query options; the scheme sets TLS.")
    try:
        config = environ.Env.email_url_config(url)
    except ValueError as exc:  # a port that is not a number
        raise ImproperlyConfigured(f"EMAIL_URL is malformed: {exc}") from exc
    mailer = {"BACKEND": config["EMAIL_BACKEND"]}
    if not scheme.startswith("smtp"):
        return mailer  # the console, memory and dummy backends take no options
    if not config["EMAIL_HOST"]:
        raise ImproperlyConfigured("EMAIL_URL for SMTP needs a host: smtp://host:25.")
    options = {
        "host": config["EMAIL_HOST"],
        "use_tls": bool(config.get("EMAIL_USE_TLS")),
        "use_ssl": bool(config.get("EMAIL_USE_SSL")),
        "timeout": timeout,
    }
    if config["EMAIL_PORT"]:
        options["port"] = config["EMAIL_PORT"]  # else 25, 587 (TLS) or 465 (SSL)
    if config["EMAIL_HOST_USER"]:
        options["username"] = config["EMAIL_HOST_USER"]
        options["password"] = config["EMAIL_HOST_PASSWORD"] or ""
    return {**mailer, "OPTIONS": options}


# Seconds each step of talking to the SMTP server may take (connecting, each command).
EMAIL_TIMEOUT_SECONDS = env.float("EMAIL_TIMEOUT", default=10.0)
if EMAIL_TIMEOUT_SECONDS <= 0:
    raise ImproperlyConfigured("EMAIL_TIMEOUT must be a positive number of seconds.")
MAILERS = {
    "default": mailer_from_email_url(
        env.str("EMAIL_URL", default="consolemail://"), timeout=EMAIL_TIMEOUT_SECONDS
    )
}
# The sender's address; an email sent for a merchant shows the merchant's name with it
# ("Acme <noreply@example.com>") and their own reply-to address.
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="Customers <noreply@localhost>")
if "@" not in parseaddr(DEFAULT_FROM_EMAIL)[1]:
    raise ImproperlyConfigured(
        f"DEFAULT_FROM_EMAIL must be an address such as noreply@example.com or "
        f"'Customers <noreply@example.com>', got {DEFAULT_FROM_EMAIL!r}."
    )

# BENCH=true mounts the benchmark's framework-floor view at /bench/ (bench/floor.py).
BENCH = env.bool("BENCH", default=False)

# Caches hold the API's rate-limit counters: local memory by default (one process),
# Redis when several processes or machines serve the app: CACHE_URL=redis://host:6379/0
CACHES = {"default": env.cache_url("CACHE_URL", default="locmemcache://")}
API_RATE_LIMIT_PER_MINUTE = env.int("API_RATE_LIMIT_PER_MINUTE", default=600)
API_CLIENT_RATE_LIMIT_PER_MINUTE = env.int("API_CLIENT_RATE_LIMIT_PER_MINUTE", default=120)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"redact": {"()": "core.observability.RedactSecretsFilter"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "filters": ["redact"]}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    # One line per request from our middleware; Django's own request warnings repeat it.
    "loggers": {"django.request": {"level": "ERROR"}},
}
