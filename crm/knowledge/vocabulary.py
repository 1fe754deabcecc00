"""The words of product questions. What names a product is derived from the catalogue: brands
(Product.brand), kinds (the category and the head noun of each name: 激光测距仪, 测距仪), name
words (无刷, 套装) and sizes (20V, 850W, 4.0Ah, 185mm, 40m, 46 件); only what customers say and
the catalogue cannot give is listed (ALIASES). What asks which fact is listed (ASPECTS, SPECS)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

from crm.knowledge.models import Product
from crm.knowledge.retriever import domain_tokenizer

# Colloquial names -> the catalogue word (a category or a word of product names) they mean.
ALIASES: dict[str, list[str]] = {
    "电钻": ["手电钻", "锂电钻"],
    "角磨机": ["角磨"],
    "高压清洗机": ["洗车机", "洗车的", "洗车用的", "水枪"],
    "园艺工具": ["修篱笆", "剪篱笆", "篱笆剪", "绿篱剪", "修枝剪", "剪枝机"],
    "卷尺": ["盒尺", "钢尺", "米尺"],
    "螺丝刀套装": ["起子", "改锥", "螺丝批"],
    "锂电池包": ["电池"],
    "充电器": ["快充", "充电座"],
}
# For callers without the catalogue (crm/tickets/intake.py); resolution derives its own.
BRANDS = {
    "锐工": ["锐工", "ruigong"],
    "博世": ["博世", "bosch"],
    "牧田": ["牧田", "makita"],
    "得伟": ["得伟", "dewalt"],
    "东成": ["东成"],
    "史丹利": ["史丹利", "stanley"],
}
PACKAGING = frozenset({"套装", "单机", "件套", "片装", "双包"})  # how it is sold, not what it is
# Specs whose numbers identify a product, besides the sizes written in its name.
IDENTITY_SPECS = {"voltage_v": "V", "power_w": "W", "battery_ah": "Ah", "disc_mm": "mm",
                  "blade_mm": "mm", "length_m": "m", "pieces": "件"}  # fmt: skip
UNITS = {"v": "V", "伏": "V", "w": "W", "瓦": "W", "ah": "Ah", "安时": "Ah", "安": "Ah", "a": "A",
         "mm": "mm", "毫米": "mm", "m": "m", "米": "m", "件": "件", "片": "片", "寸": "寸",
         "英寸": "寸"}  # fmt: skip
_UNIT = "|".join(sorted(UNITS, key=len, reverse=True))
NUMBER = re.compile(rf"(?<![a-z0-9.\-])(\d+(?:\.\d+)?)(?![\d.])\s*({_UNIT})?(?![a-z])", re.I)
_NOT_A_SIZE = "个块年月天日号元次分小秒周岁台把只根节位张度级档折%公斤克倍人"  # 3个月, 100块

# key, how the answer says it, the words asking for it.
SPECS: list[tuple[str, str, tuple[str, ...]]] = [
    ("voltage_v", "电压 {}V", ("电压", "几伏", "多少伏", "几v", "多少v")),
    ("power_w", "功率 {}W", ("功率", "几瓦", "多少瓦", "几w", "多少w")),
    ("motor", "电机 {}", ("什么电机", "有刷还是", "无刷还是", "是无刷", "是有刷")),
    ("max_torque_nm", "最大扭力 {} N·m", ("扭力", "扭矩", "扭距", "力矩", "牛米")),
    ("no_load_rpm", "空载转速 {} rpm", ("转速", "多少转", "几转")),
    ("impact_rate_bpm", "冲击频率 {} 次/分", ("冲击频率", "冲击次数")),
    ("impact_energy_j", "冲击能量 {} J", ("冲击能量", "冲击力", "几焦", "多少焦")),
    ("battery_ah", "容量 {}Ah", ("容量", "安时", "几安", "多少安", "毫安")),
    ("disc_mm", "片径 {} mm", ("片径", "多大的片", "几寸")),
    ("blade_mm", "锯片直径 {} mm", ("锯片直径", "锯片多大", "几寸")),
    ("cut_depth_mm", "切割深度 {} mm", ("切割深度", "切深", "切多深", "锯多深")),
    ("max_cut_mm", "最大切割 {} mm", ("切多厚", "锯多厚", "切多粗", "剪多粗", "最大切割")),
    ("max_drill_mm", "最大钻孔 {} mm", ("钻孔直径", "最大钻孔", "打多大", "钻多大", "打多粗")),
    ("chuck", "夹头 {}", ("夹头",)),
    ("max_pressure_mpa", "最大压力 {} MPa", ("压力", "兆帕", "水压")),
    ("flow_l_min", "流量 {} L/min", ("流量", "出水量")),
    ("range_m", "量程 {} m", ("量程", "测多远", "测多少米")),
    ("accuracy_mm", "精度 {} mm", ("精度", "误差", "准不准")),
    ("length_m", "长度 {} m", ("长度", "尺长", "几米长")),
    ("hose_m", "高压管 {} m", ("管多长", "管子多长", "水管")),
    ("blade_length_mm", "刀长 {} mm", ("刀长", "刀片多长")),
    ("ip_rating", "防护等级 {}", ("防水", "防尘", "防护等级")),
    ("self_priming", "自吸 {}", ("自吸",)),
    ("material", "材质 {}", ("材料", "材质")),
    ("sizes", "尺码 {}", ("尺码", "哪些码", "几码", "什么码")),
    ("over_glasses", "{}", ("戴眼镜", "近视")),
    ("pieces", "共 {} 件", ("几件", "多少件")),
    ("weight_kg", "重量 {} kg", ("重量", "多重", "重不重", "重吗", "沉不沉", "多沉", "公斤",
                                 "几斤", "多少斤", "重多少")),
]  # fmt: skip
ASPECTS = {
    "price": ["多少钱", "价格", "售价", "几块钱", "多钱", "贵不贵", "价钱", "卖多少", "啥价",
              "什么价", "卖几多", "几多钱", "报价", "价位", "怎么卖", "咋卖", "多少块"],
    "warranty": ["保修", "质保", "保多久", "保几", "保多长", "包修", "管换", "包换", "管修",
                 "保不保"],
    "package": ["带不带", "含不含", "包含", "有没有电池", "送电池", "带电池", "配电池", "单机",
                "清单", "配件", "送不送", "附带", "给几块", "配几块", "几根", "带几", "带什么",
                "有什么东西", "有哪些东西", "送什么", "送啥", "赠品", "光机", "裸机"],
    "specs": ["参数", "规格", *(w for _, _, words in SPECS for w in words)],
    "compatibility": ["能装", "兼容", "通用", "共用", "能用", "装到", "配什么", "配哪", "配啥",
                      "用什么电池", "用哪", "用啥", "哪些工具", "插得上", "能插", "上用",
                      "能不能上", "行不行", "能给", "装在", "适配", "配套", "适用"],
}  # fmt: skip
# What comes in a box or with a tool: 「买了有充电器吗」「带收纳包吗」 ask the package.
ACCESSORIES = ["主机", "电池", "电池包", "充电器", "锯片", "锯条", "批头", "钻头", "刀片", "切割片",
               "磨片", "喷嘴", "喷枪", "水管", "高压管", "吸管", "手柄", "收纳", "收纳盒",
               "收纳包", "收纳袋", "工具箱", "工具包", "箱子", "盒子", "包", "袋", "说明书",
               "防护罩", "扳手", "深度尺", "护套", "挂钩", "靠山", "泡沫壶", "挡板", "套筒",
               "延长杆", "腕带", "卷包", "附件", "配件"]  # fmt: skip
_ITEM = "|".join(sorted(ACCESSORIES, key=len, reverse=True))
PATTERNS = [  # (aspect, wording the word lists cannot say)
    ("package", re.compile(rf"(?:带|送|含|配|附|赠|有)(?:没有|不带|没带|不)?[^，,。.？?！!\s什哪啥]"
                           rf"{{0,4}}?(?:{_ITEM})(?:吗|不|么|没|嘛|呢|[，,。.？?！!\s]|$)")),
    ("package", re.compile(rf"几[块个根片把支节只套](?:{_ITEM})")),  # 送几个批头
    ("package", re.compile("里[面头]?[都还]?[有装带配放][了着的]?些?(?:啥|什么|哪些)")),  # 盒子里
    ("compatibility", re.compile("能充(?!满)")),  # 能充满 asks the charging time: the FAQ
]  # fmt: skip
# A message about a repair: of the product facts only the warranty answers it.
REPAIR_WORDS = ("坏了", "维修", "报修", "修理", "修的话", "修一下", "工时费", "检测费", "换碳刷",
                "以旧换新", "故障")  # fmt: skip


def aspect_of(text: str) -> str | None:
    """What the customer wants to know: the aspect whose wording comes last (Chinese puts the
    question at the end: 「不带电池多重」 asks the weight)."""
    best: tuple[int, str] | None = None
    for name, words in ASPECTS.items():
        for word in words:
            at = text.rfind(word)
            if at >= 0 and (best is None or at + len(word) > best[0]):
                best = (at + len(word), name)
    for name, pattern in PATTERNS:
        for match in pattern.finditer(text):
            if best is None or match.end() > best[0]:
                best = (match.end(), name)
    return best[1] if best else None


@dataclass(frozen=True)
class Mention:
    """A span of the text naming a kind (its products) or a brand."""

    start: int
    end: int
    skus: frozenset[str] = frozenset()
    brand: str = ""


@dataclass(frozen=True)
class Vocabulary:
    """Word -> products, derived from one catalogue."""

    brands: dict[str, str]  # 博世 / bosch -> 博世
    kinds: dict[str, frozenset[str]]  # 角磨机 -> the angle grinders' SKUs
    words: dict[str, frozenset[str]]  # 无刷 -> SKUs whose name has it
    numbers: dict[str, frozenset[tuple[str, float]]]  # SKU -> {("W", 850.0), ...}

    def mentions(self, text: str) -> list[Mention]:
        """Kinds and brands named in `text`, left to right, the longest word at each place."""
        lowered, found, i = text.lower(), [], 0
        longest = max((len(w) for w in [*self.kinds, *self.brands]), default=0)
        while i < len(lowered):
            for n in range(min(longest, len(lowered) - i), 0, -1):
                word = lowered[i : i + n]
                if word in self.kinds:
                    found.append(Mention(i, i + n, skus=self.kinds[word]))
                elif word in self.brands and not _glued(lowered, i):
                    found.append(Mention(i, i + n, brand=self.brands[word]))
                else:
                    continue
                i += n
                break
            else:
                i += 1
        return found


def _glued(text: str, i: int) -> bool:
    """A Latin brand inside another Latin word (xbosch)."""
    before = text[i - 1 : i] if i else ""
    return text[i].isascii() and before.isascii() and before.isalpha()


def brand_of(product: Product) -> str:
    """The brand as customers write it: 博世 of 博世 Bosch."""
    return product.brand.split()[0]


def numbers_in(text: str) -> list[tuple[int, int, str | None, str]]:
    """(start, end, unit or None, digits) of the sizes written in `text`; a bare number counts
    when it has two digits or a decimal point and no measure word follows (3个月, 100块)."""
    found = []
    for match in NUMBER.finditer(text):
        digits, unit = match.group(1), match.group(2)
        if unit is None:
            after = text[match.end() :].lstrip()[:1]
            if (len(digits) < 2 and "." not in digits) or (after and after in _NOT_A_SIZE):
                continue
        found.append((match.start(), match.end(), UNITS[unit.lower()] if unit else None, digits))
    return found


def has_number(
    product_numbers: Iterable[tuple[str, float]], unit: str | None, value: float
) -> bool:
    """Whether a product has the size: any unit for a bare number, inches against mm."""
    for own_unit, own in product_numbers:
        if unit == "寸" and own_unit == "mm" and abs(own - value * 25.4) <= 0.06 * own:
            return True
        if own == value and unit in (None, own_unit):
            return True
    return False


def vocabulary(products: list[Product]) -> Vocabulary:
    """The vocabulary of `products` (cached while the catalogue does not change)."""
    return _build(tuple((p.sku, p.name, p.brand, p.category, _spec_sizes(p)) for p in products))


def _spec_sizes(p: Product) -> tuple[tuple[str, float], ...]:
    specs = p.data.get("specs") or {}
    return tuple(
        (unit, float(specs[key]))
        for key, unit in IDENTITY_SPECS.items()
        if isinstance(specs.get(key), int | float)
    )


@lru_cache(maxsize=4)
def _build(
    catalogue: tuple[tuple[str, str, str, str, tuple[tuple[str, float], ...]], ...],
) -> Vocabulary:
    brands: dict[str, str] = {}
    kinds: dict[str, set[str]] = {}
    words: dict[str, set[str]] = {}
    numbers: dict[str, frozenset[tuple[str, float]]] = {}
    for sku, name, brand, category, spec_sizes in catalogue:
        brands |= dict.fromkeys(brand.lower().split(), brand.split()[0])
        heads = head_nouns(name.lower())
        own_kinds = {category.lower(), *heads, *(base for h in heads for base in _bases(h))}
        for word in own_kinds:
            kinds.setdefault(word, set()).add(sku)
        for token in domain_tokenizer().lcut(name.lower()):
            if _is_word(token) and token not in own_kinds and token not in brands:
                words.setdefault(token, set()).add(sku)
        in_name = NUMBER.findall(name.lower())
        sizes = {(UNITS[u.lower()], float(d)) for d, u in in_name if u} | set(spec_sizes)
        numbers[sku] = frozenset(sizes)
    for target, aliases in ALIASES.items():
        for alias in aliases if target in kinds else []:
            kinds[alias] = kinds.get(alias, set()) | kinds[target]
    frozen = {w: frozenset(s) for w, s in kinds.items()}
    return Vocabulary(brands, frozen, {w: frozenset(s) for w, s in words.items()}, numbers)


def _is_chinese(token: str) -> bool:
    return all("\u4e00" <= ch <= "\u9fff" for ch in token)


def _is_word(token: str) -> bool:
    return (_is_chinese(token) and len(token) >= 2) or bool(re.fullmatch("[a-z]{3,}", token))


def head_nouns(name: str) -> set[str]:
    """The head noun of each '+' part of a name (or package): its last Chinese word that is not
    about packaging (46 件棘轮螺丝刀套装 -> 螺丝刀; 含钴高速钢麻花钻头 -> 麻花钻头)."""
    heads = set()
    for part in re.sub(r"[（(][^）)]*[）)]", " ", name).split("+"):
        tokens = [t for t in domain_tokenizer().lcut(part) if _is_chinese(t) and t not in PACKAGING]
        tail = ""
        for token in reversed(tokens):
            if len(token) == 1 and not tail:
                tail = token  # 麻花钻 + 头
            elif len(token) >= 2:
                heads.add(token + tail if token + tail in part else token)
                break
    return heads


def _bases(head: str) -> list[str]:
    """The generic noun in a compound head: a dictionary word after a modifier of two or more
    characters (激光测距仪 -> 测距仪, 麻花钻头 -> 钻头, but not 充电器 -> 电器)."""
    known = domain_tokenizer().FREQ
    return [head[i:] for i in range(2, len(head) - 1) if known.get(head[i:])]
