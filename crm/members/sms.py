"""Sending text messages: the SmsSender interface and the development sender that only logs."""

from __future__ import annotations

import logging
from typing import Protocol

import httpx

from crm.config import Settings
from crm.privacy.masking import mask_phone

log = logging.getLogger(__name__)

SANDBOX_TIMEOUT_SECONDS = 2.0


class SmsSender(Protocol):
    """Delivers one text message to a mainland mobile number."""

    def send(self, phone: str, text: str) -> None:
        """Send `text` to `phone`; raise when the provider refuses it."""
        ...


class LogSmsSender:
    """Development sender: logs the message and hands it to the WeChat sandbox when there is one."""

    def __init__(self, sandbox_url: str | None) -> None:
        self.sandbox_url = sandbox_url.rstrip("/") if sandbox_url else None

    def send(self, phone: str, text: str) -> None:
        log.info("SMS to %s: %s", mask_phone(phone), text)
        if self.sandbox_url is None:
            return
        try:  # best effort: the log line above is the development record
            httpx.post(
                f"{self.sandbox_url}/sms/send",
                json={"phone": phone, "text": text},
                timeout=SANDBOX_TIMEOUT_SECONDS,
            )
        except httpx.HTTPError as exc:
            log.warning("SMS to %s not recorded by the sandbox: %s", mask_phone(phone), exc)


def get_sms_sender(settings: Settings) -> SmsSender:
    """The sender SMS_PROVIDER names (only "log" exists; Settings refuses it in production)."""
    sandbox = settings.effective_wechat_api_base if settings.sandbox_enabled else None
    return LogSmsSender(sandbox)
