"""`make eval`: answer quality on held-out questions (eval/faq_heldout.yml), never trained on.

Starts the Rasa server with the trained model, sends every question to /model/parse and reports
top-1 accuracy: for FAQ cases the intent must be `faq` and the ResponseSelector must pick the
expected FAQ; for the other cases the intent must match.
"""

from __future__ import annotations

import json
import sys
import time
from collections import Counter

import httpx
import yaml

from bot.stack import ROOT, Stack

CASES = ROOT / "eval" / "faq_heldout.yml"


def predict(http: httpx.Client, url: str, text: str) -> tuple[str, float]:
    """The label the model gives `text` (an FAQ id, or an intent name) and its confidence."""
    parsed = http.post(f"{url}/model/parse", json={"text": text}).json()
    intent = parsed["intent"]["name"]
    if intent != "faq":
        return intent, float(parsed["intent"]["confidence"])
    response = parsed["response_selector"]["faq"]["response"]
    return response["intent_response_key"].split("/", 1)[1], float(response["confidence"])


def main() -> int:
    """Run the evaluation and print the figures."""
    cases = yaml.safe_load(CASES.read_text(encoding="utf-8"))["cases"]
    stack = Stack(rasa_port=5095, actions_port=5096, with_api=False)
    print(f"eval: {len(cases)} held-out cases; starting Rasa ...", flush=True)
    stack.start(None)
    try:
        stack.wait_ready(300)
        results = []
        started = time.monotonic()
        with httpx.Client(timeout=30) as http:
            for case in cases:
                label, confidence = predict(http, stack.rasa_url, case["text"])
                group = "faq" if case["expect"].startswith("faq-") else case["expect"]
                results.append((group, case["expect"], label, confidence, case["text"]))
        elapsed = time.monotonic() - started
    finally:
        stack.stop()
    right, total = Counter(), Counter()
    for group, expect, label, _, _ in results:
        total[group] += 1
        right[group] += expect == label
    for group in sorted(total):
        print(
            f"eval: {group:<14} {right[group]:>4}/{total[group]:<4} "
            f"{100 * right[group] / total[group]:.1f}%"
        )
    overall = sum(right.values()) / len(results)
    print(
        f"eval: overall        {sum(right.values()):>4}/{len(results):<4} {100 * overall:.1f}%"
        f"   ({1000 * elapsed / len(results):.0f} ms per parse)"
    )
    misses = [r for r in results if r[1] != r[2]]
    out = ROOT / "results" / "eval_misses.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(
        json.dumps(
            [
                {"text": t, "expect": e, "got": g, "confidence": round(c, 3)}
                for _, e, g, c, t in misses
            ],
            ensure_ascii=False,
            indent=1,
        )
    )
    print(f"eval: misses written to {out.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
