import datetime

import pytest
from django.test import Client
from django.utils import timezone

from submeter.errors import ServiceError
from submeter.tenancy import services
from submeter.tenancy.models import Invite, Membership, User
from submeter.tenancy.roles import Role


@pytest.fixture
def invite(org, admin_user):
    return services.create_invite(admin_user, org, Role.OPERATOR)


def test_invite_is_valid_for_24_hours(invite):
    assert invite.expires_at - invite.created_at == datetime.timedelta(hours=24)


def test_new_person_joins_with_the_invited_role_through_the_link(invite, org):
    client = Client()

    answer = client.post(
        f"/invite/{invite.token}/",
        {
            "username": "newbie",
            "password": "Sparkling-Meter-42",
            "password_again": "Sparkling-Meter-42",
        },
    )

    assert answer.status_code == 302
    membership = Membership.objects.get(user__username="newbie")
    assert (membership.organisation, membership.role) == (org, Role.OPERATOR)
    assert client.get("/console/").status_code == 200


def test_expired_invite_is_refused_and_creates_nobody(invite):
    Invite.objects.filter(pk=invite.pk).update(
        expires_at=timezone.now() - datetime.timedelta(seconds=1)
    )

    answer = Client().post(
        f"/invite/{invite.token}/",
        {
            "username": "late",
            "password": "Sparkling-Meter-42",
            "password_again": "Sparkling-Meter-42",
        },
        HTTP_ACCEPT_LANGUAGE="en",
    )

    assert answer.status_code == 410
    assert b"expired" in answer.content
    assert not User.objects.filter(username="late").exists()


def test_invite_cannot_be_used_twice(invite):
    services.accept_invite(invite.token, username="first", password="Sparkling-Meter-42")

    with pytest.raises(ServiceError) as error:
        services.accept_invite(invite.token, username="second", password="Sparkling-Meter-42")

    assert error.value.code == "invite_used"
    assert not User.objects.filter(username="second").exists()


def test_weak_password_is_refused_and_creates_nobody(invite):
    with pytest.raises(ServiceError) as error:
        services.accept_invite(invite.token, username="weak", password="123")

    assert error.value.code == "weak_password"
    assert not User.objects.filter(username="weak").exists()
    invite.refresh_from_db()
    assert invite.accepted_at is None


def test_unknown_invite_link_is_404(db):
    assert Client().get("/invite/not-a-token/").status_code == 404


def test_expired_invite_says_so_in_chinese_by_default(invite):
    Invite.objects.filter(pk=invite.pk).update(
        expires_at=timezone.now() - datetime.timedelta(seconds=1)
    )

    answer = Client().get(f"/invite/{invite.token}/")

    assert answer.status_code == 410
    assert "此邀请链接已过期" in answer.content.decode()
