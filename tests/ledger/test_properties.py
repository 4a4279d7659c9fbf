"""Property-based tests of the ledger invariants: whatever the sequence of operations, every
transaction sums to zero and each wallet's balance equals the sum of its entries."""

from decimal import Decimal

import pytest
from django.db.models import Sum
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from submeter.errors import ServiceError
from submeter.ledger import services
from submeter.ledger.integrity import audit_ledger
from submeter.ledger.models import Account, Entry, Transaction
from tests.factories import make_customer, make_organisation, make_user

amounts = st.decimals(min_value=Decimal("0.01"), max_value=Decimal("5000"), places=2)
operations = st.lists(
    st.one_of(
        st.tuples(st.just("topup"), amounts, st.sampled_from(["cash", "wechat", "alipay", "card"])),
        st.tuples(st.just("refund"), amounts, st.just("cash")),
        st.tuples(st.just("charge"), amounts, st.sampled_from(["electricity", "water"])),
        st.tuples(st.just("adjust"), amounts, st.booleans()),
        st.tuples(st.just("reverse"), st.integers(min_value=0, max_value=50), st.just(None)),
        st.tuples(
            st.just("overdraft"), st.decimals(min_value=0, max_value=200, places=2), st.just(None)
        ),
    ),
    max_size=25,
)


@pytest.mark.django_db
@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(operations=operations, fee=st.sampled_from([Decimal("0"), Decimal("0.6"), Decimal("1.5")]))
@example(
    operations=[
        ("overdraft", Decimal("0.01"), None),
        ("adjust", Decimal("0.01"), False),
        ("overdraft", Decimal("0.00"), None),
    ],
    fee=Decimal("0"),
)
def test_balance_is_the_sum_of_entries_after_any_sequence(operations, fee):
    org = make_organisation(topup_fee_percent=fee)
    user = make_user(org)
    customer = make_customer(org)
    services.open_account(user, customer)
    expected_wallet = Decimal("0")
    for n, (kind, value, extra) in enumerate(operations):
        try:
            if kind == "topup":
                posted = services.topup(user, customer, value, extra, idempotency_key=f"t{n}")
                expected_wallet += posted.entries.get(account__kind="wallet").amount
            elif kind == "refund":
                services.refund(user, customer, value, extra)
                expected_wallet -= value
            elif kind == "charge":
                services.charge(None, customer, value, extra, idempotency_key=f"c{n}")
                expected_wallet -= value
            elif kind == "adjust":
                signed = value if extra else -value
                services.adjust(user, customer, signed, reason="test")
                expected_wallet += signed
            elif kind == "reverse":
                candidates = list(Transaction.objects.filter(organisation=org).order_by("id"))
                if candidates:
                    original = candidates[value % len(candidates)]
                    reversal = services.reverse(user, original, reason="test")
                    wallet_change = reversal.entries.filter(account__kind="wallet").aggregate(
                        s=Sum("amount")
                    )["s"]
                    expected_wallet += wallet_change or 0
            elif kind == "overdraft":
                services.set_overdraft_limit(user, customer, value)
        except ServiceError:
            pass
    wallet = Account.objects.get(customer=customer, kind="wallet")
    assert wallet.balance == expected_wallet
    assert Entry.objects.filter(account=wallet).aggregate(s=Sum("amount"))["s"] in (
        expected_wallet,
        None,
    )
    for transaction in Transaction.objects.filter(organisation=org):
        assert transaction.entries.aggregate(s=Sum("amount"))["s"] == 0
    assert audit_ledger([org.pk]).ok


@pytest.mark.django_db
@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    day_amounts=st.lists(
        st.decimals(min_value=Decimal("0.000001"), max_value=Decimal("80"), places=6),
        min_size=28,
        max_size=31,
    )
)
def test_daily_charges_through_the_carry_sum_to_the_monthly_total_to_the_fen(day_amounts):
    from submeter.engine import FenRounder, round_fen

    org = make_organisation()
    customer = make_customer(org)
    services.open_account(None, customer)
    rounder = FenRounder()
    for day, exact in enumerate(day_amounts):
        posted = rounder.post(exact)
        if posted > 0:
            services.charge(None, customer, posted, "electricity", idempotency_key=f"m1:{day}")

    wallet = Account.objects.get(customer=customer, kind="wallet")
    assert -wallet.balance == round_fen(sum(day_amounts))
