"""Sub-commands that run the web application: demo, serve, migrate, createadmin."""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from pathlib import Path


def setup_django(data_dir: Path | None = None, database_url: str | None = None) -> None:
    if data_dir is not None:
        os.environ["SUBMETER_DATA_DIR"] = str(data_dir)
    if database_url is not None:
        os.environ["DATABASE_URL"] = database_url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "submeter.settings")
    import django

    django.setup()


def _migrate(verbosity: int = 0) -> None:
    from django.core.management import call_command

    call_command("migrate", interactive=False, verbosity=verbosity)


def _serve(host: str, port: int, threads: int = 8) -> int:
    """Serve the WSGI application with waitress (a production server, pure Python) until Ctrl-C."""
    import logging

    from waitress import serve as waitress_serve

    from submeter.wsgi import application

    logging.getLogger("waitress.queue").setLevel(logging.ERROR)
    with contextlib.suppress(KeyboardInterrupt):
        waitress_serve(application, host=host, port=port, threads=threads, ident="submeter")
    print("Stopped.")
    return 0


def demo(args: argparse.Namespace) -> int:
    data_dir = Path(args.data).resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    setup_django(data_dir, f"sqlite:///{data_dir / 'submeter.sqlite3'}")
    print(f"Data directory: {data_dir}")
    print("Preparing the database…", flush=True)
    _migrate()
    from submeter.demo.park import seed_demo_park

    login_file = data_dir / "demo-login.txt"
    print("Seeding the demo park (示范园区 / Demo Park)…", flush=True)
    organisation, login = seed_demo_park()
    if login.created:
        login_file.write_text(f"{login.username}\n{login.password}\n")
        login_file.chmod(0o600)
    password = login.password
    if not password and login_file.exists():
        password = login_file.read_text().splitlines()[1]
    url = f"http://{args.host}:{args.port}/"
    print()
    print(f"  Console:  {url}")
    print(f"  Log in:   {login.username} / {password or '(the password you set)'}")
    print(f"  API docs: {url}api/docs/")
    print()
    park = None
    if not args.no_simulation:
        from django.conf import settings

        from submeter.demo.live import start_live_park

        park = start_live_park(organisation, mqtt_url=os.environ.get("MQTT_URL", ""))
        settings.MQTT_URL = park.mqtt_url  # read-now and commands use the park's broker
        print(
            f"  MQTT:     {park.mqtt_url} (the park's {len(park.gateways)} gateways publish here)"
        )
        print("  The simulated meters catch up on the last days' readings, then run live.")
    print("Press Ctrl-C to stop.", flush=True)
    try:
        return _serve(args.host, args.port)
    finally:
        if park is not None:
            park.stop()


def serve(args: argparse.Namespace) -> int:
    setup_django()
    return _serve(args.host, args.port, args.threads)


def migrate(args: argparse.Namespace) -> int:
    setup_django()
    _migrate(verbosity=1)
    return 0


def createadmin(args: argparse.Namespace) -> int:
    setup_django()
    from django.contrib.auth import get_user_model

    from submeter.errors import ServiceError
    from submeter.tenancy.services import create_administrator

    existing = get_user_model().objects.filter(username=args.username).exists()
    try:
        membership = create_administrator(
            organisation_name=args.org, username=args.username, password=args.password
        )
    except ServiceError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 1
    print(
        f"{membership.user.username} is an administrator of {membership.organisation.name} "
        f"(code {membership.organisation.code})."
    )
    if existing:
        print(
            f"{args.username} already existed: its password was not changed "
            "(change it in the console)."
        )
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "demo",
        help="seed a demo park in SQLite and serve the console",
        description="Create (or reuse) a SQLite database under DIR, seed the demo park "
        "示范园区 / Demo Park and serve the console. Ctrl-C stops it.",
    )
    parser.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument(
        "--data", default="var", metavar="DIR", help="data directory (default ./var)"
    )
    parser.add_argument(
        "--no-simulation",
        action="store_true",
        help="serve the seeded data only: no simulated meters, broker or ingest",
    )
    parser.set_defaults(handler=demo)

    parser = subparsers.add_parser(
        "serve",
        help="production web server (waitress, WSGI)",
        description="Serve the console and the API with waitress. Configure with DATABASE_URL etc.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    parser.add_argument("--threads", type=int, default=8, help="worker threads (default 8)")
    parser.set_defaults(handler=serve)

    parser = subparsers.add_parser(
        "migrate", help="create or upgrade the database schema", description="Apply migrations."
    )
    parser.set_defaults(handler=migrate)

    parser = subparsers.add_parser(
        "createadmin",
        help="create an organisation's administrator (non-interactive)",
        description="Create the organisation NAME if missing, and the user U as its administrator.",
    )
    parser.add_argument("--org", required=True, metavar="NAME", help="organisation name")
    parser.add_argument("--username", required=True, metavar="U")
    parser.add_argument("--password", required=True, metavar="P")
    parser.set_defaults(handler=createadmin)
