"""The `submeter` command: one entry point, one module per group of sub-commands.

Each module in `COMMAND_MODULES` exposes `register(subparsers)`, which adds its sub-command(s)
with `set_defaults(handler=...)`; a handler takes the parsed arguments and returns an exit code.
Modules are imported lazily so that `submeter frame ...` does not pay for Django start-up.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

COMMAND_MODULES = (
    "submeter.cli.server",
    "submeter.cli.quote",
    "submeter.cli.frame",
    "submeter.cli.ledger",
    "submeter.cli.metering",
    "submeter.cli.billing",
    "submeter.cli.simulate",
    "submeter.cli.control",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="submeter",
        description="Submeter: meter, charge and control resold electricity and water.",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:
                raise
            continue
        module.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    handler = getattr(args, "handler", None)
    if handler is None:
        parser.print_help()
        return 2
    return int(handler(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
