"""The report of bench/e2e.py: e2e.json, e2e.md and latency.png under bench/results/."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from matplotlib.ticker import NullFormatter

CALLBACK_LIMIT_MS = 4500


def main_runs(results: dict[str, Any]) -> list[dict[str, Any]]:
    return [r for r in results["runs"] if (r["rasa_servers"], r["api_workers"]) == (1, 1)]


def targets(results: dict[str, Any]) -> list[tuple[str, str, bool]]:
    """(target, figure, met) from one run; ratios, never timed assertions."""
    runs = main_runs(results)
    best = max(r["x_rasa"] for r in runs)
    top = max(runs, key=lambda r: r["level"])
    p99 = max(r["callback_p99_ms"] for r in results["runs"])
    ratio = results["fast_path_ratio"]
    return [
        (
            "end-to-end throughput >= 0.9x Rasa direct",
            f"{best:.2f}x",
            best >= 0.9,
        ),
        (
            f"no deadline miss, no lost message at {top['level']}x",
            f"{top['deadline_misses']} misses, {top['lost']} lost",
            top["deadline_misses"] == 0 and top["lost"] == 0,
        ),
        ("callback p99 <= 4.5 s at every load", f"max p99 {p99:.0f} ms", p99 <= CALLBACK_LIMIT_MS),
        ("fast path >= 0.5x bare FastAPI route", f"{ratio:.2f}x", ratio >= 0.5),
    ]


def brief(r: dict[str, Any]) -> str:
    """One level in a line, for the progress output."""
    return (
        f"{r['messages_per_second']} msg/s, Rasa-bound answered {r['nlu_answered_per_second']}/s, "
        f"callback p99 {r['callback_p99_ms']:.0f} ms, "
        f"final reply p95 {r['final_reply_p95_ms']:.0f} ms, async {r['async_replies']}, "
        f"misses {r['deadline_misses']}, lost {r['lost']}, "
        f"errors {r['errors']}"
    )


def table(results: dict[str, Any]) -> str:
    """The terminal table (also the core of e2e.md)."""
    head = (
        f"{'Rasa':>4} {'api':>3} {'load':>5} {'users':>5} {'msg/s':>6} {'NLU/s':>6} {'xRasa':>5} "
        f"{'cb p50':>7} {'cb p95':>7} {'cb p99':>7} {'fin p50':>8} {'fin p95':>8} {'fin p99':>8} "
        f"{'async':>5} {'busy':>4} {'miss':>4} {'err':>3} {'lost':>4}"
    )
    lines = [head]
    for r in results["runs"]:
        ms = [r[f"{k}_ms"] for k in ("callback_p50", "callback_p95", "callback_p99")]
        fin = [r[f"final_reply_{k}_ms"] for k in ("p50", "p95", "p99")]
        lines.append(
            f"{r['rasa_servers']:>4} {r['api_workers']:>3} {r['level']:>4}x {r['users']:>5} "
            f"{r['messages_per_second']:>6} {r['nlu_answered_per_second']:>6} "
            f"{r['x_rasa']:>5.2f} "
            + " ".join(f"{v:>7.0f}" for v in ms)
            + " "
            + " ".join(f"{v:>8.0f}" for v in fin)
            + f" {r['async_replies']:>5} {r['busy_replies']:>4} {r['deadline_misses']:>4} "
            f"{r['errors']:>3} {r['lost']:>4}"
        )
    series, d2 = results["rasa_direct_series"], results["rasa_direct_2"]
    others = sorted(d.get("machine", {}).get("outside_bench_cores", 0.0) for d in series)
    lines += [
        "",
        "Rasa REST webhook directly, 1 server, turns/s before the levels and after each: "
        + ", ".join(f"{d['per_second']}" for d in series)
        + f" (xRasa: a level against the mean of the two around it; p50 {series[0]['p50_ms']} "
        f"ms, p95 {series[0]['p95_ms']} ms; cores used by other work meanwhile at most "
        f"{others[-1]}); 2 servers {d2['per_second']} turns/s",
        f"bare FastAPI route {results['bare_route']['per_second']} req/s; callback fast path "
        f"{results['callback_fast_path']['per_second']} req/s = {results['fast_path_ratio']:.2f}x",
        rasa_loop(results),
        "",
    ]
    lines += [
        f"[{'met' if ok else 'MISSED'}] {name}: {figure}" for name, figure, ok in targets(results)
    ]
    return "\n".join(lines)


def rasa_loop(results: dict[str, Any]) -> str:
    """How much of the time Rasa's event loop ran, and waited for a CPU, alone and in each main
    level: what Rasa loses to the rest of the stack on the same cores."""

    def pair(figures: dict[str, Any]) -> str:
        thread = figures.get("busiest_thread", {}).get("rasa", {})
        ran, waited = thread.get("on_cpu_percent", 0), thread.get("waiting_for_cpu_percent", 0)
        return f"{ran:.0f}/{waited:.0f}"

    levels = ", ".join(f"{r['level']}x {pair(r)}" for r in main_runs(results))
    return (
        "Rasa's event loop, % of the time on a CPU / waiting for one: directly "
        f"{pair(results['rasa_direct_series'][0])}; end to end {levels}"
    )


def _markdown(results: dict[str, Any]) -> str:
    out = [
        "# make bench: end to end through WeChat",
        "",
        f"{time.strftime('%Y-%m-%d %H:%M')}, {os.cpu_count()} cores; wall time of the run "
        f"{results['wall_seconds']:.0f} s. Levels are multiples of Rasa's direct throughput; "
        f"think time {results['scenario']['think_seconds']} s; Rasa-bound share of messages "
        f"{results['scenario']['nlu_fraction']}. Times in ms. `NLU/s`: Rasa-bound messages "
        "answered per second; `fin`: until the customer has the final reply (passive or "
        "customer-service API, as the sandbox received it); `async`: answered through the API "
        "after `success`.",
        "",
        "```",
        table(results),
        "```",
        "",
        "## /metrics during each run (differences of the api's counters)",
        "",
        "`deferred busy`: told at once that the answer follows (Rasa's queue was longer than "
        "the budget); `late`: told so when the budget ran out.",
        "",
        "| Rasa | api | load | in | out passive | out API | deferred busy / late "
        "| callbacks <= 1 s / 4.5 s "
        "| Rasa calls | Rasa mean ms | outbox backlog max | handoff queue |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results["runs"]:
        m = r["metrics"]
        out.append(
            f"| {r['rasa_servers']} | {r['api_workers']} | {r['level']}x | {m['messages_in']:.0f} "
            f"| {m['messages_out_passive']:.0f} | {m['messages_out_api']:.0f} "
            f"| {m.get('deferred_busy', 0):.0f} / {m.get('deferred_late', 0):.0f} "
            f"| {m.get('callbacks_within_1_s', 0):.0f} / {m['callbacks_within_4_5_s']:.0f} "
            f"of {m['callbacks']:.0f} | {m['rasa_calls']:.0f} "
            f"| {m['rasa_mean_ms']} | {m['outbox_backlog_max']:.0f} "
            f"| {m['handoff_queue_end']:.0f} |"
        )
    names = sorted({n for r in results["runs"] for n in r["cpu_ms_per_push"]})
    out += [
        "",
        "## Cost of every hop: CPU ms per push, and peak RSS (MB) of each process",
        "",
        "`machine busy`: all cores during the level; `others`: cores used meanwhile by processes "
        "outside the bench (other work on the machine), which the bench's figures compete with.",
        "",
        "| Rasa | api | load | "
        + " | ".join(names)
        + " | RSS "
        + " / ".join(sorted(results["runs"][0]["rss_mb"]))
        + " | machine busy | others |",
        "|---|---|---|" + "---|" * (len(names) + 3),
    ]
    for r in results["runs"]:
        cpu = " | ".join(f"{r['cpu_ms_per_push'].get(n, 0):.1f}" for n in names)
        rss = " / ".join(f"{r['rss_mb'][n]:.0f}" for n in sorted(r["rss_mb"]))
        machine = r.get("machine", {})
        out.append(
            f"| {r['rasa_servers']} | {r['api_workers']} | {r['level']}x | {cpu} | {rss} "
            f"| {machine.get('busy_percent', 0)}% | {machine.get('outside_bench_cores', 0)} |"
        )
    prof = results.get("profile", {})
    if prof and "error" not in prof:
        out += [
            "",
            "## Profile of the api's hot path (bench/profile.py)",
            "",
            *prof.get("summary", []),
        ]
        out += [
            "",
            "The app's steps by inclusive time, text message (Rasa mocked):",
            "",
            "```",
            prof.get("steps", ""),
            "```",
            "",
            "Functions by own time (summed over call sites), text message:",
            "",
            "```",
            prof.get("top", ""),
            "```",
        ]
    out += ["", "![latency against load](latency.png)", ""]
    return "\n".join(out)


def _plot(results: dict[str, Any], path: Path) -> None:
    runs = sorted(main_runs(results), key=lambda r: r["level"])
    levels = [r["level"] for r in runs]
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.5))
    for key, label in (
        ("callback_p50_ms", "callback p50"),
        ("callback_p99_ms", "callback p99"),
        ("final_reply_p50_ms", "final reply p50"),
        ("final_reply_p95_ms", "final reply p95"),
        ("final_reply_p99_ms", "final reply p99"),
    ):
        left.plot(levels, [max(1.0, r[key]) for r in runs], marker="o", label=label)
    left.axhline(CALLBACK_LIMIT_MS, color="red", linestyle="--", label="callback target 4.5 s")
    left.axhline(5000, color="black", linestyle=":", label="WeChat deadline 5 s")
    left.set(
        xscale="log",
        yscale="log",
        xlabel="offered load (x Rasa's direct throughput)",
        ylabel="ms",
        title="Latency against load (1 Rasa, 1 api worker)",
    )
    left.set_xticks(levels, [f"{x}x" for x in levels])
    left.xaxis.set_minor_formatter(NullFormatter())
    left.legend(fontsize=7)
    right.plot(levels, [r["nlu_answered_per_second"] for r in runs], marker="o", label="end to end")
    right.plot(
        levels,
        [r["rasa_reference"] for r in runs],
        color="grey",
        linestyle="--",
        label="Rasa direct, 1 server (around each level)",
    )
    right.axhline(
        results["rasa_direct_2"]["per_second"], color="grey", linestyle=":", label="Rasa direct, 2"
    )
    for r in results["runs"]:
        if (r["rasa_servers"], r["api_workers"]) != (1, 1):
            right.scatter(
                [r["level"]],
                [r["nlu_answered_per_second"]],
                marker="s",
                label=f"{r['rasa_servers']} Rasa x {r['api_workers']} api",
            )
    right.set(
        xscale="log",
        xlabel="offered load (x Rasa's direct throughput)",
        ylabel="Rasa-bound messages answered / s",
        title="Throughput",
    )
    right.set_xticks(levels, [f"{x}x" for x in levels])
    right.xaxis.set_minor_formatter(NullFormatter())
    right.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write(results: dict[str, Any], directory: Path) -> None:
    """e2e.json, e2e.md and latency.png."""
    results["targets"] = [{"target": n, "figure": f, "met": ok} for n, f, ok in targets(results)]
    (directory / "e2e.json").write_text(json.dumps(results, ensure_ascii=False, indent=2))
    (directory / "e2e.md").write_text(_markdown(results))
    _plot(results, directory / "latency.png")


if __name__ == "__main__":  # re-render e2e.md and latency.png from e2e.json
    where = Path(__file__).resolve().parent / "results"
    write(json.loads((where / "e2e.json").read_text()), where)
