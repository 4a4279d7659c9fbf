"""The ledger audit: each check must be able to fail."""

import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from submeter.billing.models import UsageCharge
from submeter.control.models import Command
from submeter.ledger import services
from submeter.ledger.choices import AccountKind
from submeter.ledger.integrity import audit_ledger
from submeter.ledger.models import Account, Entry
from tests.factories import make_meter, make_tariff

SHANGHAI = ZoneInfo("Asia/Shanghai")


def failing_checks() -> list[str]:
    return [check.name for check in audit_ledger().checks if not check.ok]


def usage_charge(meter, customer, start_minute: int, end_minute: int) -> UsageCharge:
    midnight = datetime.datetime(2026, 11, 2, tzinfo=SHANGHAI)
    tariff = make_tariff(customer.organisation)
    return UsageCharge.objects.create(
        organisation=customer.organisation,
        meter=meter,
        customer=customer,
        utility="electricity",
        month=datetime.date(2026, 11, 1),
        interval_start=midnight + datetime.timedelta(minutes=start_minute),
        interval_end=midnight + datetime.timedelta(minutes=end_minute),
        register_from=Decimal("1"),
        register_to=Decimal("2"),
        quantity=Decimal("1"),
        tariff=tariff,
        tariff_version=datetime.datetime(2020, 1, 1, tzinfo=SHANGHAI),
        amount_exact=Decimal("0"),
        posted_amount=Decimal("0"),
    )


def test_audit_catches_a_debit_posted_below_its_floor(customer):
    wallet = services._locked_wallet(customer)
    services._post(
        organisation_id=customer.organisation_id,
        kind="adjustment",
        amount=Decimal("-5"),
        entries=[
            (wallet, Decimal("-5")),
            (
                services.system_account(customer.organisation_id, AccountKind.ADJUSTMENT),
                Decimal("5"),
            ),
        ],
        wallet=wallet,
        customer=customer,
    )

    assert failing_checks() == ["wallet_floor"]


def test_audit_catches_a_wrong_cached_balance(customer, admin_user):
    services.topup(admin_user, customer, "10", "cash")
    Account.objects.filter(customer=customer).update(balance=Decimal("11.00"))

    assert failing_checks() == ["wallet_balance_cached"]


def test_audit_catches_a_transaction_whose_entries_do_not_sum_to_zero(customer, admin_user):
    posted = services.topup(admin_user, customer, "10", "cash")
    cash = services.system_account(customer.organisation_id, AccountKind.CASH)
    Entry.objects.create(transaction=posted, account=cash, amount=Decimal("-0.01"))

    assert failing_checks() == ["transactions_balance", "ledger_sums_to_zero"]


def test_audit_catches_a_reading_interval_charged_twice(org, customer):
    meter = make_meter(org, customer=customer)
    usage_charge(meter, customer, 0, 15)
    usage_charge(meter, customer, 10, 25)

    assert failing_checks() == ["readings_charged_once"]


def test_audit_accepts_back_to_back_intervals(org, customer):
    meter = make_meter(org, customer=customer)
    usage_charge(meter, customer, 0, 15)
    usage_charge(meter, customer, 15, 30)

    assert failing_checks() == []


def test_audit_catches_a_relay_command_without_a_cause(org):
    Command.objects.create(organisation=org, meter=make_meter(org), action="trip", cause={})

    assert failing_checks() == ["commands_have_cause"]


def test_audit_accepts_a_relay_command_with_its_rule(org):
    Command.objects.create(
        organisation=org, meter=make_meter(org), action="trip", cause={"rule": "arrears"}
    )

    assert failing_checks() == []
