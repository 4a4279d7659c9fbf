"""`submeter simulate`."""

from __future__ import annotations

import argparse
import json
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from submeter.cli import simulate
from submeter.protocols import dlt645
from submeter.protocols.mqtt_payloads import parse_readings
from tests.simulator.conftest import Subscriber

RUN_SIMULATE = """
import argparse, sys
from submeter.cli import simulate
parser = argparse.ArgumentParser(prog="submeter")
simulate.register(parser.add_subparsers())
args = parser.parse_args(sys.argv[1:])
sys.exit(args.handler(args))
"""


def answer_ctrl_c() -> None:
    """In the child: Ctrl-C back to its default even when the test run itself was started in
    the background by a shell (which ignores SIGINT, and children inherit that)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def run(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="submeter")
    simulate.register(parser.add_subparsers())
    args = parser.parse_args(["simulate", *argv])
    result: int = args.handler(args)
    return result


def test_dlt645_run_prints_each_gateways_address_and_stops(
    capsys: pytest.CaptureFixture[str],
) -> None:
    argv = ["--via", "dlt645", "--meters", "6", "--gateways", "2", "--speed", "600"]
    assert run([*argv, "--duration", "0.5", "--progress-seconds", "0.2"]) == 0
    output = capsys.readouterr().out
    assert len(re.findall(r"DL/T 645 127\.0\.0\.1:\d+", output)) == 2
    assert "CJ/T 188 127.0.0.1:" in output
    assert "requests answered" in output
    assert output.rstrip().endswith("Stopped.")


def test_mqtt_run_publishes_readings_to_the_given_broker(
    mqtt_url: str, org_code: str, subscribe: Callable[[str], Subscriber]
) -> None:
    readings = subscribe(f"submeter/{org_code}/+/up/readings")
    argv = ["--meters", "5", "--speed", "3600", "--mqtt-url", mqtt_url, "--org", org_code]
    assert run([*argv, "--duration", "1", "--progress-seconds", "0.5"]) == 0
    messages = readings.wait_for(lambda message: True, count=2)
    assert parse_readings(messages[0].payload).gateway_id == "sim-gw-001"


def test_meters_file_gives_the_meters_and_gateways(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "meters.json"
    meters = [
        {"address": "202601010100", "kind": "electricity", "phases": 3, "gateway": "GW-01"},
        {"address": "202601010200", "kind": "electricity", "phases": 1, "gateway": "GW-02"},
    ]
    path.write_text(json.dumps(meters))
    assert run(["--via", "modbus", "--meters-file", str(path), "--duration", "0.2"]) == 0
    output = capsys.readouterr().out
    assert re.search(r"GW-01: 1 meter, Modbus TCP 127\.0\.0\.1:\d+", output)
    assert "GW-02" in output


def test_modbus_with_water_meters_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["--via", "modbus", "--meters", "5", "--water-share", "0.5"]) == 2
    assert "water" in capsys.readouterr().err


def test_outage_needs_both_options(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["--outage-after", "5"]) == 2
    assert "--outage-for" in capsys.readouterr().err


def test_ctrl_c_stops_cleanly() -> None:
    argv = ["simulate", "--via", "dlt645", "--meters", "2", "--water-share", "0"]
    process = subprocess.Popen(
        [sys.executable, "-c", RUN_SIMULATE, *argv],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=answer_ctrl_c,
    )
    try:
        assert process.stdout is not None
        deadline = time.monotonic() + 30
        lines = []
        while "Press Ctrl-C" not in (line := process.stdout.readline()):
            assert time.monotonic() < deadline and process.poll() is None
            lines.append(line)
        match = re.search(r"127\.0\.0\.1:(\d+)", "".join(lines))
        assert match is not None
        port = int(match[1])
        with socket.create_connection(("127.0.0.1", port), timeout=5) as connection:
            connection.sendall(dlt645.encode_read_request("990000000001", "00010000"))
            assert dlt645.decode_read_reply(dlt645.decode_frame(connection.recv(64))).value
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 0, err
    assert out.rstrip().endswith("Stopped.")
