"""The ledger audit: each check must be able to fail."""

from decimal import Decimal

from submeter.ledger import services
from submeter.ledger.choices import AccountKind
from submeter.ledger.integrity import audit_ledger
from submeter.ledger.models import Account


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

    assert [check.name for check in audit_ledger().checks if not check.ok] == ["wallet_floor"]


def test_audit_catches_a_wrong_cached_balance(customer, admin_user):
    services.topup(admin_user, customer, "10", "cash")
    Account.objects.filter(customer=customer).update(balance=Decimal("11.00"))

    assert [check.name for check in audit_ledger().checks if not check.ok] == [
        "wallet_balance_cached"
    ]
