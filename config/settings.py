"""Settings, read from the environment (12-factor).

With nothing set, the embedded default runs: a SQLite file and an in-memory channel layer
(one process only). ``DATABASE_URL`` selects PostgreSQL, ``REDIS_URL`` selects Redis for the
channel layer and for the state that every process must share (rate limits, slow mode).
"""

from __future__ import annotations

import os
import secrets
import warnings
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("PEERSUPPORT_VAR_DIR", BASE_DIR / "var"))


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name, "").strip()
    if not value:
        return default
    try:
        return int(value)
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name} must be a whole number, not {value!r}") from exc


def env_list(name: str, default: list[str]) -> list[str]:
    value = os.environ.get(name)
    if value is None or not value.strip():
        return default
    return [item.strip() for item in value.split(",") if item.strip()]


def embedded_secret_key() -> str:
    """A key kept beside the embedded database, so sessions survive restarts.

    Production sets SECRET_KEY; the embedded demo makes its own once and keeps it out of
    the repository (var/ is ignored by git).
    """
    path = VAR_DIR / "secret_key"
    if not path.exists():
        VAR_DIR.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(50))
        path.chmod(0o600)
    return path.read_text().strip()


DEBUG = env_bool("DEBUG", False)
SECRET_KEY = os.environ.get("SECRET_KEY") or embedded_secret_key()
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost"])
if "*" in ALLOWED_HOSTS and not DEBUG:
    # The WebSocket origin check is derived from ALLOWED_HOSTS: a wildcard would let any
    # site open sockets with a visitor's session cookie.
    raise ImproperlyConfigured("ALLOWED_HOSTS='*' is refused outside DEBUG; name the hosts.")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "channels",
    "rooms",
    "chat",
    "moderation",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "config.csp.ContentSecurityPolicyMiddleware",
    # Static files straight from the app process (daphne or uvicorn), no separate server.
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "config.urls"
ASGI_APPLICATION = "config.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "config" / "templates"],
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

# Persistent connections: Django's default (0) reconnects on every database_sync_to_async
# call, which costs 3-5 ms per insert on PostgreSQL instead of well under 1 ms.
DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL") or f"sqlite:///{VAR_DIR / 'db.sqlite3'}",
        conn_max_age=600,
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    DATABASES["default"].setdefault("OPTIONS", {})
    # WAL lets readers go on while a message is written; a busy timeout rides out the
    # brief write locks of the embedded, single-process setup.
    DATABASES["default"]["OPTIONS"].update(
        {"timeout": 20, "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"}
    )

REDIS_URL = os.environ.get("REDIS_URL", "").strip()
CHANNEL_LAYER_PREFIX = os.environ.get("CHANNEL_LAYER_PREFIX", "peersupport")
if REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
            "CONFIG": {
                # redis-py 6+ sets a socket timeout that breaks the layer's blocking
                # reads (channels_redis issue 422): idle consumers would be closed.
                "hosts": [{"address": REDIS_URL, "socket_timeout": None}],
                "prefix": CHANNEL_LAYER_PREFIX,
            },
        }
    }
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": CHANNEL_LAYER_PREFIX,
        }
    }
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

AUTH_USER_MODEL = "rooms.User"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "/accounts/login/"
LOGIN_REDIRECT_URL = "/rooms/"
LOGOUT_REDIRECT_URL = "/accounts/login/"

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_SECURE = env_bool(
    "SESSION_COOKIE_SECURE", not DEBUG and bool(os.environ.get("SECRET_KEY"))
)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
# Serve from the apps' static folders when collectstatic has not run (the embedded demo);
# production's release step collects and compresses them.
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = DEBUG
# Without collectstatic there is no STATIC_ROOT yet; the finders serve the files instead.
warnings.filterwarnings("ignore", message="No directory at", module="django.core.handlers.base")
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Chat behaviour.
CHAT_RATE_LIMIT = env_int("CHAT_RATE_LIMIT", 60)  # messages per user per minute; 0: off
CHAT_MAX_BODY = env_int("CHAT_MAX_BODY", 4000)  # characters
CHAT_RESUME_BATCH = 500  # messages fetched from the database per replay query
# Events waiting for one socket; a socket that falls further behind is closed (4008) and
# its client resumes by seq, so that one slow reader never holds up a room.
CHAT_SOCKET_QUEUE = env_int("CHAT_SOCKET_QUEUE", 2000)
# Bytes a socket's transport may hold unsent before its reader counts as too slow (4008).
CHAT_SOCKET_BUFFER = env_int("CHAT_SOCKET_BUFFER", 1024 * 1024)
ESCALATION_ACK_SECONDS = env_int("ESCALATION_ACK_SECONDS", 120)
if ESCALATION_ACK_SECONDS < 1:
    raise ImproperlyConfigured("ESCALATION_ACK_SECONDS must be at least 1.")
# The crisis detector, by dotted path: a callable (text, recent=()) -> Assessment.
MODERATION_DETECTOR = os.environ.get("MODERATION_DETECTOR", "moderation.detection.screen")
# The slower, thorough detector that looks at every stored message again, off the message
# path (moderation.second_look); empty turns the second look off.
MODERATION_SECOND_LOOK = os.environ.get(
    "MODERATION_SECOND_LOOK", "moderation.detection.screen_thorough"
)
# How many of the sender's recent messages in the room the detector reads, and how far back.
MODERATION_RECENT_MESSAGES = 3
MODERATION_RECENT_SECONDS = 2 * 60 * 60
# Crisis lines shown to a person at risk: this locale's, and the international ones.
CRISIS_LINES_LOCALE = os.environ.get("CRISIS_LINES_LOCALE", "en-US")
# Without Redis the worker process cannot reach the web process's sockets, so the embedded
# setup runs the escalation ladder inside the web process instead.
ESCALATION_LADDER_IN_PROCESS = env_bool("ESCALATION_LADDER_IN_PROCESS", not REDIS_URL)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {"django.channels.server": {"level": "WARNING"}},
}
