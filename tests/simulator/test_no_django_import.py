"""The simulator and the MQTT helpers stay free of Django."""

from __future__ import annotations

import subprocess
import sys

MODULES = ("submeter.simulator", "submeter.mqtt.broker", "submeter.mqtt.client")


def test_simulator_and_mqtt_helpers_do_not_import_django() -> None:
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
