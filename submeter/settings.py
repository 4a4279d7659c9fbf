"""Django settings. Everything is configured by environment variables with embedded defaults.

See docs/configuration.md for the list.
"""

from __future__ import annotations

import os
import secrets
import tempfile
from pathlib import Path

import dj_database_url
from django.utils.translation import gettext_lazy as _

PACKAGE_DIR = Path(__file__).resolve().parent
DATA_DIR = Path(os.environ.get("SUBMETER_DATA_DIR", Path.cwd() / "var")).resolve()


def _secret_key() -> str:
    """SUBMETER_SECRET_KEY, or a key generated once and kept under the data directory."""
    key = os.environ.get("SUBMETER_SECRET_KEY")
    if key:
        return key
    path = DATA_DIR / "secret_key"
    if path.exists():
        return path.read_text().strip()
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(50)
    path.write_text(key)
    path.chmod(0o600)
    return key


def _flag(name: str, default: bool = False) -> bool:
    return os.environ.get(name, "1" if default else "0").lower() in {"1", "true", "yes", "on"}


SECRET_KEY = _secret_key()
DEBUG = _flag("SUBMETER_DEBUG")
ALLOWED_HOSTS = os.environ.get("SUBMETER_ALLOWED_HOSTS", "127.0.0.1,localhost,[::1]").split(",")
CSRF_TRUSTED_ORIGINS = [
    origin for origin in os.environ.get("SUBMETER_CSRF_TRUSTED_ORIGINS", "").split(",") if origin
]

INSTALLED_APPS = [
    "unfold.apps.BasicAppConfig",
    "unfold.contrib.filters",
    "submeter.console.apps.ConsoleAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "submeter.tenancy",
    "submeter.sites",
    "submeter.customers",
    "submeter.metering",
    "submeter.ledger",
    "submeter.tariffs",
    "submeter.billing",
    "submeter.control",
    "submeter.alarms",
    "submeter.console.apps.ConsoleConfig",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "submeter.urls"
WSGI_APPLICATION = "submeter.wsgi.application"
ASGI_APPLICATION = "submeter.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [PACKAGE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "django.template.context_processors.i18n",
            ],
        },
    },
]

DATABASE_URL = os.environ.get("DATABASE_URL") or f"sqlite:///{DATA_DIR / 'submeter.sqlite3'}"
DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=60)}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"]["OPTIONS"] = {
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=30000;",
        "transaction_mode": "IMMEDIATE",
    }
    # Tests on a file, not Django's shared-cache in-memory database: shared-cache table locks
    # ignore busy_timeout, so a test whose worker threads write while it reads would fail.
    DATABASES["default"]["TEST"] = {
        "NAME": str(Path(tempfile.gettempdir()) / f"submeter-test-{os.getpid()}.sqlite3")
    }
    if not DATABASE_URL.startswith("sqlite://:memory:"):
        Path(DATABASES["default"]["NAME"]).parent.mkdir(parents=True, exist_ok=True)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

MQTT_URL = os.environ.get("MQTT_URL", "")
REDIS_URL = os.environ.get("REDIS_URL", "")


# Notifications to tenants (submeter.alarms; docs/notifications.md). A provider whose settings are
# empty is "not configured": its notifications are recorded as failed, never raised.
def _mapping(name: str) -> dict[str, str]:
    """`kind=code,kind=code` from an environment variable, as a dict."""
    pairs = (item.split("=", 1) for item in os.environ.get(name, "").split(",") if "=" in item)
    return {key.strip(): value.strip() for key, value in pairs}


NOTIFY_LANGUAGE = os.environ.get("SUBMETER_NOTIFY_LANGUAGE", "zh-hans")
NOTIFY_MAX_PER_HOUR = int(os.environ.get("SUBMETER_NOTIFY_MAX_PER_HOUR", "6"))
NOTIFY_MAX_ATTEMPTS = int(os.environ.get("SUBMETER_NOTIFY_MAX_ATTEMPTS", "5"))
NOTIFY_RETRY_SECONDS = int(os.environ.get("SUBMETER_NOTIFY_RETRY_SECONDS", "60"))
NOTIFY_HTTP_TIMEOUT = float(os.environ.get("SUBMETER_NOTIFY_HTTP_TIMEOUT", "10"))
SMS_URL = os.environ.get("SUBMETER_SMS_URL", "")
SMS_ACCESS_KEY_ID = os.environ.get("SUBMETER_SMS_ACCESS_KEY_ID", "")
SMS_ACCESS_KEY_SECRET = os.environ.get("SUBMETER_SMS_ACCESS_KEY_SECRET", "")
SMS_SIGN_NAME = os.environ.get("SUBMETER_SMS_SIGN_NAME", "")
SMS_TEMPLATES = _mapping("SUBMETER_SMS_TEMPLATES")
VOICE_URL = os.environ.get("SUBMETER_VOICE_URL", "")
VOICE_ACCESS_KEY_ID = os.environ.get("SUBMETER_VOICE_ACCESS_KEY_ID", "")
VOICE_ACCESS_KEY_SECRET = os.environ.get("SUBMETER_VOICE_ACCESS_KEY_SECRET", "")
VOICE_CALLER_NUMBER = os.environ.get("SUBMETER_VOICE_CALLER_NUMBER", "")
VOICE_TEMPLATES = _mapping("SUBMETER_VOICE_TEMPLATES")
WECHAT_API_BASE = os.environ.get("SUBMETER_WECHAT_API_BASE", "https://api.weixin.qq.com")
WECHAT_APP_ID = os.environ.get("SUBMETER_WECHAT_APP_ID", "")
WECHAT_APP_SECRET = os.environ.get("SUBMETER_WECHAT_APP_SECRET", "")
WECHAT_TEMPLATES = _mapping("SUBMETER_WECHAT_TEMPLATES")
NOTIFY_EMAIL_BACKEND = os.environ.get(
    "SUBMETER_NOTIFY_EMAIL_BACKEND", "django.core.mail.backends.smtp.EmailBackend"
)
EMAIL_HOST = os.environ.get("SUBMETER_EMAIL_HOST", "")
EMAIL_PORT = int(os.environ.get("SUBMETER_EMAIL_PORT", "25"))
EMAIL_HOST_USER = os.environ.get("SUBMETER_EMAIL_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("SUBMETER_EMAIL_PASSWORD", "")
EMAIL_USE_TLS = _flag("SUBMETER_EMAIL_USE_TLS")
EMAIL_USE_SSL = _flag("SUBMETER_EMAIL_USE_SSL")
EMAIL_TIMEOUT = 10
DEFAULT_FROM_EMAIL = os.environ.get("SUBMETER_DEFAULT_FROM_EMAIL", "submeter@localhost")

AUTH_USER_MODEL = "tenancy.User"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "admin:login"
LOGIN_REDIRECT_URL = "admin:index"

LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", "简体中文"), ("en", "English")]
LOCALE_PATHS = [PACKAGE_DIR / "locale"]
TIME_ZONE = os.environ.get("SUBMETER_TIME_ZONE", "Asia/Shanghai")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = os.environ.get("SUBMETER_STATIC_ROOT") or None
# Static files are served from the installed packages (no collectstatic step, no compression pass).
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = DEBUG

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SECURE = _flag("SUBMETER_SECURE_COOKIES")
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
DATA_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024

INVITE_VALID_HOURS = 24

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "submeter.api.authentication.BearerTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["submeter.api.permissions.RolePermission"],
    "DEFAULT_PAGINATION_CLASS": "submeter.api.pagination.Pagination",
    "DEFAULT_FILTER_BACKENDS": [
        "submeter.api.filters.ScopedFilterBackend",
        "rest_framework.filters.SearchFilter",
        "rest_framework.filters.OrderingFilter",
    ],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "submeter.api.errors.exception_handler",
    "DEFAULT_THROTTLE_RATES": {"login": os.environ.get("SUBMETER_LOGIN_RATE", "10/min")},
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Submeter API",
    "DESCRIPTION": "Metering, billing and control of resold electricity and water.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
}

UNFOLD = {
    "SITE_TITLE": _("Submeter"),
    "SITE_HEADER": _("Submeter"),
    "SITE_SUBHEADER": "submeter.console.navigation.current_organisation_name",
    "SITE_DROPDOWN": "submeter.console.navigation.organisation_switcher",
    "SITE_URL": None,
    "SITE_SYMBOL": "bolt",
    "SHOW_HISTORY": False,
    "SHOW_VIEW_ON_SITE": False,
    "SHOW_LANGUAGES": True,
    "DASHBOARD_CALLBACK": "submeter.console.dashboard.dashboard_context",
    "SIDEBAR": {
        "show_search": True,
        "show_all_applications": True,
    },
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("SUBMETER_LOG_LEVEL", "INFO")},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        "transitions": {"level": "WARNING"},
        "amqtt": {"level": "WARNING"},
    },
}
