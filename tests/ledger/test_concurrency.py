"""Concurrency on PostgreSQL (row locks): SQLite serialises every writer, so these run on
PostgreSQL only — CI runs the suite on both."""

import threading
from decimal import Decimal

import pytest
from django.db import connection, connections

from submeter.errors import ServiceError
from submeter.ledger import services
from submeter.ledger.integrity import audit_ledger
from submeter.ledger.models import Account, Transaction
from tests.factories import make_customer, make_organisation, make_user

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def postgresql_only():
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL row locks (set DATABASE_URL); CI runs it")


def run_in_threads(jobs):
    errors = []
    barrier = threading.Barrier(len(jobs))

    def worker(job):
        try:
            barrier.wait(timeout=30)
            job()
        except Exception as exc:  # collected and re-raised in the test thread
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker, args=(job,)) for job in jobs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return errors


def test_fifty_parallel_topups_and_charges_end_at_the_exact_sum():
    org = make_organisation()
    user = make_user(org)
    customer = make_customer(org)
    services.open_account(user, customer)
    jobs = []
    for n in range(25):
        jobs.append(
            lambda n=n: services.topup(
                user, customer, Decimal("10.01") + n, "wechat", idempotency_key=f"t{n}"
            )
        )
        jobs.append(
            lambda n=n: services.charge(
                None, customer, Decimal("3.33"), "electricity", idempotency_key=f"c{n}"
            )
        )

    errors = run_in_threads(jobs)

    assert errors == []
    expected = sum(Decimal("10.01") + n for n in range(25)) - 25 * Decimal("3.33")
    assert Account.objects.get(customer=customer, kind="wallet").balance == expected
    assert audit_ledger([org.pk]).ok


def test_same_idempotency_key_ten_times_in_parallel_makes_one_transaction():
    org = make_organisation()
    user = make_user(org)
    customer = make_customer(org)
    services.open_account(user, customer)
    results = []

    def pay():
        results.append(
            services.topup(
                user, customer, "88.00", "alipay", idempotency_key="alipay-2026112200001"
            ).pk
        )

    errors = run_in_threads([pay] * 10)

    assert errors == []
    assert len(set(results)) == 1
    assert Transaction.objects.filter(idempotency_key="alipay-2026112200001").count() == 1
    assert Account.objects.get(customer=customer, kind="wallet").balance == Decimal("88.00")


def test_parallel_refunds_never_overdraw_the_wallet():
    org = make_organisation()
    user = make_user(org)
    customer = make_customer(org)
    services.topup(user, customer, "100.00", "cash")
    outcomes = []

    def refund():
        try:
            services.refund(user, customer, "30.00", "cash")
            outcomes.append("ok")
        except ServiceError as exc:
            outcomes.append(exc.code)

    errors = run_in_threads([refund] * 8)

    assert errors == []
    assert outcomes.count("ok") == 3
    assert Account.objects.get(customer=customer, kind="wallet").balance == Decimal("10.00")
    assert audit_ledger([org.pk]).ok
