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


def test_grant_and_its_revocation_are_in_the_audit_log(org, admin_user):
    from submeter.tenancy import services
    from tests.factories import make_organisation

    make_organisation("运维公司", code="maint")
    grant = services.grant_access(admin_user, org, "maint", "electrician")
    services.revoke_access(admin_user, grant)

    entries = list(AuditEntry.objects.filter(object_type="tenancy.accessgrant").order_by("id"))

    assert [e.action for e in entries] == ["create", "grant.revoke"]
    assert entries[1].before == {"revoked_at": None, "revoked_by_id": None}
    assert entries[1].after["revoked_by_id"] == admin_user.pk
    assert {e.organisation_id for e in entries} == {org.pk}


def test_invite_and_its_acceptance_are_in_the_audit_log(org, admin_user):
    from submeter.tenancy import services

    invite = services.create_invite(admin_user, org, "operator")
    membership = services.accept_invite(
        invite.token, username="newbie", password="Sparkling-Meter-42"
    )

    created = AuditEntry.objects.get(action="invite.create")
    accepted = AuditEntry.objects.get(action="invite.accept")
    assert (created.actor, created.organisation_id, created.after) == (
        admin_user,
        org.pk,
        {"role": "operator"},
    )
    assert (accepted.actor, accepted.organisation_id) == (membership.user, org.pk)
    assert accepted.after["role"] == "operator"


@pytest.mark.parametrize(
    ("role", "status"),
    [
        ("administrator", 200),
        ("finance", 200),
        ("operator", 403),
        ("electrician", 403),
        ("viewer", 403),
    ],
)
def test_audit_log_is_browsed_by_administrators_and_finance(org, role, status):
    from django.test import Client

    from tests.factories import make_user

    client = Client()
    client.force_login(make_user(org, role))

    assert client.get("/console/tenancy/auditentry/").status_code == status
