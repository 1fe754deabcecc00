"""Memory (RSS) and CPU time of the bench's processes, each with its children, and how long
each process's busiest thread ran or waited for a CPU, from /proc."""

from __future__ import annotations

import os
import time
from collections import defaultdict
from pathlib import Path

TICK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")


def _stat(pid: int) -> tuple[int, float, int, float, str] | None:
    """(parent pid, CPU seconds, RSS bytes, CPU seconds of its reaped children, executable
    name) of a process, None when it is gone."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = raw[raw.rindex(")") + 2 :].split()
    cpu = (int(fields[11]) + int(fields[12])) / TICK
    reaped = (int(fields[13]) + int(fields[14])) / TICK
    name = raw[raw.index("(") + 1 : raw.rindex(")")]
    return int(fields[1]), cpu, int(fields[21]) * PAGE, reaped, name


Table = dict[int, tuple[int, float, int, float, str]]


def _table() -> Table:
    """_stat of every process, read in one walk of /proc (a sample reads it once, not once for
    each of the bench's processes: the walk is the bench's own CPU, taken from the stack's)."""
    table = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (stat := _stat(int(entry.name))) is not None:
            table[int(entry.name)] = stat
    return table


def _tree(root: int, table: Table) -> list[int]:
    children: dict[int, list[int]] = defaultdict(list)
    for pid, stat in table.items():
        children[stat[0]].append(pid)
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(children.get(pid, []))
    return found


def _machine() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine since boot, all cores."""
    ticks = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = ticks[3] + ticks[4]  # idle + iowait
    return (sum(ticks) - idle) / TICK, sum(ticks) / TICK


def _postgres(table: Table) -> float:
    """CPU seconds of every PostgreSQL process (the bench's and anyone else's), those that
    ended included: a backend that exits is reaped by the postmaster, whose children's time
    (cutime, cstime) then holds its CPU time. Found by the executable's name (the postmaster's
    command line is a path to it)."""
    return sum(stat[1] + stat[3] for stat in table.values() if stat[4] == "postgres")


def _schedstat(root: int, table: Table) -> dict[int, tuple[int, int]]:
    """(ns on a CPU, ns runnable but waiting for one) of every thread of `root` and its
    children (/proc/PID/task/TID/schedstat)."""
    out: dict[int, tuple[int, int]] = {}
    for pid in _tree(root, table):
        try:
            tids = os.listdir(f"/proc/{pid}/task")
        except OSError:
            continue
        for tid in tids:
            try:
                ran, waited, _ = Path(f"/proc/{pid}/task/{tid}/schedstat").read_text().split()
            except (OSError, ValueError):
                continue
            out[int(tid)] = (int(ran), int(waited))
    return out


def _totals(root: int, table: Table) -> tuple[float, int]:
    cpu, rss = 0.0, 0
    for pid in _tree(root, table):
        if pid in table:  # gone: counts nothing
            cpu, rss = cpu + table[pid][1], rss + table[pid][2]
    return cpu, rss


class Usage:
    """CPU milliseconds spent between start() and stop(), and the largest RSS sampled.

    `busiest` says, for each process, how much of that time its busiest thread (an event loop:
    Rasa's, the api's) was on a CPU and how much it was ready to run but waiting for one: the
    price of sharing the cores with the rest."""

    def __init__(self, roots: dict[str, int]) -> None:
        self.roots = roots
        self._cpu: dict[str, float] = {}
        self._peak: dict[str, int] = {}
        self._self = 0.0
        self._machine = (0.0, 0.0)
        self._postgres = 0.0
        self.machine: dict[str, float] = {}
        self._sched: dict[str, dict[int, tuple[int, int]]] = {}
        self._started = 0.0
        self.busiest: dict[str, dict[str, float]] = {}

    def sample(self, table: Table | None = None) -> None:
        table = table or _table()
        for name, pid in self.roots.items():
            self._peak[name] = max(self._peak.get(name, 0), _totals(pid, table)[1])

    def start(self) -> None:
        self._peak.clear()
        table = _table()
        self._cpu = {name: _totals(pid, table)[0] for name, pid in self.roots.items()}
        self._self = time.process_time()
        self._machine = _machine()
        self._postgres = _postgres(table)
        self._sched = {name: _schedstat(pid, table) for name, pid in self.roots.items()}
        self._started = time.monotonic()
        self.sample(table)

    def stop(self) -> dict[str, float]:
        """CPU ms per process (and the load generator's own) since start()."""
        table = _table()
        self.sample(table)
        spent = {n: 1000 * (_totals(pid, table)[0] - self._cpu[n]) for n, pid in self.roots.items()}
        spent["load generator"] = 1000 * (time.process_time() - self._self)
        spent["postgres (all)"] = 1000 * (_postgres(table) - self._postgres)
        self.busiest = self._busiest(time.monotonic() - self._started, table)
        busy, total = (now - then for now, then in zip(_machine(), self._machine, strict=True))
        ours = sum(spent.values()) / 1000
        self.machine = {
            "busy_percent": round(100 * busy / total, 1) if total else 0.0,
            "outside_bench_cores": round(max(0.0, busy - ours) / (total / (os.cpu_count() or 1)), 2)
            if total
            else 0.0,
        }
        return spent

    def _busiest(self, wall: float, table: Table) -> dict[str, dict[str, float]]:
        out = {}
        for name, pid in self.roots.items():
            before = self._sched.get(name, {})
            spent = [
                (ran - before.get(tid, (0, 0))[0], waited - before.get(tid, (0, 0))[1])
                for tid, (ran, waited) in _schedstat(pid, table).items()
            ]
            if spent and wall > 0:
                ran, waited = max(spent)
                out[name] = {
                    "on_cpu_percent": round(100 * ran / 1e9 / wall, 1),
                    "waiting_for_cpu_percent": round(100 * waited / 1e9 / wall, 1),
                }
        return out

    def rss_mb(self) -> dict[str, float]:
        return {name: round(rss / 2**20, 1) for name, rss in self._peak.items()}
