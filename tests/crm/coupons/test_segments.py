"""Segments pick the right members; a campaign issues once per member however often it runs."""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy.orm import Session

from crm.coupons import service
from crm.coupons.segments import BirthdayMonth, Dormant, Rfm, Tier, members_of, rfm_scores
from tests.crm.coupons.conftest import key, member, purchase

# Dates long before any other test's purchases: the segments see only this module's orders.
RFM_DAY = date(2001, 1, 31)
DORMANT_DAY = date(2003, 6, 30)


def test_tier_takes_members_of_that_tier_only(db: Session) -> None:
    gold = [member(db, "金卡"), member(db, "金卡")]
    silver = member(db, "银卡")
    follower = member(db, "金卡", phone=False)  # a WeChat follower, not a member
    chosen = set(members_of(db, Tier("金卡"), DORMANT_DAY))
    assert {c.id for c in gold} <= chosen
    assert not {silver.id, follower.id} & chosen


def test_birthday_month_takes_members_born_in_that_month(db: Session) -> None:
    june, july, unknown = member(db), member(db), member(db)
    june.birthday, july.birthday = date(1980, 6, 30), date(1980, 7, 1)
    follower = member(db, phone=False)
    follower.birthday = date(1999, 6, 1)
    db.flush()
    chosen = members_of(db, BirthdayMonth(6), DORMANT_DAY)
    assert june.id in chosen
    assert not {july.id, unknown.id, follower.id} & set(chosen)


def test_dormant_takes_members_who_bought_but_not_lately(db: Session) -> None:
    asleep = member(db)
    purchase(db, asleep, DORMANT_DAY - timedelta(days=91))
    purchase(db, asleep, DORMANT_DAY - timedelta(days=400))
    awake = member(db)
    purchase(db, awake, DORMANT_DAY - timedelta(days=300))
    purchase(db, awake, DORMANT_DAY - timedelta(days=90))
    never = member(db)
    returns_later = member(db)  # comes back after the day asked about: not seen on that day
    purchase(db, returns_later, DORMANT_DAY - timedelta(days=200))
    purchase(db, returns_later, DORMANT_DAY + timedelta(days=5))
    chosen = members_of(db, Dormant(90), DORMANT_DAY)
    assert asleep.id in chosen and returns_later.id in chosen
    assert awake.id not in chosen and never.id not in chosen


def test_rfm_scores_are_quintiles_among_buyers(db: Session) -> None:
    # Buyer i: i+1 orders of 100×(i+1) yuan, the last (9−i)×10 days before the day.
    buyers = [member(db) for _ in range(10)]
    for i, buyer in enumerate(buyers):
        for n in range(i + 1):
            purchase(db, buyer, RFM_DAY - timedelta(days=(9 - i) * 10 + n * 30), f"{100 * (i + 1)}")
    scores = rfm_scores(db, RFM_DAY)
    assert [scores[b.id].recency for b in buyers] == [1, 1, 2, 2, 3, 3, 4, 4, 5, 5]
    assert [scores[b.id].frequency for b in buyers] == [1, 1, 2, 2, 3, 3, 4, 4, 5, 5]
    assert [scores[b.id].monetary for b in buyers] == [1, 1, 2, 2, 3, 3, 4, 4, 5, 5]
    assert members_of(db, Rfm(min_score=13), RFM_DAY) == [b.id for b in buyers[8:]]
    assert members_of(db, Rfm(min_score=12), RFM_DAY) == [b.id for b in buyers[6:]]


def test_a_campaign_issues_once_per_member_however_often_it_runs(db: Session) -> None:
    diamonds = [member(db, "钻石") for _ in range(3)]
    campaign = key()
    segment = Tier("钻石")
    expected = len(members_of(db, segment, DORMANT_DAY))
    assert expected >= 3
    assert service.issue_to_segment(db, segment, "CPN-TJ", campaign, DORMANT_DAY) == expected
    assert service.issue_to_segment(db, segment, "CPN-TJ", campaign, DORMANT_DAY) == 0
    for diamond in diamonds:
        assert len(service.list_valid(db, diamond.id, DORMANT_DAY)) == 1
    late = member(db, "钻石")
    assert service.issue_to_segment(db, segment, "CPN-TJ", campaign, DORMANT_DAY) == 1
    assert len(service.list_valid(db, late.id, DORMANT_DAY)) == 1
