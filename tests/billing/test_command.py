from decimal import Decimal

from submeter.billing.services import set_settlement
from submeter.cli import main
from tests.billing.conftest import balance, local


def test_billing_deduct_command_bills_every_meter_and_reports(meter, read, customer, capsys):
    read(local(2025, 7, 1, 0, 0), energy_kwh="0")
    read(local(2025, 7, 1, 0, 15), energy_kwh="3")

    assert main(["billing", "deduct"]) == 0

    assert "1/1 meters  1 intervals  ¥3.00 posted" in capsys.readouterr().out
    assert balance(customer) == Decimal("-3.00")


def test_billing_settle_command_posts_the_month(meter, read, customer, admin_user, capsys):
    set_settlement(admin_user, customer, "month_end")
    read(local(2024, 7, 1, 0, 0), energy_kwh="0")
    read(local(2024, 7, 1, 0, 15), energy_kwh="3")
    main(["billing", "deduct", "--meter", str(meter.pk)])

    assert main(["billing", "settle", "--month", "2024-07"]) == 0

    assert "¥3.00 in 1 charges" in capsys.readouterr().out
    assert balance(customer) == Decimal("-3.00")


def test_billing_settle_refuses_a_malformed_month(db, capsys):
    assert main(["billing", "settle", "--month", "July"]) == 2
