import datetime
from zoneinfo import ZoneInfo

import pytest

from submeter.billing.services import deduct
from submeter.ledger.choices import AccountKind
from submeter.ledger.integrity import audit_ledger
from submeter.ledger.models import Account
from tests.factories import make_customer, make_meter, make_reading, make_tariff

SHANGHAI = ZoneInfo("Asia/Shanghai")


def local(*parts) -> datetime.datetime:
    return datetime.datetime(*parts, tzinfo=SHANGHAI)


def balance(customer):
    account = Account.objects.filter(customer=customer, kind=AccountKind.WALLET).first()
    return account.balance if account else None


def tou_document(**extra) -> dict:
    return {
        "id": "tou-test",
        "utility": "electricity",
        "timezone": "Asia/Shanghai",
        "versions": [
            {
                "valid_from": "2020-01-01",
                "energy": {
                    "kind": "tou",
                    "rates": {
                        "sharp": {"price": "1.2"},
                        "peak": {"price": "1.0"},
                        "flat": {"price": "0.6"},
                        "valley": {"price": "0.3"},
                    },
                    "day_profiles": {
                        "day": [
                            {"from": "00:00", "to": "08:00", "rate": "valley"},
                            {"from": "08:00", "to": "12:00", "rate": "peak"},
                            {"from": "12:00", "to": "17:00", "rate": "flat"},
                            {"from": "17:00", "to": "19:00", "rate": "sharp"},
                            {"from": "19:00", "to": "24:00", "rate": "flat"},
                        ]
                    },
                    **extra,
                },
            }
        ],
    }


@pytest.fixture(autouse=True)
def audited(db):
    """Every billing test ends with the ledger audit."""
    yield
    report = audit_ledger()
    assert report.ok, report.as_dict()


@pytest.fixture
def customer(org):
    return make_customer(org, name="302 宿舍")


@pytest.fixture
def meter(org, customer):
    return make_meter(org, customer=customer, tariff=make_tariff(org))


@pytest.fixture
def read(meter):
    """Store a reading of `meter` (or another meter) at a local time."""

    def store(at, target=None, **registers):
        return make_reading(target or meter, at, **registers)

    return store


@pytest.fixture
def bill(meter):
    def run(target=None):
        return deduct((target or meter).pk)

    return run
