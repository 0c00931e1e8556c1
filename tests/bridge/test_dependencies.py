"""The bridge runs on a Pi without the server: it imports only stdlib, paho, pyserial, devices."""

from __future__ import annotations

import json
import subprocess
import sys

ALLOWED = {"labbridge", "devices", "paho", "serial"}

PROBE = """
import json, sys
import labbridge.cli, labbridge.agent
print(json.dumps(sorted({name.split(".")[0] for name in sys.modules})))
"""


def test_the_bridge_imports_nothing_of_the_server_or_its_dependencies():
    result = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, check=True, timeout=30
    )
    loaded = set(json.loads(result.stdout))
    foreign = {
        name
        for name in loaded - ALLOWED - set(sys.stdlib_module_names)
        if not name.startswith("_") and name not in sys.builtin_module_names
    }
    assert "labbridge" in loaded and "paho" in loaded and "serial" in loaded
    assert foreign == set()
