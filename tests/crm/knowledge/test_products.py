"""Product facts: the product is found by model code, or by the kind it is named by (words of
the catalogue or a colloquial alias) with a brand or a size; the aspect by its last wording."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.normalize import normalize
from crm.knowledge.models import Product
from crm.knowledge.products import answer_product_question, aspect_of, resolve
from crm.knowledge.vocabulary import head_nouns


@pytest.mark.parametrize(
    ("question", "skus", "fragment"),
    [
        ("RG-DR-20BL 多少钱", ("RG-DR-20BL",), "售价 499 元"),
        ("rg dr 20bl 多少钱", ("RG-DR-20BL",), "售价 499 元"),
        ("那个20V的角磨机保修多久", ("RG-AG-20BL",), "电机保修 24 个月"),
        ("牧田18v电池能装博世吗", ("MK-BL1850B",), "不能通用"),
        ("DHP485重不重", ("MK-DHP485",), "重量 1.4 kg"),
        ("RG-DR-12 里面有什么", ("RG-DR-12",), "RG-BP-12-20"),
        ("锐工电锤多少钱", ("RG-RH-20BL", "RG-RH-800"), "359 元"),
    ],
)
def test_product_questions_are_answered_from_products_yml(
    db: Session, question: str, skus: tuple[str, ...], fragment: str
) -> None:
    answer = answer_product_question(db, normalize(question))
    assert answer is not None and set(answer.skus) == set(skus)
    assert fragment in answer.text


@pytest.mark.parametrize(
    ("question", "skus", "fragment"),
    [
        # kinds from the catalogue's categories and names, none of them listed by hand
        ("锐工护目镜多少钱一副", ("RG-SG-01",), "售价"),
        ("史丹利扳手怎么卖", ("ST-WR-SET14",), "售价"),
        ("锐工测距仪能测多远", ("RG-LM-40",), "量程 0.05-40 m"),
        ("锐工的切割片保修吗", ("RG-CD-100",), "易损耗材"),
        ("锐工木工钻头多少钱", ("RG-BT-WD7",), "售价"),  # a name word narrows the drill bits
        # colloquial names from the small alias table
        ("锐工的水枪压力多大", ("RG-PW-1800",), "最大压力 13 MPa"),
        ("史丹利盒尺啥价", ("ST-TM-5M",), "售价"),
        ("锐工剪篱笆的机器用什么电池", ("RG-HT-20",), "RG-BP-20-40"),
        # sizes: watts, inches, pieces; a bare number written onto the kind; no kind at all
        ("东成710瓦的角磨多少钱", ("DC-AG-100",), "售价"),
        ("锐工7寸电圆锯多少钱", ("RG-CS-185",), "售价"),
        ("锐工46件的保修多久", ("RG-SD-SET46",), "单件免费换新"),
        ("锐工650曲线锯多重", ("RG-JS-650",), "重量 2.2 kg"),
        # a family is listed whole: several sizes of one kind
        ("锐工12V和20V的电钻各多少钱", ("RG-DR-12", "RG-DR-20BL"), "售价 299 元"),
        ("锐工20伏的电池多少钱 2.0跟4.0都要", ("RG-BP-20-20", "RG-BP-20-40"), "售价"),
        # the subject is named first; an accessory in the question is not the product
        ("锐工40米的送电池吗", ("RG-LM-40",), "AAA"),
        ("锐工无刷电锤送不送电池", ("RG-RH-20BL",), "不含电池"),
        ("带电池的锐工12伏电钻多少钱", ("RG-DR-12",), "售价 299 元"),
        ("锐工12V充电器能充20V的电池吗", ("RG-CH-12",), "RG-BP-12-20"),
        # "is X included", against what comes in the box
        ("锐工洗车机带泡沫壶吗", ("RG-PW-1800",), "泡沫壶"),
        ("锐工棘轮螺丝刀有收纳盒吗", ("RG-SD-SET46",), "收纳盒"),
        ("得伟电圆锯箱子里装了啥", ("DW-DCS570",), "锯片"),
        ("东成冲击钻套装送几块电池", ("DC-JZ20-KIT",), "×2"),
        # specs asked in other words, the asked one first
        ("得伟电圆锯能切多深", ("DW-DCS570",), "切割深度 90° 64／45° 48 mm"),
        ("锐工绿篱机能剪多粗的树枝", ("RG-HT-20",), "最大切割 18 mm"),
        ("博世角磨每分钟多少转", ("BO-GWS750",), "空载转速"),
        # warranty and compatibility in other words
        ("锐工绿篱机刀片崩了管换吗", ("RG-HT-20",), "刀片为易损件"),
        ("博世4.0电池能插牧田冲击钻上用吗", ("BO-GBA1840",), "不能通用"),
        ("锐工混凝土钻头能配哪些电锤", ("RG-BT-SDS5",), "MK-HR2470"),
        ("锐工的木工钻头能装牧田冲击钻吗", ("RG-BT-WD7",), "MK-DHP485"),  # not a battery platform
    ],
)
def test_questions_nobody_tuned_on_find_their_product(
    db: Session, question: str, skus: tuple[str, ...], fragment: str
) -> None:
    answer = answer_product_question(db, normalize(question))
    assert answer is not None and set(answer.skus) == set(skus), answer
    assert fragment in answer.text


@pytest.mark.parametrize(
    "question",
    [
        "电池保修多久",
        "无刷电机有什么好处",
        "冲击钻和电锤有什么区别",
        "今天天气怎么样",
        "积分怎么算",
        "退货要多久",
        "积分能抵多少钱",
        "角磨机保修多久",  # a kind alone: several products, or the FAQ says it better
        "绿篱机能剪多粗",
        "锐工的东西保修多久",  # a brand alone
        "锐工18V冲击钻多少钱",  # a voltage we do not sell
        "锐工12V和20V的电池能通用吗",  # whether platforms mix: the FAQ
        "20V的电池能装绿篱机吗",
        "我的锐工电锤坏了 修一下多少钱",  # the price of a repair
        "满800减100的券买锐工电锤能用吗",  # money, not a size
        "电池充满要多久",
        "会员生日送什么",
    ],
)
def test_general_questions_are_left_to_the_faq(db: Session, question: str) -> None:
    assert answer_product_question(db, normalize(question)) is None


def test_every_faq_question_is_left_to_the_faq_unless_it_names_a_product(db: Session) -> None:
    from crm.knowledge.models import Faq

    answered = {
        faq.id
        for faq in db.scalars(select(Faq))
        if answer_product_question(db, normalize(faq.question)) is not None
    }
    # 「锐工的电池能装到牧田…」 and 「锐工 20V 电池可以用在哪些工具上」 name the products.
    assert answered <= {"faq-004", "faq-005"}


@pytest.mark.parametrize(
    ("question", "aspect"),
    [
        ("包装里都有些什么", "package"),
        ("到手送不送充电器", "package"),
        ("配锯片不", "package"),
        ("是光机还是带电的", "package"),
        ("重几公斤", "specs"),
        ("扭矩是多少牛米", "specs"),
        ("最大能打多大的孔", "specs"),
        ("适合配哪块电池", "compatibility"),
        ("能不能插在别的机器上用", "compatibility"),
        ("坏了管换不", "warranty"),
        ("啥价位", "price"),
        ("不带电池多重", "specs"),  # the wording that comes last wins
        ("带电池的多少钱", "price"),
        ("电池有保修吗", "warranty"),  # 有…吗 around a non-accessory is not the package
        ("有优惠吗", None),
        ("有发票吗", None),
        ("电池充满要多久", None),
    ],
)
def test_aspects_in_other_words(question: str, aspect: str | None) -> None:
    assert aspect_of(normalize(question)) == aspect


def test_whatever_comes_in_a_box_is_recognised_as_asking_the_package(db: Session) -> None:
    items = set()
    for product in db.scalars(select(Product)):
        items |= head_nouns(product.data.get("package") or "")
    assert {"锯片", "喷嘴", "收纳袋", "电池"} <= items
    assert [i for i in items if aspect_of(f"买了有{i}吗") != "package"] == []
    assert [i for i in items if aspect_of(f"带不带{i}") != "package"] == []


@pytest.mark.parametrize(
    ("text", "skus"),
    [
        ("激光测距仪屏幕不亮了", {"RG-LM-40"}),
        ("我的角磨冒火花", {"RG-AG-100", "RG-AG-20BL", "BO-GWS750", "DC-AG-100"}),
        ("史丹利卷尺拉不出来", {"ST-TM-5M"}),
        ("我那台锐工18V冲击钻不转了", {"RG-ID-20BL"}),  # no such voltage: still the candidates
        ("今天天气不错", set()),
    ],
)
def test_resolve_names_the_products_of_a_kind(db: Session, text: str, skus: set[str]) -> None:
    catalogue = list(db.scalars(select(Product)))
    assert {p.sku for p in resolve(catalogue, normalize(text))} == skus


def test_a_price_change_takes_effect_without_retraining(db: Session) -> None:
    product = db.get(Product, "RG-DR-20BL")
    assert product is not None
    product.price_yuan = 459  # type: ignore[assignment]
    db.flush()
    answer = answer_product_question(db, "RG-DR-20BL 多少钱")
    assert answer is not None and "售价 459 元" in answer.text
