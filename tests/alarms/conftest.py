import pytest

from submeter.alarms.channels import wechat_tokens
from tests.alarms.fakes import FakeHttpServer, FakeSmtp, FakeWeChat
from tests.factories import make_customer

SMS_KEY_ID = "sms-key-1"
SMS_SECRET = "sms-secret-1"
VOICE_KEY_ID = "voice-key-1"
VOICE_SECRET = "voice-secret-1"


@pytest.fixture(autouse=True)
def no_provider_configured(settings):
    """Every test starts with no provider configured, whatever the environment says."""
    settings.SMS_URL = settings.VOICE_URL = settings.EMAIL_HOST = ""
    settings.WECHAT_APP_ID = settings.WECHAT_APP_SECRET = ""
    settings.NOTIFY_MAX_PER_HOUR = 6
    settings.NOTIFY_MAX_ATTEMPTS = 5
    settings.NOTIFY_RETRY_SECONDS = 60
    settings.NOTIFY_HTTP_TIMEOUT = 5
    wechat_tokens.clear()
    yield
    wechat_tokens.clear()


@pytest.fixture
def customer(org):
    return make_customer(
        org,
        name="王氏商贸",
        phone="13800138000",
        email="tenant@example.com",
        wechat_openid="o-openid-1",
        notify_sms=True,
    )


class Gateway(FakeHttpServer):
    """A signed JSON gateway (SMS or voice) whose answers can be queued by a test."""

    def __init__(self) -> None:
        self.answers: list[tuple[int, dict]] = []
        self.sent = 0
        super().__init__(self.answer)

    def answer(self, received):
        if self.answers:
            return self.answers.pop(0)
        self.sent += 1
        return 200, {"code": "OK", "message_id": f"gw-{self.sent}"}


@pytest.fixture
def sms_gateway(settings):
    with Gateway() as gateway:
        settings.SMS_URL = f"{gateway.url}/v1/sms/send"
        settings.SMS_ACCESS_KEY_ID = SMS_KEY_ID
        settings.SMS_ACCESS_KEY_SECRET = SMS_SECRET
        settings.SMS_SIGN_NAME = "示范园区"
        settings.SMS_TEMPLATES = {
            "balance_low": "SMS_LOW",
            "cut_off": "SMS_CUT",
            "restored": "SMS_RESTORED",
        }
        yield gateway


@pytest.fixture
def voice_gateway(settings):
    with Gateway() as gateway:
        settings.VOICE_URL = f"{gateway.url}/v1/voice/tts-call"
        settings.VOICE_ACCESS_KEY_ID = VOICE_KEY_ID
        settings.VOICE_ACCESS_KEY_SECRET = VOICE_SECRET
        settings.VOICE_CALLER_NUMBER = "02100000000"
        settings.VOICE_TEMPLATES = {"cutoff_pending": "TTS_CUTOFF"}
        yield gateway


@pytest.fixture
def wechat(settings):
    with FakeWeChat() as fake:
        settings.WECHAT_API_BASE = fake.http.url
        settings.WECHAT_APP_ID = fake.app_id
        settings.WECHAT_APP_SECRET = fake.secret
        settings.WECHAT_TEMPLATES = {"balance_low": "TPL-LOW", "restored": "TPL-RESTORED"}
        yield fake


@pytest.fixture
def smtp(settings):
    with FakeSmtp() as fake:
        settings.EMAIL_HOST = "127.0.0.1"
        settings.EMAIL_PORT = fake.port
        settings.EMAIL_USE_TLS = False
        settings.EMAIL_HOST_USER = ""
        settings.EMAIL_HOST_PASSWORD = ""
        settings.DEFAULT_FROM_EMAIL = "billing@park.example.com"
        yield fake
