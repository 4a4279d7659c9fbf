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


def test_createadmin_for_an_existing_user_says_its_password_is_unchanged(db, capsys):
    from django.contrib.auth import authenticate

    main(["createadmin", "--org", "East", "--username", "a1", "--password", "Sparkling-Meter-42"])
    capsys.readouterr()

    code = main(["createadmin", "--org", "West", "--username", "a1", "--password", "Other-Pass-99"])

    assert code == 0
    assert "password was not changed" in capsys.readouterr().out
    assert authenticate(username="a1", password="Sparkling-Meter-42") is not None
    assert Membership.objects.filter(user__username="a1", organisation__name="West").exists()


def test_createadmin_refuses_a_weak_password(db, capsys):
    code = main(["createadmin", "--org", "East", "--username", "weak", "--password", "123"])

    assert code == 1
    assert "error" in capsys.readouterr().err
    assert not Membership.objects.filter(user__username="weak").exists()


def command_lines(parser, prefix=()):
    """Every sub-command and nested sub-command (`billing deduct`) of the parser."""
    import argparse

    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub_parser in action.choices.items():
                yield (*prefix, name)
                yield from command_lines(sub_parser, (*prefix, name))


def test_every_sub_command_has_help(capsys):
    import pytest

    from submeter.cli import build_parser

    commands = list(command_lines(build_parser()))
    assert {("demo",), ("serve",), ("migrate",), ("createadmin",)} <= set(commands)
    assert ("billing", "deduct") in commands
    for command in commands:
        with pytest.raises(SystemExit) as exit_:
            main([*command, "--help"])
        assert exit_.value.code == 0
        assert "usage" in capsys.readouterr().out
