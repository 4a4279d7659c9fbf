"""One channel interface and its providers: SMS, voice call, e-mail, WeChat template message, in-app.

`Channel.send(notification) -> Delivery` never raises: a provider that is not configured, a
network error or a refusal all come back as a failed Delivery, `retry` telling whether the failure
is transient (network, timeout, 5xx, rate limit) and worth trying again. Providers read their
settings when they are built, so `channel_for` always reflects the current settings.

The SMS and voice gateways take a JSON POST signed with HMAC-SHA256 (docs/notifications.md):

    canonical = "POST\\n" + path + "\\n" + timestamp + "\\n" + nonce + "\\n" + sha256_hex(body)
    Authorization: HMAC-SHA256 Credential=<access key id>, Signature=<hex hmac of canonical>
    X-Timestamp: <unix seconds>     X-Nonce: <32 hex characters>
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import smtplib
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from email.utils import make_msgid
from typing import TYPE_CHECKING, Any, ClassVar

from django.conf import settings
from django.core.mail import EmailMessage, get_connection

from submeter.alarms.models import NotificationChannel, NotificationState

if TYPE_CHECKING:
    from submeter.alarms.models import Notification

NOT_CONFIGURED = "not configured"


@dataclass(frozen=True)
class Delivery:
    """What a provider said: state sent/delivered/failed, its message id, the error if any."""

    state: str
    provider_message_id: str = ""
    error: str = ""
    retry: bool = False

    @classmethod
    def failed(cls, error: str, *, retry: bool = False) -> Delivery:
        return cls(NotificationState.FAILED, error=error[:500], retry=retry)


class Channel:
    """Base of every provider."""

    name: ClassVar[str] = ""

    def configured(self) -> bool:
        return True

    def recipient_of(self, customer) -> str:
        return ""

    def send(self, notification: Notification) -> Delivery:
        if not self.configured():
            return Delivery.failed(NOT_CONFIGURED)
        try:
            return self.deliver(notification)
        except Exception as exc:  # a provider bug must not stop the sender
            return Delivery.failed(f"{type(exc).__name__}: {exc}", retry=True)

    def deliver(self, notification: Notification) -> Delivery:
        raise NotImplementedError


class ProviderError(Exception):
    def __init__(self, message: str, *, retry: bool) -> None:
        super().__init__(message)
        self.retry = retry


def http_json(
    method: str, url: str, body: Any = None, headers: dict[str, str] | None = None
) -> dict:
    """One JSON request; ProviderError (transient or not) for anything but a JSON 2xx answer."""
    data = None if body is None else body if isinstance(body, bytes) else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    if data is not None and "Content-Type" not in request.headers:
        request.add_header("Content-Type", "application/json; charset=utf-8")
    try:
        with urllib.request.urlopen(request, timeout=settings.NOTIFY_HTTP_TIMEOUT) as response:
            payload = response.read()
    except urllib.error.HTTPError as exc:
        transient = exc.code >= 500 or exc.code == 429
        raise ProviderError(f"HTTP {exc.code}", retry=transient) from exc
    except (OSError, TimeoutError) as exc:
        raise ProviderError(f"network: {exc}", retry=True) from exc
    try:
        answer = json.loads(payload)
    except ValueError as exc:
        raise ProviderError("the provider answered something other than JSON", retry=True) from exc
    if not isinstance(answer, dict):
        raise ProviderError("the provider answered something other than a JSON object", retry=True)
    return answer


def sign(secret: str, path: str, timestamp: str, nonce: str, body: bytes) -> str:
    """The signature of a gateway request (see the module docstring)."""
    canonical = "\n".join(["POST", path, timestamp, nonce, hashlib.sha256(body).hexdigest()])
    return hmac.new(secret.encode(), canonical.encode(), hashlib.sha256).hexdigest()


class SignedGatewayChannel(Channel):
    """A JSON gateway with HMAC-signed requests and a template code per kind (SMS and voice).

    The gateway answers `{"code": "OK", "message_id": "…"}`; another code is a refusal,
    transient when the code is `Throttling` or `Busy`.
    """

    url = ""
    key_id = ""
    secret = ""
    templates: dict[str, str] = {}
    transient_codes = frozenset({"Throttling", "Busy"})

    def configured(self) -> bool:
        return bool(self.url and self.key_id and self.secret and self.templates)

    def recipient_of(self, customer) -> str:
        return customer.phone

    def payload(self, notification: Notification, template: str) -> dict:
        raise NotImplementedError

    def deliver(self, notification: Notification) -> Delivery:
        template = self.templates.get(notification.kind)
        if not template:
            return Delivery.failed(f"{NOT_CONFIGURED}: no template for {notification.kind}")
        body = json.dumps(self.payload(notification, template), ensure_ascii=False).encode()
        timestamp, nonce = str(int(time.time())), secrets.token_hex(16)
        path = urllib.parse.urlsplit(self.url).path or "/"
        signature = sign(self.secret, path, timestamp, nonce, body)
        headers = {
            "Authorization": f"HMAC-SHA256 Credential={self.key_id}, Signature={signature}",
            "X-Timestamp": timestamp,
            "X-Nonce": nonce,
        }
        try:
            answer = http_json("POST", self.url, body, headers)
        except ProviderError as exc:
            return Delivery.failed(str(exc), retry=exc.retry)
        code = str(answer.get("code", ""))
        if code != "OK":
            message = f"{code}: {answer.get('message', '')}".strip()
            return Delivery.failed(message, retry=code in self.transient_codes)
        return Delivery(
            NotificationState.SENT, provider_message_id=str(answer.get("message_id", ""))
        )


class SmsChannel(SignedGatewayChannel):
    name = NotificationChannel.SMS

    def __init__(self) -> None:
        self.url = settings.SMS_URL
        self.key_id = settings.SMS_ACCESS_KEY_ID
        self.secret = settings.SMS_ACCESS_KEY_SECRET
        self.sign_name = settings.SMS_SIGN_NAME
        self.templates = dict(settings.SMS_TEMPLATES)

    def configured(self) -> bool:
        return super().configured() and bool(self.sign_name)

    def payload(self, notification: Notification, template: str) -> dict:
        return {
            "phone_number": notification.recipient,
            "sign_name": self.sign_name,
            "template_code": template,
            "template_param": notification.params,
            "out_id": str(notification.pk),
        }


class VoiceChannel(SignedGatewayChannel):
    name = NotificationChannel.VOICE

    def __init__(self) -> None:
        self.url = settings.VOICE_URL
        self.key_id = settings.VOICE_ACCESS_KEY_ID
        self.secret = settings.VOICE_ACCESS_KEY_SECRET
        self.caller = settings.VOICE_CALLER_NUMBER
        self.templates = dict(settings.VOICE_TEMPLATES)

    def payload(self, notification: Notification, template: str) -> dict:
        return {
            "called_number": notification.recipient,
            "caller_number": self.caller,
            "tts_code": template,
            "tts_param": notification.params,
            "out_id": str(notification.pk),
        }


class EmailChannel(Channel):
    """Real SMTP through Django's e-mail backend (NOTIFY_EMAIL_BACKEND, EMAIL_HOST, …)."""

    name = NotificationChannel.EMAIL

    def configured(self) -> bool:
        return bool(settings.EMAIL_HOST)

    def recipient_of(self, customer) -> str:
        return customer.email

    def deliver(self, notification: Notification) -> Delivery:
        message_id = make_msgid(domain=settings.DEFAULT_FROM_EMAIL.rpartition("@")[2] or None)
        message = EmailMessage(
            subject=notification.subject,
            body=notification.body,
            from_email=settings.DEFAULT_FROM_EMAIL,
            to=[notification.recipient],
            headers={"Message-ID": message_id},
            connection=get_connection(settings.NOTIFY_EMAIL_BACKEND, fail_silently=False),
        )
        try:
            message.send()
        except (OSError, TimeoutError) as exc:
            # smtplib's errors are OSErrors: refused addresses are permanent, the rest transient.
            permanent = isinstance(exc, smtplib.SMTPRecipientsRefused | smtplib.SMTPSenderRefused)
            return Delivery.failed(f"{type(exc).__name__}: {exc}", retry=not permanent)
        return Delivery(NotificationState.SENT, provider_message_id=message_id)


class WeChatTokens:
    """Access tokens of WeChat Official Accounts, cached per (API base, app id) until expiry."""

    margin_seconds = 300

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._tokens: dict[tuple[str, str], tuple[str, float]] = {}

    def get(self, base: str, app_id: str, secret: str) -> str:
        with self._lock:
            cached = self._tokens.get((base, app_id))
            if cached and cached[1] > time.monotonic():
                return cached[0]
            query = urllib.parse.urlencode(
                {"grant_type": "client_credential", "appid": app_id, "secret": secret}
            )
            answer = http_json("GET", f"{base}/cgi-bin/token?{query}")
            token = answer.get("access_token")
            if not token:
                raise ProviderError(
                    f"token: {answer.get('errcode')} {answer.get('errmsg', '')}".strip(),
                    retry=answer.get("errcode") == -1,
                )
            lifetime = max(int(answer.get("expires_in", 7200)) - self.margin_seconds, 1)
            self._tokens[(base, app_id)] = (str(token), time.monotonic() + lifetime)
            return str(token)

    def forget(self, base: str, app_id: str) -> None:
        with self._lock:
            self._tokens.pop((base, app_id), None)

    def clear(self) -> None:
        with self._lock:
            self._tokens.clear()


wechat_tokens = WeChatTokens()

# WeChat error codes: the access token is invalid or expired (fetch a new one and try once more),
# and the platform is busy (try later).
WECHAT_TOKEN_ERRORS = frozenset({40001, 40014, 42001})
WECHAT_BUSY = frozenset({-1, 45009, 45047})


class WeChatChannel(Channel):
    """Template message of a WeChat Official Account to the customer's OpenID."""

    name = NotificationChannel.WECHAT

    def __init__(self) -> None:
        self.base = settings.WECHAT_API_BASE.rstrip("/")
        self.app_id = settings.WECHAT_APP_ID
        self.secret = settings.WECHAT_APP_SECRET
        self.templates = dict(settings.WECHAT_TEMPLATES)

    def configured(self) -> bool:
        return bool(self.base and self.app_id and self.secret and self.templates)

    def recipient_of(self, customer) -> str:
        return customer.wechat_openid

    def message(self, notification: Notification, template: str) -> dict:
        data = {"first": {"value": notification.subject}}
        data.update({key: {"value": value} for key, value in notification.params.items()})
        data["remark"] = {"value": notification.body}
        return {"touser": notification.recipient, "template_id": template, "data": data}

    def deliver(self, notification: Notification) -> Delivery:
        template = self.templates.get(notification.kind)
        if not template:
            return Delivery.failed(f"{NOT_CONFIGURED}: no template for {notification.kind}")
        message = self.message(notification, template)
        try:
            for _attempt in range(2):
                token = wechat_tokens.get(self.base, self.app_id, self.secret)
                query = urllib.parse.urlencode({"access_token": token})
                url = f"{self.base}/cgi-bin/message/template/send?{query}"
                answer = http_json("POST", url, json.dumps(message, ensure_ascii=False).encode())
                if answer.get("errcode") not in WECHAT_TOKEN_ERRORS:
                    break
                wechat_tokens.forget(self.base, self.app_id)
        except ProviderError as exc:
            return Delivery.failed(str(exc), retry=exc.retry)
        code = answer.get("errcode", 0)
        if code != 0:
            error = f"{code}: {answer.get('errmsg', '')}"
            return Delivery.failed(error, retry=code in WECHAT_BUSY)
        return Delivery(NotificationState.SENT, provider_message_id=str(answer.get("msgid", "")))


class InAppChannel(Channel):
    """Stored only: shown in the console (and later the tenant portal). Delivered at once."""

    name = NotificationChannel.IN_APP

    def deliver(self, notification: Notification) -> Delivery:
        return Delivery(NotificationState.DELIVERED)


CHANNELS: dict[str, type[Channel]] = {
    NotificationChannel.SMS: SmsChannel,
    NotificationChannel.WECHAT: WeChatChannel,
    NotificationChannel.EMAIL: EmailChannel,
    NotificationChannel.VOICE: VoiceChannel,
    NotificationChannel.IN_APP: InAppChannel,
}


def channel_for(name: str) -> Channel:
    """The provider of a channel, built from the current settings."""
    return CHANNELS[name]()
