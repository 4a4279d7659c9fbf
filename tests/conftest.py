import pytest

from tests.factories import make_organisation, make_user


@pytest.fixture
def org(db):
    return make_organisation("示范园区")


@pytest.fixture
def other_org(db):
    return make_organisation("Other Park")


@pytest.fixture
def admin_user(org):
    return make_user(org)


@pytest.fixture(autouse=True)
def forget_ingest_caches():
    """Test databases roll back and reuse ids; the ingest caches must not outlive a test."""
    from submeter.metering.ingest import forget_caches

    forget_caches()
    yield
    forget_caches()
