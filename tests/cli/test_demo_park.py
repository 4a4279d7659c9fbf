from submeter.customers.models import Customer
from submeter.demo.park import seed_demo_park
from submeter.metering.models import Gateway, Meter
from submeter.sites.models import Building, Floor, Room


def test_demo_park_has_300_rooms_with_meters_and_tenants(db):
    organisation, login = seed_demo_park(password="Sparkling-Meter-42")

    assert Building.objects.filter(organisation=organisation).count() == 3
    assert Floor.objects.filter(organisation=organisation).count() == 15
    assert Room.objects.filter(organisation=organisation).count() == 300
    assert Meter.objects.filter(kind="electricity", room__isnull=False).count() == 300
    assert Meter.objects.filter(kind="water", room__floor__level=1).count() == 60
    assert Gateway.objects.count() == 3
    occupied = Room.objects.filter(customer__isnull=False).count()
    assert 200 < occupied < 300
    assert Customer.objects.count() == occupied
    assert login.created and login.username == "admin"


def test_seeding_twice_changes_nothing(db):
    seed_demo_park(password="Sparkling-Meter-42")
    _organisation, login = seed_demo_park()

    assert Room.objects.count() == 300
    assert Meter.objects.count() == 360
    assert not login.created
