"""`python -m crm.jobs daily [--date YYYY-MM-DD]`: run the daily jobs now (cron, or by hand)."""

from __future__ import annotations

import argparse
import logging
import sys
from dataclasses import asdict
from datetime import date

from crm.jobs.daily import run_daily
from crm.privacy.masking import install_log_masking
from crm.tickets.lifecycle import today


def main(argv: list[str] | None = None) -> int:
    """Run the jobs and print what they did; exit 1 when a step failed."""
    parser = argparse.ArgumentParser(prog="python -m crm.jobs")
    parser.add_argument("job", choices=["daily"])
    parser.add_argument("--date", type=date.fromisoformat, help="the business day (default today)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    install_log_masking()
    on = args.date or today()
    print(f"daily jobs for {on:%Y-%m-%d} ...", flush=True)
    report = run_daily(on)
    for name, value in asdict(report).items():
        print(f"  {name:28} {value}")
    return 1 if report.failed else 0


if __name__ == "__main__":
    sys.exit(main())
