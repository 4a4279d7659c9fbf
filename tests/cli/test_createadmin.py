from submeter.cli import main
from submeter.tenancy.models import Membership, Organisation
from submeter.tenancy.roles import Role


def test_createadmin_creates_the_organisation_and_its_administrator(db, capsys):
    code = main(
        [
            "createadmin",
            "--org",
            "东区物业",
            "--username",
            "dong",
            "--password",
            "Sparkling-Meter-42",
        ]
    )

    assert code == 0
    membership = Membership.objects.get(user__username="dong")
    assert (membership.organisation.name, membership.role) == ("东区物业", Role.ADMINISTRATOR)
    assert "dong" in capsys.readouterr().out


def test_createadmin_twice_reuses_the_organisation(db):
    main(["createadmin", "--org", "East", "--username", "a1", "--password", "Sparkling-Meter-42"])
    main(["createadmin", "--org", "East", "--username", "a2", "--password", "Sparkling-Meter-42"])

    assert Organisation.objects.filter(name="East").count() == 1
    assert (
        Membership.objects.filter(organisation__name="East", role=Role.ADMINISTRATOR).count() == 2
    )


def test_createadmin_refuses_a_weak_password(db, capsys):
    code = main(["createadmin", "--org", "East", "--username", "weak", "--password", "123"])

    assert code == 1
    assert "error" in capsys.readouterr().err
    assert not Membership.objects.filter(user__username="weak").exists()


def test_every_sub_command_has_help(capsys):
    import pytest

    from submeter.cli import build_parser

    parser = build_parser()
    commands = parser._subparsers._group_actions[0].choices
    assert {"demo", "serve", "migrate", "createadmin"} <= set(commands)
    for name in commands:
        with pytest.raises(SystemExit) as exit_:
            main([name, "--help"])
        assert exit_.value.code == 0
        assert "usage" in capsys.readouterr().out
