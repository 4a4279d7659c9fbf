import pytest

from submeter.ledger.integrity import audit_ledger
from tests.factories import make_customer


@pytest.fixture
def customer(org):
    return make_customer(org, name="王氏商贸")


@pytest.fixture
def audited(db):
    """Every money test ends with the ledger audit."""
    yield
    report = audit_ledger()
    assert report.ok, report.as_dict()
