"""The development SMS sender and the SMS_PROVIDER setting."""

from __future__ import annotations

import logging

import pytest
from pydantic import ValidationError

from crm.config import Settings
from crm.members.binding import LogSmsSender, get_sms_sender
from crm.privacy.crypto import new_key


def test_the_log_sender_is_refused_in_production() -> None:
    with pytest.raises(ValidationError, match="SMS_PROVIDER=log"):
        Settings(
            app_env="production",
            wechat_api_base="https://api.weixin.qq.com",
            pii_keys=f"k1:{new_key()}",
            pii_hash_key=new_key(),
        )
    assert Settings(app_env="development").sms_provider == "log"


def test_the_sender_hands_messages_to_the_sandbox_only_when_there_is_one() -> None:
    local = get_sms_sender(Settings(port=8123))
    assert isinstance(local, LogSmsSender)
    assert local.sandbox_url == "http://127.0.0.1:8123/sandbox"
    real = get_sms_sender(Settings(wechat_api_base="https://api.weixin.qq.com"))
    assert isinstance(real, LogSmsSender) and real.sandbox_url is None


def test_an_unreachable_sandbox_does_not_fail_the_send(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="crm.members.sms")
    LogSmsSender("http://127.0.0.1:9/sandbox").send("13812345678", "【匠心五金】验证码 123456")
    assert "SMS to 138****5678: 【匠心五金】验证码 123456" in caplog.text  # the number masked
    assert "not recorded by the sandbox" in caplog.text
