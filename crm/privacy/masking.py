"""How personal data is shown and logged: 138****1234, 张*, 杭州市西湖区***."""

from __future__ import annotations

import logging
import re

# A mainland mobile number inside any text (not part of a longer digit run such as an order no).
MOBILE_IN_TEXT = re.compile(
    r"(?<![0-9])(?:\+?86[ -]?)?(1[3-9][0-9])[ -]?([0-9]{4})[ -]?([0-9]{4})(?![0-9])"
)
_DISTRICT = re.compile(r"^.*?(?:区|县|旗|市)(?!.*(?:区|县|旗))")


def mask_phone(phone: str | None) -> str | None:
    """138****1234; None when there is no phone; short numbers keep only their last two digits."""
    if not phone:
        return None
    digits = re.sub(r"\D", "", phone)
    if len(digits) >= 11:
        return f"{digits[-11:-8]}****{digits[-4:]}"
    return "*" * max(len(digits) - 2, 0) + digits[-2:]


def mask_name(name: str | None) -> str | None:
    """张三 → 张*, 王小明 → 王**, Alice → A****: the first character only."""
    text = (name or "").strip()
    if not text:
        return None
    return text[0] + "*" * (len(text) - 1)


def mask_address(address: str | None) -> str | None:
    """浙江省杭州市西湖区文三路 90 号 → 浙江省杭州市西湖区***: up to the district only."""
    text = (address or "").strip()
    if not text:
        return None
    found = _DISTRICT.match(text)
    return f"{found.group(0)}***" if found else "***"


def mask_mobiles(text: str) -> str:
    """`text` with every mainland mobile number in it masked."""
    return MOBILE_IN_TEXT.sub(lambda m: f"{m.group(1)}****{m.group(3)}", text)


def _mask_record(record: logging.LogRecord) -> None:
    """Mask the record's text argument by argument where that suffices: formatters that read
    `record.args` themselves (uvicorn's access log unpacks five of them) keep working. A number
    that only the formatting puts together is masked in the formatted message instead."""
    if isinstance(record.args, tuple):
        record.msg = mask_mobiles(str(record.msg))
        record.args = tuple(mask_mobiles(a) if isinstance(a, str) else a for a in record.args)
        message = record.getMessage()
        if mask_mobiles(message) == message:
            return
    record.msg, record.args = mask_mobiles(record.getMessage()), None


class MaskingFilter(logging.Filter):
    """Masks mainland mobile numbers in a log record's formatted message and exception text."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Rewrite the record in place; never drops it."""
        message = record.getMessage()
        if mask_mobiles(message) != message:
            _mask_record(record)
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = mask_mobiles(record.exc_text)
        return True


def install_log_masking() -> None:
    """Add the masking filter, once, to the handlers configured so far: the root logger's and
    those of loggers that do not propagate (uvicorn's access log)."""
    loggers = [logging.getLogger()] + [
        item
        for item in logging.Logger.manager.loggerDict.values()
        if isinstance(item, logging.Logger)
    ]
    for logger in loggers:
        for handler in logger.handlers:
            if not any(isinstance(f, MaskingFilter) for f in handler.filters):
                handler.addFilter(MaskingFilter())
