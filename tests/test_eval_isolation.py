"""The held-out evaluation set never reaches training: not by path, not by copied text."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from scripts.train import INPUTS

ROOT = Path(__file__).resolve().parent.parent
HELD_OUT = sorted((ROOT / "eval").glob("*.yml"))


def _squash(text: str) -> str:
    return re.sub(r"[\W_]+", "", text).lower()


def test_training_inputs_do_not_include_eval() -> None:
    assert not any(name.startswith("eval") for name in INPUTS)
    for name in ("config.yml", "endpoints.yml", "scripts/train.py"):
        assert "heldout" not in (ROOT / name).read_text(encoding="utf-8")


def test_no_held_out_question_is_in_the_training_data() -> None:
    cases = [c for path in HELD_OUT for c in yaml.safe_load(path.read_text("utf-8"))["cases"]]
    held_out = {_squash(c["text"]) for c in cases}
    training = set()
    for file in (ROOT / "nlu_data").rglob("*.yml"):
        for block in yaml.safe_load(file.read_text(encoding="utf-8")).get("nlu", []) or []:
            for line in str(block.get("examples", "")).splitlines():
                if line.strip().startswith("- "):
                    training.add(_squash(line.strip()[2:]))
    assert held_out.isdisjoint(training), sorted(held_out & training)[:5]
    assert len(cases) >= 300 and len({c["expect"] for c in cases}) >= 92
