"""Binding WeChat to a membership by phone: SMS codes, limits, merges, unbinding, MEM-ENR-004."""

from __future__ import annotations

import re
import secrets

import pytest
import redis
from sqlalchemy import select
from sqlalchemy.orm import Session

from crm.conversations.models import Conversation
from crm.coupons import service as coupons
from crm.customers.models import Customer, WechatIdentity
from crm.errors import Conflict, InvalidInput, TooManyRequests, UpstreamUnavailable
from crm.kv import RedisStore
from crm.members import binding
from crm.members.binding import (
    ALREADY_YOURS,
    NEEDS_STAFF,
    OTHER_MEMBER,
    OTHER_WECHAT,
    SMS_TEXT,
    InvalidCode,
    bind_verified_phone,
    confirm_code,
    request_code,
    unbind,
)
from crm.points import service as points
from crm.points.rules import today
from crm.purchases.service import purchases_of
from crm.tickets.models import RepairTicket
from tests.crm.members.conftest import (
    MP,
    OA,
    RecordingSender,
    bound_days_ago,
    other_code,
    wechat_user,
)
from tests.crm.points.conftest import bought, member, unique_phone


def test_a_code_by_sms_binds_the_phone_and_claims_its_purchases(
    db: Session, store: RedisStore, sender: RecordingSender, redis_db: redis.Redis
) -> None:
    user, phone = wechat_user(db), unique_phone()
    till_order = bought(db, None, "300", phone=phone)
    request_code(db, store, user.id, phone, sender)
    code = sender.code(phone)
    assert sender.sent == [(phone, SMS_TEXT.format(code=code))]
    assert SMS_TEXT.format(code="123456") == (
        "【匠心五金】验证码 123456，5 分钟内有效，用于绑定会员。如非本人操作请忽略。"
    )
    stored = b" ".join(redis_db.get(k) or b"" for k in redis_db.keys("*member-bind:code:*"))
    assert stored and code.encode() not in stored  # only a hash is kept

    assert confirm_code(db, store, user.id, phone, code) is user
    assert user.phone == phone and user.phone_bound_at is not None
    assert till_order.customer_id == user.id
    with pytest.raises(InvalidCode, match="重新获取"):  # a code is spent once
        confirm_code(db, store, user.id, phone, code)


def test_a_phone_written_with_spaces_or_plus86_is_the_same_number(
    db: Session, store: RedisStore, sender: RecordingSender
) -> None:
    user, phone = wechat_user(db), unique_phone()
    request_code(db, store, user.id, f"+86 {phone[:3]}-{phone[3:7]}-{phone[7:]}", sender)
    confirm_code(db, store, user.id, phone, sender.code(phone))
    assert user.phone == phone


@pytest.mark.parametrize("phone", ["", "1380013800", "138001380001", "23800138000", "电话号码"])
def test_a_malformed_phone_is_refused_before_anything_is_sent(
    db: Session, store: RedisStore, sender: RecordingSender, phone: str
) -> None:
    user = wechat_user(db)
    with pytest.raises(InvalidInput, match="11 位手机号"):
        request_code(db, store, user.id, phone, sender)
    with pytest.raises(InvalidInput, match="11 位手机号"):
        confirm_code(db, store, user.id, phone, "123456")
    assert sender.sent == []


def test_one_code_per_phone_per_minute_whoever_asks(
    db: Session, store: RedisStore, sender: RecordingSender
) -> None:
    first, second, phone = wechat_user(db), wechat_user(db), unique_phone()
    request_code(db, store, first.id, phone, sender)
    for asker in (first, second):
        with pytest.raises(TooManyRequests) as refused:
            request_code(db, store, asker.id, phone, sender)
        wait = re.fullmatch(r"验证码刚刚发过，请 (\d+) 秒后再获取。", refused.value.detail)
        assert wait and 50 <= int(wait.group(1)) <= 60
    assert len(sender.sent) == 1
    request_code(db, store, first.id, unique_phone(), sender)  # another phone is not held up


def test_five_codes_per_customer_per_hour(
    db: Session, store: RedisStore, sender: RecordingSender
) -> None:
    user, other = wechat_user(db), wechat_user(db)
    for _ in range(5):
        request_code(db, store, user.id, unique_phone(), sender)
    sixth = unique_phone()
    with pytest.raises(TooManyRequests) as refused:
        request_code(db, store, user.id, sixth, sender)
    assert refused.value.detail == "1 小时内最多获取 5 次验证码，请 60 分钟后再试。"
    assert len(sender.sent) == 5
    request_code(db, store, other.id, sixth, sender)  # the refusal did not hold the phone


def test_wrong_codes_say_how_many_tries_are_left_and_the_fifth_burns_the_code(
    db: Session, store: RedisStore, sender: RecordingSender
) -> None:
    user, phone = wechat_user(db), unique_phone()
    request_code(db, store, user.id, phone, sender)
    code = sender.code(phone)
    for left in (4, 3, 2, 1):
        with pytest.raises(InvalidCode) as wrong:
            confirm_code(db, store, user.id, phone, other_code(code))
        assert wrong.value.detail == f"验证码不正确，还可以再试 {left} 次。"
        assert wrong.value.status_code == 422
    with pytest.raises(TooManyRequests, match="错误次数过多，已失效，请重新获取"):
        confirm_code(db, store, user.id, phone, other_code(code))
    with pytest.raises(InvalidCode, match="已过期或还没有获取"):
        confirm_code(db, store, user.id, phone, code)
    assert user.phone is None


def test_the_right_code_on_the_last_try_still_binds(
    db: Session, store: RedisStore, sender: RecordingSender
) -> None:
    user, phone = wechat_user(db), unique_phone()
    request_code(db, store, user.id, phone, sender)
    code = sender.code(phone)
    for _ in range(4):
        with pytest.raises(InvalidCode):
            confirm_code(db, store, user.id, phone, other_code(code))
    for _ in range(3):  # not six digits: refused without spending a try
        with pytest.raises(InvalidCode, match="6 位数字"):
            confirm_code(db, store, user.id, phone, "12 34")
    confirm_code(db, store, user.id, phone, f" {code} ")
    assert user.phone == phone


def test_a_code_binds_only_for_the_customer_who_asked_for_it(
    db: Session, store: RedisStore, sender: RecordingSender
) -> None:
    asker, somebody, phone = wechat_user(db), wechat_user(db), unique_phone()
    request_code(db, store, asker.id, phone, sender)
    with pytest.raises(InvalidCode, match="已过期或还没有获取"):
        confirm_code(db, store, somebody.id, phone, sender.code(phone))
    assert somebody.phone is None


def test_a_failed_send_frees_the_phone_for_another_try(
    db: Session, store: RedisStore, sender: RecordingSender
) -> None:
    class Down:
        def send(self, phone: str, text: str) -> None:
            raise OSError("provider down")

    user, phone = wechat_user(db), unique_phone()
    with pytest.raises(UpstreamUnavailable, match="短信发送失败"):
        request_code(db, store, user.id, phone, Down())
    request_code(db, store, user.id, phone, sender)
    assert len(sender.sent) == 1


def test_a_till_member_takes_the_wechat_customer_in(
    db: Session, store: RedisStore, sender: RecordingSender
) -> None:
    phone = unique_phone()
    till = member(db, tier="银卡", phone=phone)
    linked, unlinked = bought(db, till, "2400"), bought(db, None, "99", phone=phone)
    user = wechat_user(db)
    identity = db.scalars(select(WechatIdentity).where(WechatIdentity.customer_id == user.id)).one()
    ticket = _ticket(db, user)
    request_code(db, store, user.id, phone, sender)

    assert confirm_code(db, store, user.id, phone, sender.code(phone)) is till
    assert identity.customer_id == till.id and identity.customer is till
    assert (
        db.scalars(
            select(Conversation.customer_id).where(Conversation.identity_id == identity.id)
        ).one()
        == till.id
    )
    assert ticket.customer_id == till.id
    assert {p.id for p in purchases_of(db, till)} == {linked.id, unlinked.id}
    assert unlinked.customer_id == till.id
    assert [i.id for i in till.identities] == [identity.id] and user.identities == []
    assert till.phone_bound_at is not None and user.phone is None
    assert (till.tier, till.display_name) == ("银卡", "积分测试会员")


def test_a_member_bound_to_another_wechat_of_the_same_app_is_refused(
    db: Session, store: RedisStore, sender: RecordingSender
) -> None:
    phone = unique_phone()
    wechat_user(db, phone=phone)  # a member who bound their own mini-program account
    user = wechat_user(db)
    for attempt in (
        lambda: request_code(db, store, user.id, phone, sender),
        lambda: bind_verified_phone(db, user.id, phone),
    ):
        with pytest.raises(Conflict) as refused:
            attempt()
        assert refused.value.detail == OTHER_WECHAT
        assert OTHER_WECHAT == "该手机号已绑定其他微信，如需换绑请先在原微信解绑或联系客服"
    assert sender.sent == [] and user.phone is None


def test_a_member_of_the_official_account_takes_in_their_mini_program(db: Session) -> None:
    phone = unique_phone()
    oa_member = wechat_user(db, appid=OA, phone=phone)
    mp_user = wechat_user(db)
    assert bind_verified_phone(db, mp_user.id, phone) is oa_member
    assert sorted(i.appid for i in oa_member.identities) == sorted([OA, MP])


def test_a_member_cannot_move_onto_another_members_phone(db: Session) -> None:
    mine, theirs = unique_phone(), unique_phone()
    user = wechat_user(db, phone=mine)
    bound_days_ago(db, user, 90)
    member(db, phone=theirs)
    with pytest.raises(Conflict) as refused:
        bind_verified_phone(db, user.id, theirs)
    assert refused.value.detail == OTHER_MEMBER
    assert user.phone == mine


def test_a_wechat_customer_holding_points_is_merged_by_staff_only(db: Session) -> None:
    phone = unique_phone()
    member(db, phone=phone)
    user = wechat_user(db)
    points.adjust(db, user.id, 100, "活动补偿", "测试员", f"t:{secrets.token_hex(6)}")
    with pytest.raises(Conflict) as refused:
        bind_verified_phone(db, user.id, phone)
    assert refused.value.detail == NEEDS_STAFF


def test_asking_for_a_code_for_ones_own_phone_is_refused(
    db: Session, store: RedisStore, sender: RecordingSender
) -> None:
    phone = unique_phone()
    user = wechat_user(db, phone=phone)
    with pytest.raises(Conflict) as refused:
        request_code(db, store, user.id, phone, sender)
    assert refused.value.detail == ALREADY_YOURS and sender.sent == []
    assert bind_verified_phone(db, user.id, phone) is user  # binding it again changes nothing


def test_unbinding_clears_the_phone_and_keeps_purchases_points_and_coupons(db: Session) -> None:
    phone = unique_phone()
    user = wechat_user(db)
    bind_verified_phone(db, user.id, phone)
    order = bought(db, user, "500")
    points.adjust(db, user.id, 300, "活动补偿", "测试员", f"t:{secrets.token_hex(6)}")
    coupon = coupons.issue(db, user.id, "CPN-WX", f"t:{secrets.token_hex(6)}", today())

    unbind(db, user.id)
    assert user.phone is None
    assert order.customer_id == user.id and [p.id for p in purchases_of(db, user)] == [order.id]
    assert points.balance(db, user.id) == 300 and coupon.customer_id == user.id
    with pytest.raises(Conflict, match="还没有绑定"):
        unbind(db, user.id)
    other = wechat_user(db)  # the number is free for whoever proves it next
    assert bind_verified_phone(db, other.id, phone) is other
    assert order.customer_id == user.id


def test_a_new_phone_at_most_once_in_30_days(
    db: Session, store: RedisStore, sender: RecordingSender
) -> None:
    user = wechat_user(db)
    bind_verified_phone(db, user.id, unique_phone())
    bound_days_ago(db, user, 10)
    new = unique_phone()
    for attempt in (
        lambda: request_code(db, store, user.id, new, sender),
        lambda: bind_verified_phone(db, user.id, new),
    ):
        with pytest.raises(
            TooManyRequests, match=r"每 30 天只能更换 1 次手机号，请在 .+ 之后再更换"
        ):
            attempt()
    bound_days_ago(db, user, 31)
    request_code(db, store, user.id, new, sender)
    confirm_code(db, store, user.id, new, sender.code(new))
    assert user.phone == new

    unbind(db, user.id)  # unbinding does not restart the clock
    with pytest.raises(TooManyRequests, match="每 30 天"):
        bind_verified_phone(db, user.id, unique_phone())


def test_the_interface_the_chat_actions_use() -> None:
    assert binding.__all__ == [
        "InvalidCode",
        "LogSmsSender",
        "SmsSender",
        "bind_verified_phone",
        "confirm_code",
        "get_sms_sender",
        "request_code",
        "unbind",
    ]


def _ticket(db: Session, customer: Customer) -> RepairTicket:
    ticket = RepairTicket(
        number=f"RP-T{secrets.token_hex(4)}",
        idempotency_key=f"t:{secrets.token_hex(8)}",
        customer_id=customer.id,
        sku="RG-DR-12",
        product_name="锐工电锤",
        category="电动工具",
        fault="不转",
        proof_kind="photo",
        warranty_reason="待核验",
        contact_phone=unique_phone(),
        service_method="寄修",
        state="submitted",
    )
    db.add(ticket)
    db.flush()
    return ticket
