from submeter.tenancy import services
from submeter.tenancy.roles import Role
from submeter.tenancy.scoping import scope_for_user
from tests.factories import make_organisation, make_user


def test_member_sees_own_organisation_and_its_sub_organisations(db):
    group = make_organisation("Group")
    park = make_organisation("Park", parent=group)
    unrelated = make_organisation("Unrelated")
    user = make_user(group, Role.VIEWER)

    scope = scope_for_user(user)

    assert scope.organisation_ids == {group.pk, park.pk}
    assert unrelated.pk not in scope.organisation_ids


def test_member_of_sub_organisation_does_not_see_the_group(db):
    group = make_organisation("Group")
    park = make_organisation("Park", parent=group)
    user = make_user(park, Role.OPERATOR)

    assert scope_for_user(user).organisation_ids == {park.pk}


def test_grant_gives_maintenance_company_access_and_revoking_removes_it(db):
    park = make_organisation("Park")
    maintainer = make_organisation("Maintenance Co", code="maint-co")
    park_admin = make_user(park)
    technician = make_user(maintainer, Role.ADMINISTRATOR)

    grant = services.grant_access(park_admin, park, "maint-co", Role.ELECTRICIAN)
    scope = scope_for_user(technician)
    assert scope.role_in(park.pk) == Role.ELECTRICIAN

    services.revoke_access(park_admin, grant)
    assert park.pk not in scope_for_user(technician).organisation_ids


def test_inactive_membership_sees_nothing(db):
    park = make_organisation()
    user = make_user(park)
    user.memberships.update(is_active=False)

    assert scope_for_user(user).organisation_ids == frozenset()


def test_strongest_role_wins_when_two_paths_reach_one_organisation(db):
    group = make_organisation("Group")
    park = make_organisation("Park", parent=group)
    user = make_user(group, Role.VIEWER)
    from submeter.tenancy.models import Membership

    Membership.objects.create(user=user, organisation=park, role=Role.OPERATOR)

    scope = scope_for_user(user)
    assert scope.role_in(park.pk) == Role.OPERATOR
    assert scope.role_in(group.pk) == Role.VIEWER


def test_narrowed_scope_keeps_only_the_subtree(db):
    group = make_organisation("Group")
    park_a = make_organisation("A", parent=group)
    park_b = make_organisation("B", parent=group)
    user = make_user(group)

    narrowed = scope_for_user(user).narrowed_to(park_a.pk)

    assert narrowed.organisation_ids == {park_a.pk}
    assert park_b.pk not in narrowed.organisation_ids


def test_every_table_of_the_product_carries_its_organisation():
    from django.apps import apps

    # The meter identity version is one counter for the whole database: it holds no tenant data.
    outside = {"tenancy.organisation", "tenancy.user", "metering.meteridentityversion"}
    for model in apps.get_models():
        if not model.__module__.startswith("submeter.") or model._meta.label_lower in outside:
            continue
        names = {field.name for field in model._meta.get_fields()}
        assert names & {"organisation", "transaction"}, model._meta.label_lower
