"""SQL fragments that work the same on SQLite and PostgreSQL, for the hot paths that read or
write thousands of rows per statement without building model instances."""

from __future__ import annotations

import json
from collections.abc import Iterable

from django.db import connection


def in_list(column: str, values: Iterable) -> tuple[str, object]:
    """`column IN (…values…)` with the values as one parameter (a JSON array on SQLite, an
    array on PostgreSQL), so a list of any length is one bound value, not one per item."""
    values = list(values)
    if connection.vendor != "postgresql":
        return f"{column} IN (SELECT value FROM json_each(%s))", json.dumps(values)
    if all(type(value) is int for value in values):
        return f"{column} = ANY(%s::bigint[])", _int_array(values)
    return f"{column} = ANY(%s)", values


def each_id(ids: Iterable[int], name: str) -> tuple[str, object]:
    """A one-column table of the ids, its column called `name`, to select from (`FROM …`)."""
    ids = list(ids)
    if connection.vendor == "postgresql":
        return f"unnest(%s::bigint[]) AS {name}", _int_array(ids)
    return f"(SELECT value AS {name} FROM json_each(%s))", json.dumps(ids)


def _int_array(values: list[int]) -> str:
    """A PostgreSQL array literal: psycopg adapts a list of ints item by item, several times
    slower."""
    return "{" + ",".join(map(str, values)) + "}"


def as_text(column: str) -> str:
    """A datetime column read as text: both databases' drivers convert datetimes row by row in
    Python, while a hot path sees few distinct values and converts each once."""
    return f"CAST({column} AS TEXT)"
