"""One way to show personal data (138****1234, 张*, the district only), a log filter for phones."""

from __future__ import annotations

import logging

import pytest

from crm.privacy.masking import (
    MaskingFilter,
    install_log_masking,
    mask_address,
    mask_mobiles,
    mask_name,
    mask_phone,
)


@pytest.mark.parametrize(
    ("phone", "shown"),
    [
        ("13812341234", "138****1234"),
        ("+86 138-1234-1234", "138****1234"),
        ("0571-8888", "******88"),
        ("", None),
        (None, None),
    ],
)
def test_phones(phone: str | None, shown: str | None) -> None:
    assert mask_phone(phone) == shown


@pytest.mark.parametrize(
    ("name", "shown"),
    [
        ("张三", "张*"),
        ("王小明", "王**"),
        ("Alice", "A****"),
        ("  李  ", "李"),
        ("", None),
        (None, None),
    ],
)
def test_names(name: str | None, shown: str | None) -> None:
    assert mask_name(name) == shown


@pytest.mark.parametrize(
    ("address", "shown"),
    [
        ("浙江省杭州市西湖区文三路 90 号 3 幢", "浙江省杭州市西湖区***"),
        ("杭州市余杭区良渚街道 12 号", "杭州市余杭区***"),
        ("安吉县递铺镇 5 号", "安吉县***"),
        ("杭州市文三路 90 号", "杭州市***"),
        ("文三路 90 号", "***"),
        (None, None),
    ],
)
def test_addresses_keep_the_district_only(address: str | None, shown: str | None) -> None:
    assert mask_address(address) == shown


def test_mobiles_inside_text_are_masked_and_other_numbers_left_alone() -> None:
    text = "客户 13812341234 和 +86 139-0000-1111 的订单 RP20261123-0001、POS-20261123001"
    assert mask_mobiles(text) == (
        "客户 138****1234 和 139****1111 的订单 RP20261123-0001、POS-20261123001"
    )
    assert (
        mask_mobiles("时间戳 1732712345678 与工号 12345678901")
        == "时间戳 1732712345678 与工号 12345678901"
    )


def test_the_log_filter_masks_messages_arguments_and_tracebacks(
    caplog: pytest.LogCaptureFixture,
) -> None:
    logger = logging.getLogger("tests.privacy.masking")
    caplog.handler.addFilter(MaskingFilter())
    caplog.set_level(logging.INFO, logger=logger.name)
    logger.info("bound %s for customer %d", "13812341234", 7)
    logger.warning("raw text 13999998888")
    try:
        raise ValueError("no member with phone 13712345678")
    except ValueError:
        logger.exception("lookup failed")
    assert "13812341234" not in caplog.text and "138****1234 for customer 7" in caplog.text
    assert "139****8888" in caplog.text
    assert "13712345678" not in caplog.text and "137****5678" in caplog.text


def test_install_adds_the_filter_once_to_the_configured_handlers() -> None:
    handler = logging.StreamHandler()
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        install_log_masking()
        install_log_masking()
        assert sum(isinstance(f, MaskingFilter) for f in handler.filters) == 1
    finally:
        root.removeHandler(handler)


def test_a_formatter_that_reads_the_arguments_still_gets_them() -> None:
    # uvicorn's access log formatter unpacks record.args (client, method, path, version, status);
    # a mobile number in the path's query once left it None: "Logging error … cannot unpack".
    from uvicorn.logging import AccessFormatter

    record = logging.LogRecord(
        "uvicorn.access",
        logging.INFO,
        __file__,
        1,
        '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:5000", "POST", "/wechat/oa?nonce=13812341234", "1.1", 200),
        None,
    )
    assert MaskingFilter().filter(record)
    line = AccessFormatter("%(client_addr)s %(request_line)s %(status_code)s").format(record)
    assert line == "127.0.0.1:5000 POST /wechat/oa?nonce=138****1234 HTTP/1.1 200 OK"
    # Digits that only formatting joins into a number are masked in the message itself.
    joined = logging.LogRecord("t", logging.INFO, __file__, 1, "%s%s", ("1381234", "1234"), None)
    assert MaskingFilter().filter(joined) and joined.getMessage() == "138****1234"
