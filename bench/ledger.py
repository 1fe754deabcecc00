"""`make bench` (second part): ledger writes on PostgreSQL against the database's own UPDATE rate.

Every operation is its own transaction, committed, run by `--threads` worker threads for
`--seconds` each, in this order on the same database and engine:
1. Baseline: `UPDATE bench_counter SET n = n + 1 WHERE id = 1` (one hot row), and the same
   UPDATE spread round-robin over many rows: what PostgreSQL itself does per commit here.
2. Points credits through crm.points: `earn_for_purchase` of distinct purchases, spread over many
   members, then all for one hot member (every credit waits for that member's account lock).
3. Coupon redemptions through crm.coupons: `redeem` of distinct coupons of many members.
Each workload is shown as ops/s, p50/p99 ms and its ratio to the baseline of the same shape.
Results: bench/results/ledger.json and a table on the terminal. No figure is asserted.
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import json
import statistics
import sys
import threading
import time
from collections.abc import Callable
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import Engine, event, func, insert, select, text
from sqlalchemy.orm import Session, sessionmaker

from bench.callback import DB_URL, prepare_database
from bench.load import percentile
from bot.stack import ROOT
from crm.coupons import catalogue
from crm.coupons import service as coupons
from crm.coupons.models import ISSUED, Coupon
from crm.customers.models import Customer
from crm.db import make_engine, utcnow
from crm.knowledge.models import Product, Store
from crm.points import rules
from crm.points.models import PointsAccount, PointsEntry
from crm.points.service import earn_for_purchase
from crm.purchases.models import Purchase

MEMBERS = 1000  # the spread workloads' members, and the baseline's rows
POOL_PER_SECOND = 3000  # distinct purchases / coupons prepared per second of run and workload
Operation = Callable[[int], None]


@dataclasses.dataclass
class Fixture:
    """What the workloads use: members, purchase ids per workload, coupon codes and owners."""

    spread_members: list[int]
    hot_member: int
    spread_purchases: list[int]
    hot_purchases: list[int]
    coupons: list[tuple[str, int]]


def measure(operation: Operation, threads: int, seconds: float, limit: int) -> dict[str, Any]:
    """Run `operation(i)` for i = 0, 1, … from `threads` threads for `seconds`; the figures."""
    lock = threading.Lock()
    latencies: list[float] = []
    errors: list[str] = []
    numbers = iter(range(limit))
    ran_out = False
    deadline = time.perf_counter() + seconds

    def worker() -> None:
        nonlocal ran_out
        mine: list[float] = []
        while time.perf_counter() < deadline:
            with lock:
                number = next(numbers, None)
            if number is None:
                ran_out = True  # the prepared pool is used up: shown, never silently short
                break
            started = time.perf_counter()
            try:
                operation(number)
            except Exception as exc:  # counted and shown by kind, not timed as an operation
                with lock:
                    errors.append(type(exc).__name__)
                continue
            mine.append(time.perf_counter() - started)
        with lock:
            latencies.extend(mine)

    started = time.perf_counter()
    pool = [threading.Thread(target=worker) for _ in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    elapsed = time.perf_counter() - started
    return {
        "ops": len(latencies),
        "seconds": round(elapsed, 2),
        "per_second": round(len(latencies) / elapsed, 1),
        "p50_ms": round(1000 * statistics.median(latencies), 2) if latencies else 0.0,
        "p99_ms": round(1000 * percentile(latencies, 0.99), 2),
        "errors": len(errors),
        "error_kinds": sorted(set(errors)),
        "exhausted": ran_out,
    }


def prepare_fixture(engine: Engine, pool: int, today: date) -> Fixture:
    """Members, distinct purchases for each earn workload and distinct coupons, bulk-inserted."""
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE bench_counter (id integer PRIMARY KEY, n bigint NOT NULL)"))
        conn.execute(
            text("INSERT INTO bench_counter SELECT g, 0 FROM generate_series(1, :rows) AS g"),
            {"rows": MEMBERS},
        )
    with Session(engine) as session, session.begin():
        members = _members(session, MEMBERS + 1)
        hot, spread = members[0], members[1:]
        sku = session.scalars(select(Product.sku).order_by(Product.sku)).first()
        store = session.scalars(select(Store.id).where(~Store.id.startswith("JX-RC"))).first()
        paid = [("S", spread[i % len(spread)]) for i in range(pool)] + [("H", hot)] * pool
        rows = [
            {
                "order_no": f"B-{kind}-{number:07d}",
                "source": "pos",
                "customer_id": member,
                "sku": sku,
                "price_yuan": Decimal("199.00"),
                "paid_at": utcnow() - timedelta(hours=1),
                "store_id": store,
            }
            for number, (kind, member) in enumerate(paid)
        ]
        ids = list(
            session.scalars(
                insert(Purchase).returning(Purchase.id, sort_by_parameter_order=True), rows
            )
        )
        terms = dataclasses.asdict(catalogue.terms(session, "CPN-TJ", today))
        codes = [(f"B{number:07d}", spread[number % len(spread)]) for number in range(pool)]
        session.execute(
            insert(Coupon),
            [
                {"code": code, "customer_id": owner, "status": ISSUED, "idempotency_key": code}
                | terms
                for code, owner in codes
            ],
        )
    return Fixture(spread, hot, ids[:pool], ids[pool:], codes)


def _members(session: Session, count: int) -> list[int]:
    rows = [{"display_name": f"压测会员{n}", "tier": "普通会员"} for n in range(count)]
    return list(
        session.scalars(insert(Customer).returning(Customer.id, sort_by_parameter_order=True), rows)
    )


def workloads(
    engine: Engine, fixture: Fixture, today: date
) -> list[tuple[str, str | None, Operation]]:
    """(name, baseline it is compared with, operation) in the order they run."""
    new_session = sessionmaker(engine, expire_on_commit=False)
    hot_update = text("UPDATE bench_counter SET n = n + 1 WHERE id = 1")
    spread_update = text("UPDATE bench_counter SET n = n + 1 WHERE id = :id")

    def baseline_hot(_: int) -> None:
        with engine.begin() as conn:
            conn.execute(hot_update)

    def baseline_spread(number: int) -> None:
        with engine.begin() as conn:
            conn.execute(spread_update, {"id": number % MEMBERS + 1})

    def earn(ids: list[int]) -> Operation:
        def credit(number: int) -> None:
            with new_session() as session, session.begin():
                purchase = session.get(Purchase, ids[number])
                assert purchase is not None
                earn_for_purchase(session, purchase, today)

        return credit

    def redeem(number: int) -> None:
        code, owner = fixture.coupons[number]
        with new_session() as session, session.begin():
            coupons.redeem(session, code, owner, f"B-C-{number:07d}", Decimal("500"), today)

    return [
        ("baseline_update_hot_row", None, baseline_hot),
        ("baseline_update_spread_rows", None, baseline_spread),
        (
            "points_earn_spread_members",
            "baseline_update_spread_rows",
            earn(fixture.spread_purchases),
        ),
        ("points_earn_one_hot_member", "baseline_update_hot_row", earn(fixture.hot_purchases)),
        ("coupon_redeem_spread", "baseline_update_spread_rows", redeem),
    ]


def consistent(engine: Engine, member: int) -> bool:
    """The hot member's cached balance equals their ledger's sum after the run."""
    with Session(engine) as session:
        total = session.scalar(
            select(func.coalesce(func.sum(PointsEntry.amount), 0)).where(
                PointsEntry.customer_id == member
            )
        )
        balance = session.scalar(
            select(PointsAccount.balance).where(PointsAccount.customer_id == member)
        )
    return int(total or 0) == int(balance or 0)


def main(argv: list[str] | None = None) -> int:
    """Prepare the scratch database, run every workload, print and save the figures."""
    parser = argparse.ArgumentParser(prog="python -m bench.ledger")
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=4.0)
    args = parser.parse_args(argv)
    print("bench: preparing PostgreSQL database jiangxin_bench (ledger) ...", flush=True)
    prepare_database()
    engine = make_engine(DB_URL)
    today = rules.today()
    pool = int(args.seconds * POOL_PER_SECOND)
    fixture = prepare_fixture(engine, pool, today)
    results: dict[str, Any] = {"threads": args.threads, "seconds_each": args.seconds}
    plan = workloads(engine, fixture, today)
    measure(plan[0][2], args.threads, 1.0, 10**9)  # warm-up: connections and caches
    statements = itertools.count()  # next() is atomic: safe from every worker thread
    event.listen(engine, "before_cursor_execute", lambda *_: next(statements))
    for name, baseline, operation in plan:
        print(f"bench: {name} ...", flush=True)
        limit = 10**9 if baseline is None else pool
        before = next(statements)
        run = measure(operation, args.threads, args.seconds, limit)
        executed = next(statements) - before - 1
        run["statements_per_op"] = round(executed / max(run["ops"] + run["errors"], 1), 1)
        if baseline is not None:
            run["baseline"] = baseline
            run["ratio"] = round(run["per_second"] / results[baseline]["per_second"], 3)
        results[name] = run
    results["hot_member_balance_equals_ledger_sum"] = consistent(engine, fixture.hot_member)
    engine.dispose()
    out = ROOT / "bench" / "results" / "ledger.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, ensure_ascii=False, indent=2))
    _print(results, [name for name, _, _ in plan])
    print(f"bench: written to {out.relative_to(ROOT)}")
    return 0


def _print(results: dict[str, Any], names: list[str]) -> None:
    print(
        f"\n{results['threads']} threads, {results['seconds_each']:g} s each, one transaction "
        "per operation"
    )
    print(
        f"{'run':<30}{'ops/s':>9}{'p50 ms':>9}{'p99 ms':>9}{'SQL/op':>8}{'errors':>8}  vs baseline"
    )
    for name in names:
        r = results[name]
        versus = f"{r['ratio']:.2f} × {r['baseline']}" if "ratio" in r else "(baseline)"
        flag = "  POOL EXHAUSTED: raise POOL_PER_SECOND" if r["exhausted"] else ""
        print(
            f"{name:<30}{r['per_second']:>9}{r['p50_ms']:>9}{r['p99_ms']:>9}"
            f"{r['statements_per_op']:>8}{r['errors']:>8}  "
            f"{versus}{flag}"
        )
    same = results["hot_member_balance_equals_ledger_sum"]
    print(f"\nhot member's balance equals its ledger sum: {same}")


if __name__ == "__main__":
    sys.exit(main())
