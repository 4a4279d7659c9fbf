import pytest

from submeter.sites.models import Building
from submeter.tenancy.models import AuditEntry
from submeter.tenancy.services import delete_record, save_record


def test_create_update_delete_are_recorded_with_before_and_after(org, admin_user):
    building = save_record(admin_user, Building(organisation=org, name="A栋"))
    building.name = "B栋"
    save_record(admin_user, building)
    delete_record(admin_user, building)

    entries = list(AuditEntry.objects.filter(object_type="sites.building").order_by("id"))

    assert [e.action for e in entries] == ["create", "update", "delete"]
    assert entries[1].before == {"name": "A栋"} and entries[1].after == {"name": "B栋"}
    assert entries[2].before["name"] == "B栋"
    assert {e.organisation_id for e in entries} == {org.pk}
    assert {e.actor_id for e in entries} == {admin_user.pk}


def test_audit_entries_cannot_be_changed_or_deleted(org, admin_user):
    save_record(admin_user, Building(organisation=org, name="A栋"))
    entry = AuditEntry.objects.get()

    entry.action = "forged"
    with pytest.raises(TypeError):
        entry.save()
    with pytest.raises(TypeError):
        entry.delete()
    with pytest.raises(TypeError):
        AuditEntry.objects.update(action="forged")
    with pytest.raises(TypeError):
        AuditEntry.objects.all().delete()
    assert AuditEntry.objects.get().action == "create"


def test_invalid_record_is_not_saved_nor_audited(org, admin_user):
    from submeter.errors import ServiceError

    with pytest.raises(ServiceError):
        save_record(admin_user, Building(organisation=org, name=""))

    assert not Building.objects.exists()
    assert not AuditEntry.objects.exists()
