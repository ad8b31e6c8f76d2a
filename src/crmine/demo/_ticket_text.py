"""Ticket texts in English and Chinese written from a planted reason, with realistic noise.

A share of customers (``ZH_SHARE``, fixed per customer) writes in Chinese; anyone switches
language now and then. A ticket is one or two sentences about its reason (the second in
either tone), sometimes with a greeting, a sign-off, a phone number or e-mail address (PII
to be masked), typos in English and English words inside Chinese sentences (App, WeChat,
product names). Topic mining is checked against the reason each text was written from
(``truth.ticket_topics``).
"""

from __future__ import annotations

import numpy as np

__all__ = ["TEMPLATES", "TEMPLATES_ZH", "ZH_SHARE", "compose_texts", "writes_chinese"]

ZH_SHARE = 0.4  # customers who write in Chinese
SWITCH_LANGUAGE = 0.08  # tickets written in the customer's other language
SECOND_SENTENCE = 0.7
TYPO_RATE = 0.15  # English tickets with one swapped pair of letters
PII_RATE = 0.1

TEMPLATES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    # category: (complaint texts, neutral texts)
    "billing": (
        ("I was charged twice for order {order}, please refund {amount} yuan.",
         "My bill this month is {amount} yuan higher than it should be.",
         "You charged my card again after I asked you to stop. Very disappointed.",
         "The discount was not applied to order {order}, I paid {amount} yuan too much."),
        ("Can you send me the invoice for order {order}?",
         "How do I change the card used for my monthly payment?",
         "Please explain the {amount} yuan charge on my last bill."),
    ),
    "delivery": (
        ("The delivery of order {order} is {days} days late and nobody answers my messages.",
         "The parcel delivery arrived damaged, the box was crushed by the courier.",
         "Courier marked the parcel of order {order} as delivered but I never received it.",
         "Third time my parcel delivery is late this month, this is unacceptable."),
        ("Can I change the delivery address for order {order}?",
         "When will my parcel arrive? The delivery tracking has not updated for {days} days.",
         "Please make the parcel delivery after 6pm, nobody is home during the day."),
    ),
    "product_quality": (
        ("The {product} stopped working after {days} days, poor product quality.",
         "The {product} I received looks different from the pictures, poor quality product.",
         "The {product} has a quality defect, I want a replacement product or a refund.",
         "Bad quality: the {product} broke the first time I used the product."),
        ("How do I clean the {product}? Is the product material good quality?",
         "Is the {product} covered by the warranty if the product quality is bad?"),
    ),
    "technical": (
        ("The app crashes every time I try to pay, I could not place my order.",
         "I cannot log in to the app for {days} days now, fix it please.",
         "Your website keeps showing an error at checkout, the app is broken too."),
        ("How do I turn on notifications in the app?",
         "The app asks me to update, is the new version safe?",
         "How can I link my WeChat to the app? The website shows an error."),
    ),
    "account": (
        ("Someone changed my account details without my permission.",
         "My loyalty points disappeared from my account."),
        ("Please update my phone number on my account.",
         "How do I reset my account password?",
         "I want to change the email address of my account."),
    ),
    "cancellation": (
        ("Cancel my subscription now, your service has been terrible.",
         "I want to cancel my membership, I have complained {days} times and nothing changed."),
        ("I would like to cancel my subscription at the end of this month.",
         "Please stop my membership subscription, I do not use it enough.",
         "How do I cancel my subscription plan? I am moving abroad."),
    ),
}  # fmt: skip

TEMPLATES_ZH: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "billing": (
        ("订单{order}被重复扣款了，请退还{amount}元。",
         "这个月的账单比实际多扣了{amount}元，扣费有问题。",
         "我说过不要再自动扣款了，你们还是从银行卡扣费，账单不对，非常失望。",
         "订单{order}的优惠券没有抵扣，多付了{amount}元，请退款。"),
        ("请帮我开一下订单{order}的发票，账单金额是{amount}元。",
         "怎么修改每月自动扣费的银行卡？账单每月几号出？",
         "账单上那笔{amount}元的扣费是什么费用？"),
    ),
    "delivery": (
        ("订单{order}的快递已经延迟{days}天还没发货，客服也不回复。",
         "包裹送到的时候外箱被压坏了，快递太不小心了。",
         "快递显示订单{order}已签收，但是我根本没有收到包裹。",
         "这个月第三次快递物流延误了，配送太慢，无法接受。"),
        ("订单{order}的快递可以修改收货地址吗？",
         "订单{order}的快递什么时候能送到？物流信息{days}天没有更新了。",
         "请快递晚上六点以后再配送包裹，白天家里没人。"),
    ),
    "product_quality": (
        ("买的{product}用了{days}天就坏了，产品质量太差了。",
         "收到的{product}和图片上完全不一样，产品质量很差。",
         "{product}有质量问题，我要换货或者退款。",
         "{product}第一次用就坏了，质量太差，要求退货。"),
        ("{product}应该怎么清洗？产品材质质量好吗？",
         "{product}有质量问题的话在保修范围内吗？"),
    ),
    "technical": (
        ("每次付款App就闪退，根本没法下单。",
         "已经{days}天登录不了App了，请尽快修复。",
         "网站结账的时候一直报错，App也打不开。"),
        ("请问App怎么打开消息通知和提醒？",
         "App提示要更新版本，新版本安全吗？",
         "怎么把微信WeChat绑定到App上？网站一直报错。"),
    ),
    "account": (
        ("有人未经我允许修改了我的账户信息。",
         "我账户里的会员积分突然全部不见了。"),
        ("请帮我更新一下账户绑定的手机号码。",
         "账户登录密码忘记了，怎么重置密码？",
         "我想修改账户绑定的电子邮箱地址。"),
    ),
    "cancellation": (
        ("马上取消我的订阅会员，你们的服务太差了。",
         "我投诉了{days}次都没有解决，要求取消会员订阅。"),
        ("我想在本月底取消订阅会员，不再续费。",
         "请帮我停止会员订阅，我用得不多。",
         "订阅套餐怎么取消？我要搬去国外了。"),
    ),
}  # fmt: skip

_GREETING = {"en": ("Hi, ", "Hello team, ", "Dear customer service, "),
             "zh": ("您好，", "你好，", "客服你好，")}
_SIGN_OFF = {"en": (" Thanks.", " Thank you!", " Please help."),
             "zh": ("谢谢！", "请尽快处理。", "麻烦了。")}
_PII = {"en": (" You can call me on {phone}.", " My email is {email}."),
        "zh": ("我的电话是{phone}。", "我的邮箱是{email}。")}
_NAMES = ("li.wei", "wang.fang", "zhang_min", "chen.jing", "liu.yang", "amy.ho", "tom88")


def writes_chinese(cust: np.ndarray) -> np.ndarray:
    """Whether each customer (by index) writes in Chinese: a fixed hash of the index, so a
    customer's language needs no random draw (and changes no other part of the company)."""
    h = (np.asarray(cust, dtype=np.uint64) * np.uint64(2654435761)) % np.uint64(2**32)
    return (h.astype(np.float64) / 2.0**32) < ZH_SHARE


def _typo(rng: np.random.Generator, text: str) -> str:
    words = text.split(" ")
    long = [i for i, w in enumerate(words) if len(w) >= 5 and w.isalpha()]
    if not long:
        return text
    i = long[int(rng.integers(len(long)))]
    w = words[i]
    j = int(rng.integers(len(w) - 1))
    words[i] = w[:j] + w[j + 1] + w[j] + w[j + 2 :]
    return " ".join(words)


def compose_texts(rng: np.random.Generator, cust: np.ndarray, category: np.ndarray,
                  complaint: np.ndarray, categories: tuple[str, ...],
                  fields: dict[str, np.ndarray]) -> tuple[list[str], np.ndarray]:
    """One text per ticket about ``categories[category[i]]`` and its language (en/zh).

    ``fields`` holds per-ticket values for the placeholders (order, amount, days, product).
    """
    m = len(cust)
    zh = writes_chinese(cust) ^ (rng.random(m) < SWITCH_LANGUAGE)
    u = rng.random((m, 7))
    phones = rng.integers(13_000_000_000, 19_999_999_999, m)
    texts: list[str] = []
    for i in range(m):  # one ticket at a time (tens of thousands at most)
        lang = "zh" if zh[i] else "en"
        book = TEMPLATES_ZH if zh[i] else TEMPLATES
        pool = book[categories[category[i]]][0 if complaint[i] else 1]
        values = {k: v[i] for k, v in fields.items()}
        first = int(u[i, 0] * len(pool))
        parts = [pool[first]]
        if u[i, 1] < SECOND_SENTENCE:  # a second sentence on the same reason, any tone
            both = book[categories[category[i]]][0] + book[categories[category[i]]][1]
            second = both[int(u[i, 2] * len(both))]
            if second != parts[0]:
                parts.append(second)
        sep = "" if zh[i] else " "
        text = sep.join(parts).format(**values)
        if u[i, 3] < 0.3:
            text = _GREETING[lang][int(u[i, 4] * 3)] + text
        if u[i, 5] < 0.3:
            text += _SIGN_OFF[lang][int(u[i, 4] * 3)]
        if u[i, 6] < PII_RATE:
            name = _NAMES[int(u[i, 2] * len(_NAMES))]
            text += _PII[lang][int(u[i, 6] * 20) % 2].format(
                phone=str(phones[i]), email=f"{name}@example.com")
        if lang == "en" and u[i, 4] < TYPO_RATE:
            text = _typo(rng, text)
        texts.append(text)
    return texts, np.where(zh, "zh", "en")
