"""Synthetic complaints with known answers, to measure the screening (tests, benchmark).

Seeded and reproducible. Ordinary complainants mostly complain once (some two to five times
a year), in their own words assembled from many phrasings, sometimes quoting a popular
online complaint template, sometimes asking for 退一赔三 themselves, a few sharing a family
phone. Professional claimants work in rings of one to three names sharing one or two
phones and often an address, file many complaints a year against many merchants in every
unit, mostly within days of buying, from a few templates of their own -- each complaint the
template refilled and edited (words swapped, sentences dropped or added, punctuation and
typos). Some professionals use a new phone each time and give no ID or address: the hard
cases no identifier links.

:func:`load` writes them as complaint cases straight into the tables (no events, no
receipts): the screening reads only the cases, so the benchmark can fill 100,000 quickly.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import insert
from sqlalchemy.orm import Session, sessionmaker

from storage.db import session_scope
from storage.models import Case, CaseParty, new_portal_id

__all__ = ["SyntheticComplaint", "generate", "load"]

_SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡"
    "余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯"
    "龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
)
_GIVEN = (
    "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰萍红鹏飞建国志文斌宇浩凯健俊"
    "帆鑫婷雪琳晨阳子怡欣然佳琪思雨梓涵博晓东海波宁"
)
_PLATFORMS = ("淘宝", "京东", "拼多多", "抖音商城", "快手小店", "美团", "唯品会")
_SHOP_WORDS = "鑫源恒达优品惠美乐康佳和盛天宏福瑞德隆金华安信诚博雅星月云海"
_SHOP_KINDS = ("旗舰店", "专营店", "食品店", "小铺", "专卖店", "生活馆", "百货", "优选")
_PRODUCTS = (
    "蜂蜜",
    "燕窝",
    "牛肉干",
    "坚果礼盒",
    "酵素饮料",
    "减肥茶",
    "代餐粉",
    "进口奶粉",
    "保健酒",
    "枸杞",
    "阿胶糕",
    "蛋白粉",
    "面膜",
    "洗发水",
    "儿童玩具",
    "充电宝",
    "蓝牙耳机",
    "羽绒服",
    "运动鞋",
    "电饭煲",
    "床上四件套",
    "手机壳",
    "茶叶",
    "月饼",
    "辣条",
    "咖啡豆",
    "益生菌",
)
_DEFECTS = (
    "标签未标注生产许可证编号",
    "配料表与实物不符",
    "无中文标签",
    "超过保质期",
    "标注的执行标准已作废",
    "未标示营养成分表",
    "添加了不得添加的物质",
    "宣称的原产地与实际不符",
)
_CLAIMS = ("全网第一", "最好的", "国家级产品", "100%纯天然", "顶级品质", "销量第一", "治疗高血压")
_EFFECTS = ("降血糖", "抗癌", "治疗失眠", "降血压", "增强免疫力治疗感冒")
_LAWS = ("第三十四条", "第六十七条", "第七十一条", "第三十八条", "第五十条")

_PRO_TEMPLATES = (
    "本人于{date}在{shop}购买了{product}{qty}件，共支付{amount}元。收到商品后发现该产品{defect}，"
    "违反了《中华人民共和国食品安全法》{law}的规定，属于不符合食品安全标准的食品。"
    "根据《食品安全法》第一百四十八条，要求商家退一赔十，并请贵局依法查处，书面答复处理结果。",
    "投诉人于{date}通过{platform}在被投诉人{shop}处下单购买{product}，商品详情页宣传“{claim}”，"
    "使用了绝对化用语，违反《广告法》第九条规定。投诉人要求被投诉人退还货款{amount}元并给予三倍赔偿，"
    "同时请求市场监管部门对其违法行为立案调查并给予行政处罚，处罚结果请书面告知投诉人。",
    "{date}我在{shop}拍下{product}，商品标签无生产日期、无生产许可证编号，属于三无产品。"
    "依据《消费者权益保护法》第五十五条，要求经营者退一赔三，增加赔偿的金额不足五百元的按五百元计算。"
    "请依法对商家进行处罚，并按规定给予举报人奖励。",
    "举报{shop}销售的{product}宣称具有{effect}功效，普通食品宣传疾病治疗功能，涉嫌虚假宣传。"
    "本人于{date}购买，订单号{order}。要求：一、退还货款{amount}元；二、依法支付价款十倍赔偿；"
    "三、对商家立案处罚，并在法定期限内告知是否立案。",
    "我于{date}在{platform}平台{shop}购买{product}，实付{amount}元，收货后发现{defect}。"
    "该行为违反《食品安全法》{law}，依据第一百四十八条第二款，要求支付价款十倍的赔偿金。"
    "请贵局受理本投诉并依法立案查处，不接受调解。",
    "本人{date}于{shop}网店购得{product}，经查该商品{defect}，且页面宣称“{claim}”，"
    "违反了《广告法》和《食品安全法》相关规定。现要求商家退一赔十，并请求贵局对其进行查处，"
    "依法作出行政处罚决定并告知本人。",
)
_SWAPS = (
    ("本人", "我"),
    ("购买", "买了"),
    ("发现", "注意到"),
    ("要求", "请求"),
    ("商家", "经营者"),
    ("依法查处", "依法处理"),
    ("收到商品后", "收货后"),
    ("贵局", "市场监管局"),
    ("违反了", "违反"),
    ("立案调查", "立案查处"),
    ("并请", "同时请"),
    ("书面答复", "书面告知"),
    ("该产品", "该商品"),
)
_PRO_EXTRA = (
    "相关截图和订单信息已保存。",
    "请尽快处理。",
    "本人保留进一步追究的权利。",
    "商品实物照片附后。",
    "商家客服拒绝处理。",
    "恳请贵局依法维护消费者合法权益。",
)
_OPENINGS = (
    "我在{shop}买了{product}，",
    "{date}在{platform}的{shop}下单了{product}，",
    "上周从{shop}购买{product}，",
    "前几天在网上{shop}买的{product}，",
    "{date}购买了{shop}的{product}，",
    "在{platform}上{shop}买了一个{product}，",
    "{date}下单购买{product}（店铺：{shop}），",
    "给孩子在{shop}买的{product}，",
    "我{date}在{shop}订购了{product}，",
    "之前在{shop}网购了{product}，",
)
_PROBLEMS = (
    "收到后发现是坏的",
    "质量很差，用了两天就坏了",
    "和图片描述严重不符",
    "发货太慢，等了半个多月才到",
    "商家拒绝七天无理由退货",
    "客服一直不回复",
    "收到的是过期产品",
    "尺码不对，要求换货商家不同意",
    "少发了一件",
    "包装破损，里面的东西漏了",
    "实际是二手翻新的",
    "颜色和页面上的完全不一样",
    "说好的赠品没有送",
    "吃了以后肚子不舒服",
    "申请退款商家一直不处理",
    "物流显示签收但我根本没收到",
    "价格比页面标的贵了",
    "商品有异味",
    "充不进电",
    "说是正品结果是假货",
    "退货寄回去了商家不退钱",
    "优惠券用不了，客服说是系统问题",
    "发票一直不开",
    "保修期内坏了商家不给修",
)
_DETAILS = (
    "跟客服沟通了好几次都没用。",
    "我有聊天记录。",
    "平台介入也没解决。",
    "已经拍了照片。",
    "这不是第一次遇到这种情况了。",
    "家里老人用的，很着急。",
    "等了一个星期也没有回音。",
    "商家态度很差。",
    "东西不贵但是太气人了。",
    "希望别人不要再上当。",
)
_REQUESTS = (
    "希望商家退款。",
    "要求退货退款。",
    "请帮忙协调处理。",
    "希望市场监管部门督促商家解决。",
    "要求换货。",
    "要求商家赔偿损失。",
    "请尽快处理，谢谢。",
    "希望给个说法。",
    "要求商家按承诺发货。",
)
_ORDINARY_COMPENSATION = ("要求退一赔三。", "要求三倍赔偿。", "听说可以退一赔三，我要求赔偿。")
#: A complaint text circulating online that ordinary consumers copy (a hard negative).
_POPULAR = (
    "本人在{shop}购买{product}，收到后发现商品质量存在问题，与商家宣传不符。多次联系商家未果，"
    "现向贵局投诉，要求商家退货退款并赔偿损失，请贵局依法维护消费者合法权益。"
)


@dataclass(frozen=True)
class SyntheticComplaint:
    """One complaint and its known answer (``professional``; ``person``: who really filed it)."""

    unit: int
    name: str | None
    contact: str
    title: str
    summary: str
    shop_name: str
    shop_url: str
    platform: str
    received_at: datetime
    professional: bool
    person: str


def _name(r: random.Random) -> str:
    given = "".join(r.choice(_GIVEN) for _ in range(r.choice((1, 2, 2))))
    return r.choice(_SURNAMES) + given


def _phone(r: random.Random) -> str:
    return "1" + r.choice("3456789") + "".join(r.choice("0123456789") for _ in range(9))


def _id_number(r: random.Random) -> str:
    born = date(1960, 1, 1) + timedelta(days=r.randrange(16000))
    body = f"{r.randrange(110000, 659000)}{born:%Y%m%d}{r.randrange(1000):03d}"
    weights = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
    return body + "10X98765432"[sum(int(d) * w for d, w in zip(body, weights, strict=True)) % 11]


def _address(r: random.Random) -> str:
    return (
        f"{r.choice(('示例市', '东城市', '西江市'))}{r.choice(('东湖', '南山', '高新', '城关'))}区"
        f"{r.choice(('建设', '人民', '解放', '和平', '幸福'))}路{r.randrange(1, 300)}号"
        f"{r.randrange(1, 30)}栋{r.randrange(101, 2800)}室"
    )


def _shop(r: random.Random) -> tuple[str, str, str]:
    name = "".join(r.sample(_SHOP_WORDS, 2)) + r.choice(_PRODUCTS[:12])[:2] + r.choice(_SHOP_KINDS)
    platform = r.choice(_PLATFORMS)
    return name, f"https://shop{r.randrange(10**8)}.example-mall.cn/", platform


def _date_text(r: random.Random, d: date) -> str:
    return r.choice((f"{d.year}年{d.month}月{d.day}日", f"{d.month}月{d.day}日", f"{d:%Y-%m-%d}"))


def _edit(r: random.Random, text: str) -> str:
    for a, b in _SWAPS:
        if a in text and r.random() < 0.35:
            text = text.replace(a, b)
    sentences = [s for s in text.replace("。", "。\n").split("\n") if s]
    if len(sentences) > 2 and r.random() < 0.25:
        sentences.pop(r.randrange(1, len(sentences) - 1))
    if r.random() < 0.4:
        sentences.insert(r.randrange(len(sentences) + 1), r.choice(_PRO_EXTRA))
    out = "".join(sentences)
    if r.random() < 0.3:
        out = out.replace("，", ",").replace("。", ". ")
    for _ in range(r.randrange(3)):
        if len(out) > 10:
            i = r.randrange(len(out))
            out = out[:i] + out[i + 1 :]
    return out


@dataclass
class _Ring:
    key: str
    names: list[str]
    phones: list[str]
    ids: list[str]
    address: str
    templates: list[str]
    burner: bool


def _fill(r: random.Random, template: str, shop: str, platform: str, bought: date) -> str:
    return template.format(
        date=_date_text(r, bought),
        shop=shop,
        platform=platform,
        product=r.choice(_PRODUCTS),
        qty=r.randrange(1, 20),
        amount=r.randrange(30, 3000),
        defect=r.choice(_DEFECTS),
        law=r.choice(_LAWS),
        claim=r.choice(_CLAIMS),
        effect=r.choice(_EFFECTS),
        order=r.randrange(10**15, 10**16),
    )


def _pro_complaints(
    r: random.Random,
    ring: _Ring,
    count: int,
    units: int,
    start: datetime,
    shops: list[tuple[str, str, str]],
) -> list[SyntheticComplaint]:
    out = []
    for _ in range(count):
        at = start + timedelta(seconds=r.randrange(365 * 86400))
        who = r.randrange(len(ring.names))
        gap = r.randrange(0, 4) if r.random() < 0.75 else r.randrange(4, 25)
        bought = (at + timedelta(hours=8)).date() - timedelta(days=gap)
        shop, url, platform = r.choice(shops) if r.random() < 0.2 else _shop(r)
        text = _edit(r, _fill(r, r.choice(ring.templates), shop, platform, bought))
        if ring.burner:
            contact = _phone(r)
        else:
            contact = r.choice(ring.phones) if r.random() < 0.9 else _phone(r)
            if r.random() < 0.4:
                text += f"身份证号：{ring.ids[who]}。"
            if r.random() < 0.6:
                text += f"收货地址：{ring.address}。"
        out.append(
            SyntheticComplaint(
                r.randrange(units),
                ring.names[who],
                contact,
                f"投诉{shop}销售{r.choice(_PRODUCTS)}",
                text,
                shop,
                url,
                platform,
                at,
                True,
                ring.key,
            )
        )
    return out


def _ordinary_text(r: random.Random, shop: str, platform: str, bought: date) -> str:
    if r.random() < 0.04:
        return _POPULAR.format(shop=shop, product=r.choice(_PRODUCTS))
    parts = [
        r.choice(_OPENINGS).format(
            shop=shop, platform=platform, product=r.choice(_PRODUCTS), date=_date_text(r, bought)
        ),
        r.choice(_PROBLEMS) + "。",
    ]
    if r.random() < 0.6:
        parts.append(r.choice(_DETAILS))
    if r.random() < 0.3:
        parts.append(r.choice(_PROBLEMS) + "。")
    parts.append(r.choice(_ORDINARY_COMPENSATION) if r.random() < 0.08 else r.choice(_REQUESTS))
    return "".join(parts)


def generate(
    n: int,
    seed: int = 7,
    *,
    units: int = 5,
    professional_share: float = 0.2,
    burner_share: float = 0.12,
    start: datetime = datetime(2026, 1, 1, tzinfo=UTC),
) -> list[SyntheticComplaint]:
    """``n`` complaints over one year from ``start``, in ``units`` units, sorted by arrival;
    ``professional_share`` of them by professional claimants, ``burner_share`` of those by
    rings that give a new phone each time and no ID or address. The shares are exact (the
    rings are drawn to fill them), so a small set has the composition of a large one."""
    r = random.Random(seed)
    shops = [_shop(r) for _ in range(max(20, n // 4))]
    out: list[SyntheticComplaint] = []
    pro_target = int(n * professional_share)
    burner_target = round(pro_target * burner_share)
    ring_no = 0
    while sum(1 for c in out if c.professional) < pro_target:
        ring_no += 1
        burners = sum(1 for c in out if c.professional and c.person.startswith("burner"))
        members = r.choice((1, 1, 2, 3))
        burner = burners < burner_target
        ring = _Ring(
            f"{'burner' if burner else 'ring'}{ring_no}",
            [_name(r) for _ in range(members)],
            [_phone(r) for _ in range(r.choice((1, 1, 2)))],
            [_id_number(r) for _ in range(members)],
            _address(r),
            r.sample(_PRO_TEMPLATES, r.choice((1, 2, 2, 3))),
            burner=burner,
        )
        left = (burner_target - burners) if burner else pro_target - len(out)
        count = min(left, r.randrange(6, 45))
        out.extend(_pro_complaints(r, ring, count, units, start, shops))
    person = 0
    family: list[tuple[str, str]] = []
    while len(out) < n:
        person += 1
        name = _name(r)
        if family and r.random() < 0.02:
            phone = r.choice(family)[1]
        else:
            phone = _phone(r)
            family.append((name, phone))
        home = r.randrange(units)
        count = r.choices((1, 2, 3, 4, 5), weights=(82, 13, 3, 1, 1))[0]
        ident, address = _id_number(r), _address(r)
        for _ in range(min(count, n - len(out))):
            at = start + timedelta(seconds=r.randrange(365 * 86400))
            gap = r.randrange(0, 60)
            bought = (at + timedelta(hours=8)).date() - timedelta(days=gap)
            shop, url, platform = (
                shops[min(int(r.paretovariate(1.2)) - 1, len(shops) - 1)]
                if r.random() < 0.5
                else r.choice(shops)
            )
            text = _ordinary_text(r, shop, platform, bought)
            if r.random() < 0.1:
                text += f"身份证号：{ident}。"
            if r.random() < 0.15:
                text += f"收货地址：{address}。"
            out.append(
                SyntheticComplaint(
                    home if r.random() < 0.9 else r.randrange(units),
                    name if r.random() < 0.97 else None,
                    phone if r.random() < 0.9 else f"{phone} {name}@example.cn",
                    f"投诉{shop}",
                    text,
                    shop,
                    url,
                    platform,
                    at,
                    False,
                    f"p{person}",
                )
            )
    out.sort(key=lambda c: c.received_at)
    return out[:n]


def load(
    sessions: sessionmaker[Session],
    complaints: Sequence[SyntheticComplaint],
    unit_ids: Sequence[int],
    batch: int = 2000,
) -> list[str]:
    """Write the complaints as complaint cases (state ``received``) with their party; returns
    their case ids in the same order."""
    ids: list[str] = []
    for i in range(0, len(complaints), batch):
        cases, parties = [], []
        for c in complaints[i : i + batch]:
            case_id = new_portal_id()
            ids.append(case_id)
            cases.append(
                {
                    "id": case_id,
                    "unit_id": unit_ids[c.unit % len(unit_ids)],
                    "title": c.title[:200],
                    "procedure": "general",
                    "state": "received",
                    "source": "complaint",
                    "party_kind": "organisation",
                    "shop_url": c.shop_url,
                    "summary": c.summary,
                    "complainant_name": c.name,
                    "complainant_contact": c.contact,
                    "facts": {},
                    "event_count": 0,
                    "received_at": c.received_at,
                    "updated_at": c.received_at,
                }
            )
            parties.append(
                {
                    "case_id": case_id,
                    "name": c.shop_name,
                    "shop_url": c.shop_url,
                    "platform": c.platform,
                }
            )
        with session_scope(sessions) as session:
            session.execute(insert(Case), cases)
            session.execute(insert(CaseParty), parties)
    return ids
