"""Django settings, every one read from an environment variable with an embedded default.

The embedded default (no variables set) is SQLite, the in-memory channel layer and, when no
``FIREWORKS_API_KEY`` is set, the offline emulator on loopback.
"""

import os
from pathlib import Path

import dj_database_url

from playground.secretfile import default_secret_file, local_secret

BASE_DIR = Path(__file__).resolve().parent.parent


def env_bool(name: str, default: bool) -> bool:
    """Read a boolean environment variable ("1", "true", "yes", "on" are true)."""
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


DEBUG = env_bool("DJANGO_DEBUG", False)
# Without DJANGO_SECRET_KEY, a random secret generated on the first run and kept outside the repository
# (mode 0600) in PLAYGROUND_SECRET_FILE, reused on later runs; the app logs which file at startup
# (playground/apps.py). Several processes of one deployment need the same key: set it, or share the file.
PLAYGROUND_SECRET_FILE = ""
PLAYGROUND_SECRET_GENERATED = False
SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "")
if not SECRET_KEY:
    _secret_file = Path(os.environ.get("PLAYGROUND_SECRET_FILE") or default_secret_file()).expanduser()
    SECRET_KEY, PLAYGROUND_SECRET_GENERATED = local_secret(_secret_file)
    PLAYGROUND_SECRET_FILE = str(_secret_file)
ALLOWED_HOSTS = [
    h.strip()
    for h in os.environ.get("DJANGO_ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]").split(",")
    if h.strip()
]
# Encrypts secrets at rest (a workspace's API key); falls back to a derivation from SECRET_KEY (the
# generated one above when DJANGO_SECRET_KEY is unset).
PLAYGROUND_ENCRYPTION_KEY = os.environ.get("PLAYGROUND_ENCRYPTION_KEY", "")
CSRF_TRUSTED_ORIGINS = [
    o.strip() for o in os.environ.get("DJANGO_CSRF_TRUSTED_ORIGINS", "").split(",") if o.strip()
]

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "channels",
    "playground",
    "playground.prompts",
    "playground.evals",
    "playground.pricing",
    "playground.arena",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "playground.middleware.ContentSecurityPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

# --- HTTPS and headers -------------------------------------------------------------------------------
# Every response: a Content-Security-Policy (playground/middleware.py), nosniff, DENY framing and a
# same-origin referrer (Django's defaults).
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
# PLAYGROUND_HTTPS=1: the site is reached over HTTPS only. HTTP is redirected to HTTPS, browsers are told
# to use HTTPS for PLAYGROUND_HSTS_SECONDS (HSTS), and the session and CSRF cookies are Secure.
# PLAYGROUND_BEHIND_PROXY=1: TLS ends at a reverse proxy that sets X-Forwarded-Proto: https (and must
# overwrite that header from clients); it tells Django (and the websocket origin check) the request was
# secure. Leave it unset when nothing in front sets the header, or clients could forge it.
PLAYGROUND_HTTPS = env_bool("PLAYGROUND_HTTPS", False)
if env_bool("PLAYGROUND_BEHIND_PROXY", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
if PLAYGROUND_HTTPS:
    SECURE_SSL_REDIRECT = True
    SECURE_HSTS_SECONDS = int(os.environ.get("PLAYGROUND_HSTS_SECONDS", str(365 * 24 * 3600)))
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("PLAYGROUND_HSTS_INCLUDE_SUBDOMAINS", True)
    SECURE_HSTS_PRELOAD = env_bool("PLAYGROUND_HSTS_PRELOAD", True)  # only matters once submitted
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True

ROOT_URLCONF = "playground.urls"
ASGI_APPLICATION = "playground.asgi.application"

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
                "playground.context_processors.upstream",
                "playground.context_processors.workspaces",
            ],
        },
    },
]

DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL") or f"sqlite:///{BASE_DIR / 'db.sqlite3'}",
        conn_max_age=0,
    )
}
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    # The live-server tests need a file database, never :memory: (testing-notes.md).
    # One file per test process, so two test runs in one checkout never share a database.
    DATABASES["default"]["TEST"] = {"NAME": str(BASE_DIR / f"db.test.{os.getpid()}.sqlite3")}

    # A test database is deleted while its connections are open, so WAL leaves -wal/-shm files behind.
    # A WAL file next to a new database of the same name would be replayed into it: remove this
    # process's (a dead process had this pid) and those of test processes that are gone.
    def _gone(pid: int) -> bool:
        if pid == os.getpid():
            return True
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        except OSError:
            return False
        return False

    # Under pytest-xdist a worker's file is named db.test.<pid>.sqlite3_gw<n>.
    for _stale in BASE_DIR.glob("db.test.*.sqlite3*-*"):
        _pid = _stale.name.split(".")[2]
        if _pid.isdigit() and _gone(int(_pid)):
            _stale.unlink(missing_ok=True)
    # WAL: readers never wait for the writer, and with synchronous=NORMAL a commit is not an fsync
    # (a power cut may lose the last commits, never corrupt the file). Opening and saving a run took
    # ~3 ms each in the default rollback journal, queued on Channels' one database thread (README,
    # "Benchmark"). A test process's file is its own, so its -wal/-shm files are too.
    # IMMEDIATE: a transaction takes the write lock when it begins, so a second writer waits for it
    # (up to "timeout"). A deferred one that read first and then wrote failed at once with "database is
    # locked" when another connection had written in between (WAL keeps its snapshot): a run's save
    # racing the comparison's save from a view's thread lost the run.
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 20,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL",
        "transaction_mode": "IMMEDIATE",
    }
    # Each thread keeps its SQLite connection for a minute (Channels' close_old_connections runs in that
    # thread around every database_sync_to_async call): opening one costs a file open and the pragmas,
    # and closing the last one checkpoints the WAL into the file (an fsync), per call with 0. The
    # threads are few (Channels' database thread and the read pool). PostgreSQL keeps 0 (see README).
    DATABASES["default"]["CONN_MAX_AGE"] = 60
else:
    # One test database per test process on a shared server too (two suites may run at once).
    DATABASES["default"]["TEST"] = {"NAME": f"test_{DATABASES['default']['NAME']}_{os.getpid()}"}

# The channel layer carries live watching (proxy/watch.py). A watcher's socket queues up to
# CHANNEL_CAPACITY messages (about 20 s of one stream at 50 chunks/s) before its frames are dropped.
CHANNEL_CAPACITY = int(os.environ.get("PLAYGROUND_CHANNEL_CAPACITY", "1000"))
REDIS_URL = os.environ.get("REDIS_URL", "")
if REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {
                # redis-py 8 reads with a 5 s socket timeout by default, as long as channels-redis's
                # blocking BZPOPMIN: every idle consumer would crash (django/channels_redis#422).
                "hosts": [{"address": REDIS_URL, "socket_timeout": 15}],
                # Keys start with this; several deployments (or test runs) can share one Redis.
                "prefix": os.environ.get("PLAYGROUND_CHANNEL_PREFIX", "playground"),
                "capacity": CHANNEL_CAPACITY,
                "expiry": 30,
            },
        }
    }
else:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels.layers.InMemoryChannelLayer",
            "CONFIG": {"capacity": CHANNEL_CAPACITY},
        }
    }

CACHES = {
    "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
    # Sign-in and sign-up throttling (playground/throttle.py): shared by every process through Redis
    # when there is one, else per process.
    "throttle": (
        {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": os.environ.get("PLAYGROUND_CHANNEL_PREFIX", "playground") + ":throttle",
        }
        if REDIS_URL
        else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "throttle"}
    ),
}
# Failed sign-ins allowed per account and per client address in PLAYGROUND_LOGIN_WINDOW seconds, and
# sign-up attempts per address in PLAYGROUND_SIGNUP_WINDOW seconds; then HTTP 429 until the window ends.
PLAYGROUND_LOGIN_FAILURES_PER_ACCOUNT = int(os.environ.get("PLAYGROUND_LOGIN_FAILURES_PER_ACCOUNT", "5"))
PLAYGROUND_LOGIN_FAILURES_PER_ADDRESS = int(os.environ.get("PLAYGROUND_LOGIN_FAILURES_PER_ADDRESS", "20"))
PLAYGROUND_LOGIN_WINDOW = int(os.environ.get("PLAYGROUND_LOGIN_WINDOW", "900"))
PLAYGROUND_SIGNUPS_PER_ADDRESS = int(os.environ.get("PLAYGROUND_SIGNUPS_PER_ADDRESS", "10"))
PLAYGROUND_SIGNUP_WINDOW = int(os.environ.get("PLAYGROUND_SIGNUP_WINDOW", "3600"))
# The throttle first (it refuses a throttled account or address for any login, the admin's too), then
# Django's own, which checks the password.
AUTHENTICATION_BACKENDS = [
    "playground.throttle.ThrottleBackend",
    "django.contrib.auth.backends.ModelBackend",
]

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 8}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
    {"NAME": "playground.passwords.VarietyValidator", "OPTIONS": {"min_distinct": 5}},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "playground"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
# The front-end libraries (npm, package-lock.json) are served from node_modules under vendor/.
STATICFILES_FINDERS = [
    "django.contrib.staticfiles.finders.FileSystemFinder",
    "django.contrib.staticfiles.finders.AppDirectoriesFinder",
    "playground.vendor.NodeModulesFinder",
]
STATIC_ROOT = BASE_DIR / "staticfiles"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- The upstream -------------------------------------------------------------------------------
FIREWORKS_API_KEY = os.environ.get("FIREWORKS_API_KEY", "")
PLAYGROUND_EMULATOR_PORT = int(os.environ.get("PLAYGROUND_EMULATOR_PORT", "8765"))
FIREWORKS_BASE_URL = (
    os.environ.get("FIREWORKS_BASE_URL")
    or (
        "https://api.fireworks.ai/inference/v1"
        if FIREWORKS_API_KEY
        else f"http://127.0.0.1:{PLAYGROUND_EMULATOR_PORT}/inference/v1"
    )
).rstrip("/")
# True when the upstream is the offline emulator: the UI labels every reply as emulated.
PLAYGROUND_EMULATOR = env_bool(
    "PLAYGROUND_EMULATOR", not FIREWORKS_API_KEY and not os.environ.get("FIREWORKS_BASE_URL")
)
PLAYGROUND_DEFAULT_MODEL = os.environ.get(
    "PLAYGROUND_DEFAULT_MODEL", "accounts/fireworks/models/llama-v3p1-8b-instruct"
)
# Default prices per model (USD per million tokens; playground/pricing/README.md): a JSON file with its
# source and date; empty for the built-in copy of Fireworks' public serverless prices.
PLAYGROUND_PRICING_FILE = os.environ.get("PLAYGROUND_PRICING_FILE", "")
PLAYGROUND_ALLOW_SIGNUP = env_bool("PLAYGROUND_ALLOW_SIGNUP", True)
# Seconds: to open the connection, to the first byte of the response, and between two chunks.
FIREWORKS_CONNECT_TIMEOUT = float(os.environ.get("FIREWORKS_CONNECT_TIMEOUT", "10"))
FIREWORKS_FIRST_BYTE_TIMEOUT = float(os.environ.get("FIREWORKS_FIRST_BYTE_TIMEOUT", "120"))
FIREWORKS_STREAM_GAP_TIMEOUT = float(os.environ.get("FIREWORKS_STREAM_GAP_TIMEOUT", "60"))
# How long an idle upstream connection is kept for the next request.
FIREWORKS_KEEPALIVE_SECONDS = float(os.environ.get("FIREWORKS_KEEPALIVE_SECONDS", "30"))
# Seconds a stream keeps running after its last socket dropped without a stop, for the page to re-attach
# (a reload, a reconnect); then it is stopped and its partial reply saved. 0: stop at once.
PLAYGROUND_RESUME_GRACE_SECONDS = float(os.environ.get("PLAYGROUND_RESUME_GRACE_SECONDS", "30"))
# How long the model listing is cached (seconds).
PLAYGROUND_MODELS_CACHE_SECONDS = int(os.environ.get("PLAYGROUND_MODELS_CACHE_SECONDS", "600"))

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("DJANGO_LOG_LEVEL", "INFO")},
    "loggers": {"httpx": {"level": "WARNING"}, "httpcore": {"level": "WARNING"}},
}
