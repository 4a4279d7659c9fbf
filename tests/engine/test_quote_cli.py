"""`submeter quote TARIFF.json USAGE.json` prints the bill; bad input exits non-zero."""

import json
from pathlib import Path

from submeter.cli import main

SAMPLE = Path(__file__).resolve().parents[2] / "docs" / "examples" / "sample-bill"
TARIFF = str(SAMPLE / "tariff.json")
USAGE = str(SAMPLE / "usage.json")


def test_cli_prints_sample_total_as_json(capsys):
    assert main(["quote", TARIFF, USAGE]) == 0
    bill = json.loads(capsys.readouterr().out)
    assert bill["total"] == "19754.96"
    assert [line["amount"] for line in bill["lines"]] == [
        "2105.40",
        "2981.54",
        "425.75",
        "2391.55",
        "12000.00",
        "-149.28",
    ]


def test_cli_table_shows_lines_and_total(capsys):
    assert main(["quote", TARIFF, USAGE, "--table"]) == 0
    out = capsys.readouterr().out
    assert "尖电费" in out
    assert out.rstrip().splitlines()[-1].endswith("19754.96")


def test_cli_missing_file_is_one_line_error(tmp_path, capsys):
    assert main(["quote", TARIFF, str(tmp_path / "missing.json")]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert len(captured.err.strip().splitlines()) == 1
    assert "missing.json" in captured.err


def test_cli_invalid_json_is_one_line_error(tmp_path, capsys):
    bad = tmp_path / "usage.json"
    bad.write_text("{not json", encoding="utf-8")
    assert main(["quote", TARIFF, str(bad)]) == 1
    assert "not valid JSON" in capsys.readouterr().err


def test_cli_price_as_number_names_the_field(tmp_path, capsys):
    tariff = json.loads(Path(TARIFF).read_text(encoding="utf-8"))
    tariff["versions"][0]["energy"]["rates"]["sharp"]["price"] = 1.0606
    path = tmp_path / "tariff.json"
    path.write_text(json.dumps(tariff), encoding="utf-8")
    assert main(["quote", str(path), USAGE]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert "versions[0].energy.rates.sharp.price" in err
    assert "[number_not_string]" in err
