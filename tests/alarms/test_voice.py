import datetime
import hashlib
import hmac
from decimal import Decimal

from submeter.alarms.models import Notification, NotificationState
from submeter.alarms.services import deliver_pending, notify
from tests.alarms.conftest import VOICE_KEY_ID, VOICE_SECRET
from tests.factories import make_customer


def test_voice_call_is_a_signed_tts_request_to_the_customer_phone(org, voice_gateway):
    customer = make_customer(org, phone="13900139000", notify_sms=False, notify_voice=True)
    cutoff_at = datetime.datetime(2025, 3, 1, 2, 30, tzinfo=datetime.UTC)
    notify(
        customer,
        "cutoff_pending",
        context={"cutoff_at": cutoff_at, "balance": Decimal("-2.00")},
        dedupe_key="cut-pending-1",
    )
    notification = Notification.objects.get(customer=customer, channel="voice")

    deliver_pending()

    [received] = voice_gateway.received
    assert received.path == "/v1/voice/tts-call"
    canonical = "\n".join(
        [
            "POST",
            "/v1/voice/tts-call",
            received.headers["x-timestamp"],
            received.headers["x-nonce"],
            hashlib.sha256(received.body).hexdigest(),
        ]
    )
    signature = hmac.new(VOICE_SECRET.encode(), canonical.encode(), hashlib.sha256).hexdigest()
    assert received.headers["authorization"] == (
        f"HMAC-SHA256 Credential={VOICE_KEY_ID}, Signature={signature}"
    )
    assert received.json() == {
        "called_number": "13900139000",
        "caller_number": "02100000000",
        "tts_code": "TTS_CUTOFF",
        "tts_param": {"cutoff_at": "2025-03-01 10:30", "balance": "-¥2.00"},
        "out_id": str(notification.pk),
    }
    notification.refresh_from_db()
    assert notification.state == NotificationState.SENT
    assert notification.provider_message_id == "gw-1"
