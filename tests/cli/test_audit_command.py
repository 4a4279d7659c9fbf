from submeter.cli import main
from submeter.ledger import services
from submeter.ledger.models import Account
from tests.factories import make_customer, make_user


def test_audit_passes_on_a_sound_ledger(org, capsys):
    services.topup(make_user(org), make_customer(org), "10", "cash")

    assert main(["audit"]) == 0
    assert "Ledger audit passed." in capsys.readouterr().out


def test_audit_fails_when_a_cached_balance_is_wrong(org, capsys):
    customer = make_customer(org)
    services.topup(make_user(org), customer, "10", "cash")
    Account.objects.filter(customer=customer).update(balance="999.00")

    assert main(["audit"]) == 1
    out = capsys.readouterr().out
    assert "FAIL  wallet_balance_cached" in out
