"""The codecs and `submeter frame` stay free of Django (fast start-up, usable on their own)."""

from __future__ import annotations

import subprocess
import sys

MODULES = (
    "submeter.protocols.dlt645",
    "submeter.protocols.cjt188",
    "submeter.protocols.modbus_maps",
    "submeter.protocols.mqtt_payloads",
    "submeter.protocols.mqtt_topics",
    "submeter.cli.frame",
)


def test_protocols_and_frame_command_do_not_import_django() -> None:
    code = (
        "import importlib, sys\n"
        f"for name in {MODULES!r}:\n"
        "    importlib.import_module(name)\n"
        "print(sorted(m for m in sys.modules if m == 'django' or m.startswith('django.')))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert result.stdout.strip() == "[]"
