"""Warranty periods: the day one starts (purchase, delivery or serial) and the day it ends."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta
from typing import Any

from crm.db import SHANGHAI

SERIAL = "POL-WAR-012"


def warranty_start(paid_at: datetime, delivered_at: datetime | None) -> date:
    """POL-WAR-010: mall orders start on delivery, store purchases on the day (Shanghai)."""
    moment = delivered_at or paid_at
    if moment.tzinfo is None:
        # SQLite hands back the stored UTC timestamps without their zone.
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(SHANGHAI).date()


def start_from_serial(
    serial: str, rules: Mapping[str, Mapping[str, Any]], today: date | None = None
) -> date:
    """POL-WAR-012: the 1st of the production month plus the offset, from RG-YYMM-XXXXXX."""
    rule = rules[SERIAL]
    match = _serial_pattern(rule["serial_format"]).fullmatch(_clean_serial(serial))
    if match is None:
        raise ValueError(
            f"序列号「{serial.strip()}」无法识别：锐工序列号格式为 {rule['serial_format']}"
            "（YYMM 为生产年月）；品牌工具的生产日期码请交维修中心判读。"
        )
    year, month = 2000 + int(match["yy"]), int(match["mm"])
    if not 1 <= month <= 12:
        raise ValueError(f"序列号「{serial.strip()}」中的生产月份 {month} 无效，请核对铭牌。")
    today = today or datetime.now(SHANGHAI).date()
    if (year, month) > (today.year, today.month):
        raise ValueError(f"序列号中的生产日期 {year} 年 {month} 月晚于今天，请核对序列号。")
    return add_months(date(year, month, 1), int(rule["date_code_offset_months"]))


def _clean_serial(serial: str) -> str:
    return re.sub(r"[－—–]", "-", re.sub(r"\s+", "", serial)).upper()


def _serial_pattern(serial_format: str) -> re.Pattern[str]:
    """RG-YYMM-XXXXXX becomes RG-(?P<yy>dd)(?P<mm>dd)-[0-9A-Z]{6}."""
    pattern = re.escape(serial_format).replace("YYMM", r"(?P<yy>\d{2})(?P<mm>\d{2})")
    return re.compile(re.sub(r"X+", lambda m: f"[0-9A-Z]{{{len(m[0])}}}", pattern))


def add_months(start: date, months: int) -> date:
    """The same day `months` later; a day the month lacks rolls to the 1st of the next."""
    index = start.year * 12 + start.month - 1 + months
    try:
        return date(index // 12, index % 12 + 1, start.day)
    except ValueError:
        return date((index + 1) // 12, (index + 1) % 12 + 1, 1)


def period_end(start: date, months: int) -> date:
    """Last day of a warranty of `months` from `start` (2024-08-01, 12 → 2025-07-31)."""
    return add_months(start, months) - timedelta(days=1)
