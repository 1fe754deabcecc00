"""rasa_server: the Rasa server with a fix to its hot path, checked in Rasa's own environment."""

from __future__ import annotations

import subprocess

import pytest

from bot.stack import ROOT

pytestmark = pytest.mark.e2e
CHECK = """
from jsonschema import ValidationError
from rasa.core.actions.action import RemoteAction
from rasa_server.speedups import apply

action = RemoteAction("action_check", None)
good = {"events": [{"event": "slot", "name": "phone", "value": "13812345678"}],
        "responses": [{"text": "好的"}]}
bad = {"events": [{"event": "slot", "value": 1}]}
apply()
apply()  # once is enough; a second call changes nothing
assert RemoteAction._validate_action_result.fast
assert action._validate_action_result(good) is True
try:
    action._validate_action_result(bad)
except ValidationError as error:
    assert "Failed to validate Action server response" in error.message, error.message
    print("ok")
"""


def test_action_results_are_checked_as_rasa_checks_them() -> None:
    """A valid action server response passes; an invalid one raises Rasa's own error."""
    python = ROOT / ".venv-rasa" / "bin" / "python"
    done = subprocess.run(
        [str(python), "-c", CHECK], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().endswith("ok")
