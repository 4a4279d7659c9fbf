from decimal import Decimal

import pytest

from submeter.errors import ServiceError
from submeter.ledger import services
from submeter.ledger.choices import AccountKind
from submeter.ledger.models import Account, Entry, Transaction
from submeter.tenancy.models import AuditEntry

pytestmark = pytest.mark.usefixtures("audited")


def balance(customer) -> Decimal:
    return Account.objects.get(customer=customer, kind=AccountKind.WALLET).balance


def test_topup_credits_the_wallet_and_the_cash_account(customer, admin_user):
    posted = services.topup(admin_user, customer, "100.00", "cash", reason="counter")

    assert balance(customer) == Decimal("100.00")
    entries = {e.account.kind: e.amount for e in posted.entries.select_related("account")}
    assert entries == {"wallet": Decimal("100.00"), "cash": Decimal("-100.00")}
    assert posted.operator == admin_user
    assert AuditEntry.objects.filter(action="ledger.topup", object_id=str(posted.pk)).exists()


def test_service_fee_is_split_from_the_topup(customer, admin_user, org):
    org.topup_fee_percent = Decimal("0.6")
    org.save()
    customer.refresh_from_db()

    posted = services.topup(admin_user, customer, "100.00", "wechat")

    entries = {e.account.kind: e.amount for e in posted.entries.select_related("account")}
    assert entries == {
        "wallet": Decimal("99.40"),
        "service_fee": Decimal("0.60"),
        "wechat": Decimal("-100.00"),
    }


@pytest.mark.parametrize(
    "amount", ["0", "-5", "1.001", "abc", "NaN", "Infinity", "", 1.5, "1e12", "1e30", "9" * 30]
)
def test_bad_amounts_are_refused_and_nothing_posted(customer, admin_user, amount):
    with pytest.raises(ServiceError) as error:
        services.topup(admin_user, customer, amount, "cash")

    assert "amount" in error.value.fields
    assert not Transaction.objects.exists()


def test_unknown_channel_is_refused(customer, admin_user):
    with pytest.raises(ServiceError) as error:
        services.topup(admin_user, customer, "10", "bitcoin")

    assert "channel" in error.value.fields


def test_same_idempotency_key_posts_once(customer, admin_user):
    first = services.topup(admin_user, customer, "50", "wechat", idempotency_key="wx-1")
    again = services.topup(admin_user, customer, "50", "wechat", idempotency_key="wx-1")

    assert first.pk == again.pk
    assert balance(customer) == Decimal("50.00")


def test_same_key_with_another_amount_is_a_conflict(customer, admin_user):
    services.topup(admin_user, customer, "50", "wechat", idempotency_key="wx-1")

    with pytest.raises(ServiceError) as error:
        services.topup(admin_user, customer, "60", "wechat", idempotency_key="wx-1")

    assert error.value.status == 409
    assert balance(customer) == Decimal("50.00")


def test_refund_cannot_exceed_the_balance(customer, admin_user):
    services.topup(admin_user, customer, "30", "cash")

    with pytest.raises(ServiceError) as error:
        services.refund(admin_user, customer, "30.01", "cash")

    assert error.value.code == "insufficient_balance"
    assert balance(customer) == Decimal("30.00")
    services.refund(admin_user, customer, "30.00", "cash")
    assert balance(customer) == Decimal("0.00")


def test_reversal_mirrors_the_transaction_once(customer, admin_user):
    topup = services.topup(admin_user, customer, "80", "card")

    reversal = services.reverse(admin_user, topup, reason="wrong tenant")

    assert balance(customer) == Decimal("0.00")
    assert sorted(e.amount for e in reversal.entries.all()) == [Decimal("-80.00"), Decimal("80.00")]
    with pytest.raises(ServiceError) as error:
        services.reverse(admin_user, topup, reason="again")
    assert error.value.code == "already_reversed"


def test_reversing_a_reversal_restores_and_is_also_once(customer, admin_user):
    topup = services.topup(admin_user, customer, "80", "card")
    reversal = services.reverse(admin_user, topup, reason="mistake")

    services.reverse(admin_user, reversal, reason="the mistake was a mistake")

    assert balance(customer) == Decimal("80.00")
    with pytest.raises(ServiceError):
        services.reverse(admin_user, reversal, reason="twice")


def test_reversal_that_would_go_below_the_floor_is_refused(customer, admin_user):
    topup = services.topup(admin_user, customer, "80", "card")
    services.charge(None, customer, "50", "electricity", idempotency_key="m1:2026-11-01T00:15")

    with pytest.raises(ServiceError) as error:
        services.reverse(admin_user, topup, reason="too late")

    assert error.value.code == "insufficient_balance"
    assert balance(customer) == Decimal("30.00")


def test_reversal_needs_a_reason(customer, admin_user):
    topup = services.topup(admin_user, customer, "80", "card")

    with pytest.raises(ServiceError) as error:
        services.reverse(admin_user, topup, reason=" ")

    assert "reason" in error.value.fields


def test_charge_is_keyed_and_may_go_into_arrears(customer):
    services.charge(None, customer, "12.34", "electricity", idempotency_key="m1:t1")
    services.charge(None, customer, "12.34", "electricity", idempotency_key="m1:t1")

    assert balance(customer) == Decimal("-12.34")
    revenue = Account.objects.get(kind=AccountKind.REVENUE_ELECTRICITY)
    assert Entry.objects.filter(account=revenue).count() == 1


def test_adjustment_respects_the_overdraft_floor(customer, admin_user):
    services.set_overdraft_limit(admin_user, customer, "20")

    services.adjust(admin_user, customer, "-20", reason="meter fault credit reversed")
    with pytest.raises(ServiceError):
        services.adjust(admin_user, customer, "-0.01", reason="one fen too far")

    assert balance(customer) == Decimal("-20.00")


def test_overdraft_limit_must_not_be_negative(customer, admin_user):
    with pytest.raises(ServiceError):
        services.set_overdraft_limit(admin_user, customer, "-1")


def test_overdraft_limit_change_records_operator_and_reason(customer, admin_user):
    wallet = services.set_overdraft_limit(admin_user, customer, "20", reason="trusted tenant")

    logged = AuditEntry.objects.get(action="ledger.overdraft_limit", object_id=str(wallet.pk))
    assert (logged.actor, logged.after["reason"]) == (admin_user, "trusted tenant")


def test_closing_records_operator_and_reason(customer, admin_user):
    wallet = services.open_account(admin_user, customer)

    services.close_account(admin_user, customer, "cash", reason="moved out")

    logged = AuditEntry.objects.get(action="ledger.close", object_id=str(wallet.pk))
    assert (logged.actor, logged.after["reason"]) == (admin_user, "moved out")


def test_huge_debit_adjustment_is_refused_naming_the_amount(customer, admin_user):
    with pytest.raises(ServiceError) as error:
        services.adjust(admin_user, customer, "-1e30", reason="typo")

    assert "amount" in error.value.fields
    assert not Transaction.objects.exists()


@pytest.mark.parametrize("limit", ["abc", "1e30", "NaN", "1.001"])
def test_bad_overdraft_limit_is_refused_naming_the_field(customer, admin_user, limit):
    with pytest.raises(ServiceError) as error:
        services.set_overdraft_limit(admin_user, customer, limit)

    assert "overdraft_limit" in error.value.fields
    assert not Account.objects.filter(customer=customer, overdraft_limit__gt=0).exists()


def test_closing_refunds_the_balance_and_closes(customer, admin_user):
    services.topup(admin_user, customer, "66.60", "cash")

    settlement = services.close_account(admin_user, customer, "cash")

    assert settlement.amount == Decimal("66.60")
    assert balance(customer) == Decimal("0.00")
    customer.refresh_from_db()
    assert customer.state == "closed"
    with pytest.raises(ServiceError) as error:
        services.topup(admin_user, customer, "1", "cash")
    assert error.value.code == "account_closed"


def test_closing_with_arrears_is_refused(customer, admin_user):
    services.charge(None, customer, "5", "water", idempotency_key="w1")

    with pytest.raises(ServiceError) as error:
        services.close_account(admin_user, customer, "cash")

    assert error.value.code == "arrears"


def test_entries_and_transactions_are_append_only(customer, admin_user):
    posted = services.topup(admin_user, customer, "10", "cash")
    entry = posted.entries.first()

    entry.amount = Decimal("1000")
    with pytest.raises(TypeError):
        entry.save()
    with pytest.raises(TypeError):
        Entry.objects.filter(pk=entry.pk).update(amount=Decimal("1000"))
    with pytest.raises(TypeError):
        Transaction.objects.all().delete()
    with pytest.raises(TypeError):
        posted.delete()


@pytest.mark.django_db(transaction=True)
def test_database_refuses_raw_updates_and_deletes_on_postgresql(customer, admin_user):
    from django.db import DatabaseError, connection, transaction

    if connection.vendor != "postgresql":
        pytest.skip("the trigger exists on PostgreSQL only; the model guard is tested above")
    services.topup(admin_user, customer, "10", "cash")
    for statement in ("UPDATE ledger_entry SET amount = 0", "DELETE FROM ledger_transaction"):
        with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(statement)
    assert balance(customer) == Decimal("10.00")


def test_amounts_are_stored_exactly_as_whole_fen(customer, admin_user):
    for n in range(1000):
        services.charge(None, customer, "0.01", "electricity", idempotency_key=f"k{n}")

    assert balance(customer) == Decimal("-10.00")


def test_audit_judges_each_debit_by_the_floor_in_force_when_it_was_posted(customer, admin_user):
    services.set_overdraft_limit(admin_user, customer, "10")
    services.adjust(admin_user, customer, "-10", reason="meter fault")

    services.set_overdraft_limit(admin_user, customer, "0")

    from submeter.ledger.integrity import audit_ledger

    assert audit_ledger().ok
