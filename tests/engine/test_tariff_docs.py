"""The JSON examples of docs/tariffs.md are valid documents."""

import json
import re
from pathlib import Path

import pytest

from submeter.engine import parse_tariff

DOCS = Path(__file__).resolve().parents[2] / "docs" / "tariffs.md"
VERSION_PARTS = ('"energy"', '"surcharges"', '"power_factor"')


def json_blocks() -> list[str]:
    return re.findall(r"```json\n(.*?)```", DOCS.read_text(encoding="utf-8"), re.S)


def as_tariff(block: str) -> dict | None:
    if block.lstrip().startswith('{\n  "id"'):
        return json.loads(block)
    if block.lstrip().startswith(VERSION_PARTS):
        version = {"valid_from": "2025-01-01", "energy": {"kind": "flat", "price": "1"}}
        version.update(json.loads("{" + block + "}"))
        return {"id": "docs", "utility": "electricity", "versions": [version]}
    return None


@pytest.mark.parametrize("block", [b for b in json_blocks() if as_tariff(b) is not None])
def test_tariff_example_in_docs_parses(block):
    parse_tariff(as_tariff(block))
