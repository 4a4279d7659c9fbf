"""`submeter quote TARIFF.json USAGE.json`: rate usage against a tariff and print the bill.

Pure engine work: no Django, no database.
"""

from __future__ import annotations

import argparse
import json
import sys
import unicodedata
from pathlib import Path
from typing import Any

from submeter.engine.errors import EngineError, TariffError
from submeter.engine.quote import quote


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "quote",
        help="rate a usage document against a tariff document and print the bill",
        description=(
            "Rate USAGE.json against TARIFF.json (see docs/tariffs.md) and print the bill "
            "lines and total as JSON, amounts as strings."
        ),
    )
    parser.add_argument("tariff", type=Path, metavar="TARIFF.json")
    parser.add_argument("usage", type=Path, metavar="USAGE.json")
    parser.add_argument(
        "--table", action="store_true", help="print a human-readable table instead of JSON"
    )
    parser.set_defaults(handler=run_quote)


def read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise QuoteInputError(f"{path}: {error.strerror}") from None
    except json.JSONDecodeError as error:
        raise QuoteInputError(
            f"{path}: not valid JSON (line {error.lineno}, column {error.colno})"
        ) from None


class QuoteInputError(Exception):
    """A file that cannot be read as JSON."""


def run_quote(args: argparse.Namespace) -> int:
    try:
        bill = quote(read_json(args.tariff), read_json(args.usage))
    except QuoteInputError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    except EngineError as error:
        source = args.tariff if isinstance(error, TariffError) else args.usage
        where = f"{source}: {error.field}: " if error.field else f"{source}: "
        print(f"error: {where}{error.message} [{error.code}]", file=sys.stderr)
        return 1
    if args.table:
        print(bill_table(bill))
    else:
        print(json.dumps(bill, ensure_ascii=False, indent=2))
    return 0


def display_width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(char) in "WF" else 1 for char in text)


def pad(text: str, width: int, *, right: bool = False) -> str:
    padding = " " * max(0, width - display_width(text))
    return padding + text if right else text + padding


def bill_table(bill: dict[str, Any]) -> str:
    header = ["Item", "", "Quantity", "Unit", "Unit price", "Amount"]
    rows = [
        [
            line["label_zh"],
            line["label_en"],
            line["quantity"],
            line["unit"],
            line["unit_price"],
            line["amount"],
        ]
        for line in bill["lines"]
    ]
    footer = ["合计", "Total", "", "", "", bill["total"]]
    table = [header, *rows, footer]
    widths = [max(display_width(row[column]) for row in table) for column in range(len(header))]
    numeric = {2, 4, 5}

    def render(row: list[str]) -> str:
        cells = [
            pad(cell, widths[column], right=column in numeric) for column, cell in enumerate(row)
        ]
        return "  ".join(cells).rstrip()

    rule = "-" * len(render(header))
    return "\n".join([render(header), rule, *map(render, rows), rule, render(footer)])
