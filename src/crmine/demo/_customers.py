"""Customers: demographics, planted segment and the latent values each customer is drawn with."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from crmine.demo._spec import (
    ACQUISITION_CHANNELS,
    CATEGORIES,
    DAYS,
    MIX_CONCENTRATION,
    NO_SIGNAL,
    OBSERVATION_END,
    SEGMENTS,
    SLEEPING_DOG_AGE,
    SLEEPING_DOG_UPLIFT,
    START,
    YOUNG_AGE,
    YOUNG_UPLIFT,
)
from crmine.demo._util import choice_rows, days_to_ts, shop_hours

__all__ = ["CustomerLatent", "make_customers", "make_neutral_customers"]

# (city, region, country, weight): mostly Chinese tier-1/2 cities, a few international ones.
CITIES = (
    ("Shanghai", "East China", "China", 0.16),
    ("Beijing", "North China", "China", 0.14),
    ("Shenzhen", "South China", "China", 0.11),
    ("Guangzhou", "South China", "China", 0.10),
    ("Chengdu", "Southwest China", "China", 0.08),
    ("Hangzhou", "East China", "China", 0.08),
    ("Wuhan", "Central China", "China", 0.06),
    ("Nanjing", "East China", "China", 0.05),
    ("Xi'an", "Northwest China", "China", 0.04),
    ("Chongqing", "Southwest China", "China", 0.04),
    ("Tianjin", "North China", "China", 0.03),
    ("Suzhou", "East China", "China", 0.03),
    ("Singapore", "Southeast Asia", "Singapore", 0.02),
    ("Tokyo", "East Asia", "Japan", 0.015),
    ("Seoul", "East Asia", "South Korea", 0.01),
    ("Sydney", "Oceania", "Australia", 0.01),
    ("London", "Europe", "United Kingdom", 0.01),
    ("New York", "North America", "United States", 0.005),
)
SURNAMES = (
    ("王", "wang"), ("李", "li"), ("张", "zhang"), ("刘", "liu"), ("陈", "chen"),
    ("杨", "yang"), ("黄", "huang"), ("赵", "zhao"), ("吴", "wu"), ("周", "zhou"),
    ("徐", "xu"), ("孙", "sun"), ("马", "ma"), ("朱", "zhu"), ("胡", "hu"),
    ("郭", "guo"), ("何", "he"), ("高", "gao"), ("林", "lin"), ("罗", "luo"),
)  # fmt: skip
GIVEN = (
    ("伟", "wei"), ("芳", "fang"), ("娜", "na"), ("敏", "min"), ("静", "jing"),
    ("丽", "li"), ("强", "qiang"), ("磊", "lei"), ("军", "jun"), ("洋", "yang"),
    ("勇", "yong"), ("艳", "yan"), ("杰", "jie"), ("娟", "juan"), ("涛", "tao"),
    ("明", "ming"), ("超", "chao"), ("秀英", "xiuying"), ("霞", "xia"), ("平", "ping"),
    ("刚", "gang"), ("桂英", "guiying"), ("浩然", "haoran"), ("子涵", "zihan"),
    ("欣怡", "xinyi"), ("宇轩", "yuxuan"),
)  # fmt: skip
WESTERN_FIRST = ("James", "Emma", "Oliver", "Mia", "Lucas", "Sophia", "Noah", "Ava",
                 "Ethan", "Chloe", "Hiro", "Yuki", "Min-jun", "Ji-woo", "Wei Ming", "Mei Ling")
WESTERN_LAST = ("Smith", "Tan", "Lim", "Sato", "Suzuki", "Kim", "Park", "Brown", "Wilson",
                "Taylor", "Lee", "Wong", "Ng", "Jones")
STREETS = ("Nanjing Road", "Huaihai Road", "Chang'an Avenue", "Zhongshan Road",
           "Renmin Road", "Jiefang Road", "Jianshe Road", "Heping Road", "Xinhua Road",
           "Century Avenue", "Orchard Road", "Main Street")
OCCUPATIONS = ("engineer", "teacher", "doctor", "manager", "sales", "designer", "civil_servant",
               "freelancer", "worker", "student", "retired", "entrepreneur")
EDUCATION = ("high_school", "vocational", "bachelor", "master", "doctorate")


@dataclass(slots=True)
class CustomerLatent:
    """Per-customer latent values the later stages draw from (index = customer row)."""

    segment: np.ndarray  # int index into SEGMENTS
    t0: np.ndarray  # signup = first purchase, days since START
    age: np.ndarray
    lam: np.ndarray  # BG/NBD purchase rate per day
    p: np.ndarray  # BG/NBD dropout probability after each repeat purchase
    nu: np.ndarray  # Gamma-Gamma rate: mean order value = gg_p / nu
    category_pref: np.ndarray  # (n, len(CATEGORIES))
    channel_pref: np.ndarray  # (n, len(CHANNELS_ORDER))
    discount_prop: np.ndarray  # probability that a line is discounted
    response_base: np.ndarray  # relative campaign response without the campaign
    response_uplift: np.ndarray  # relative extra response caused by a campaign
    ticket_frailty: np.ndarray  # multiplies the segment's ticket rate


def _segment_sizes(n: int) -> np.ndarray:
    shares = np.array([s.share for s in SEGMENTS])
    sizes = np.floor(shares * n).astype(np.int64)
    # Largest remainders get the leftover customers so sizes sum to n exactly.
    rest = n - sizes.sum()
    sizes[np.argsort(-(shares * n - sizes))[:rest]] += 1
    return sizes


def _dirichlet_rows(rng: np.random.Generator, means: np.ndarray) -> np.ndarray:
    """One Dirichlet draw per row around ``means`` (rows sum to 1; zero means stay zero)."""
    shape = np.maximum(means * MIX_CONCENTRATION, 1e-9)
    draws = rng.gamma(shape)
    draws[means == 0] = 0.0
    return draws / draws.sum(axis=1, keepdims=True)



def _customer_table(contact: dict[str, np.ndarray | list[str]], gender: np.ndarray,
                    birth: np.ndarray, age: np.ndarray, income: np.ndarray, occupation: np.ndarray,
                    education: np.ndarray, t0: np.ndarray, acquisition: np.ndarray
                    ) -> pd.DataFrame:  # fmt: skip
    """The customers table in its canonical column order (both companies share it)."""
    n = len(gender)
    return pd.DataFrame(
        {
            "customer_id": [f"C{i:06d}" for i in range(1, n + 1)],
            "name": contact["name"],
            "email": contact["email"],
            "phone": contact["phone"],
            "gender": gender,
            "birth_date": birth,
            "age": age,
            "income": income,
            "occupation": occupation,
            "education": education,
            "address": contact["address"],
            "city": contact["city"],
            "region": contact["region"],
            "country": contact["country"],
            "signup_date": days_to_ts(np.floor(t0), START),
            "acquisition_channel": acquisition,
        }
    )

def make_customers(rng: np.random.Generator, n: int) -> tuple[pd.DataFrame, CustomerLatent]:
    """Draw ``n`` customers: the canonical ``customers`` table and their latent values."""
    seg = rng.permutation(np.repeat(np.arange(len(SEGMENTS)), _segment_sizes(n)))

    def per_segment(attr: str) -> np.ndarray:
        return np.array([getattr(s, attr) for s in SEGMENTS], dtype=float)[seg]

    # Signups spread over the span, slightly more recent ones (a growing business); at least
    # two weeks before the end so every customer has some history.
    t0 = (DAYS - 14.0) * rng.random(n) ** 0.9
    t0 = np.floor(t0) + shop_hours(rng, n)

    r, alpha = per_segment("r"), per_segment("alpha")
    a, b = per_segment("a"), per_segment("b")
    lam = rng.gamma(r, 1.0 / alpha)
    p = rng.beta(a, b)
    nu = rng.gamma(per_segment("gg_q"), 1.0 / per_segment("gg_v"))

    age = np.clip(np.round(rng.normal(per_segment("age_mean"), per_segment("age_sd"))), 18, 80)
    age = age.astype(np.int64)
    gender = np.where(rng.random(n) < 0.52, "F", "M")
    # Birth dates consistent with the age at the observation end.
    birth = OBSERVATION_END - pd.to_timedelta(age * 365.25 + rng.random(n) * 364, unit="D")
    birth = birth.normalize()

    income = per_segment("income_median") * np.exp(rng.normal(0.0, 0.35, n))
    income = np.round(income, -2)
    occupation = rng.choice(OCCUPATIONS[:-2], size=n)
    occupation = np.where(age < 23, "student", occupation)
    occupation = np.where(age >= 62, "retired", occupation)
    occupation = np.where((seg == 0) & (rng.random(n) < 0.35), "entrepreneur", occupation)
    edu_p = np.array([[0.10, 0.10, 0.45, 0.28, 0.07], [0.25, 0.25, 0.40, 0.09, 0.01]])
    education = np.where(
        income > 180_000,
        np.array(EDUCATION)[choice_rows(rng, np.repeat(edu_p[:1], n, axis=0))],
        np.array(EDUCATION)[choice_rows(rng, np.repeat(edu_p[1:], n, axis=0))],
    )

    contact = _contact_details(rng, n)

    acq_p = np.array([s.acquisition_mix for s in SEGMENTS])[seg]
    acquisition = np.array(ACQUISITION_CHANNELS)[choice_rows(rng, acq_p)]

    customers = _customer_table(contact, gender, birth.values, age, income, occupation,
                                education, t0, acquisition)

    cat_mean = np.array([s.category_mix for s in SEGMENTS], dtype=float)
    chan_mean = np.array([s.channel_mix for s in SEGMENTS], dtype=float)
    cat_mean /= cat_mean.sum(axis=1, keepdims=True)
    chan_mean /= chan_mean.sum(axis=1, keepdims=True)
    disc_mean = per_segment("discount_rate")
    # Beta around the segment's discount rate, concentration 20 (moderate noise).
    discount_prop = rng.beta(disc_mean * 20.0, (1.0 - disc_mean) * 20.0)

    uplift = per_segment("response_uplift")
    uplift = uplift + np.where(age < YOUNG_AGE, YOUNG_UPLIFT, 0.0)
    dogs = (seg == _segment_index("loyal_regular")) & (age >= SLEEPING_DOG_AGE)
    uplift = np.where(dogs, SLEEPING_DOG_UPLIFT, uplift)

    latent = CustomerLatent(
        segment=seg,
        t0=t0,
        age=age,
        lam=lam,
        p=p,
        nu=nu,
        category_pref=_dirichlet_rows(rng, cat_mean[seg]),
        channel_pref=_dirichlet_rows(rng, chan_mean[seg]),
        discount_prop=discount_prop,
        response_base=per_segment("response_base"),
        response_uplift=uplift,
        ticket_frailty=rng.gamma(1.5, 1.0 / 1.5, n),
    )
    return customers, latent


def make_neutral_customers(rng: np.random.Generator, n: int
                           ) -> tuple[pd.DataFrame, CustomerLatent]:
    """``n`` customers of the no-signal company: the same table, every latent value shared.

    Attributes are drawn independently of each other and of everything that happens later
    (``NO_SIGNAL``); the latent ``segment`` is -1 (none) for everyone.
    """
    spec = NO_SIGNAL
    t0 = (DAYS - 14.0) * rng.random(n) ** 0.9
    t0 = np.floor(t0) + shop_hours(rng, n)
    age = np.clip(np.round(rng.normal(spec.age_mean, spec.age_sd, n)), 18, 80).astype(np.int64)
    gender = np.where(rng.random(n) < 0.52, "F", "M")
    birth = OBSERVATION_END - pd.to_timedelta(age * 365.25 + rng.random(n) * 364, unit="D")
    income = np.round(spec.income_median * np.exp(rng.normal(0.0, 0.5, n)), -2)
    occupation = rng.choice(OCCUPATIONS, size=n)
    education = rng.choice(EDUCATION, size=n, p=[0.2, 0.2, 0.4, 0.15, 0.05])
    contact = _contact_details(rng, n)
    acq = np.array(spec.acquisition_mix)
    acquisition = rng.choice(ACQUISITION_CHANNELS, size=n, p=acq / acq.sum())
    customers = _customer_table(contact, gender, birth.normalize().values, age, income,
                                occupation, education, t0, acquisition)
    chan = np.array(spec.channel_mix) / sum(spec.channel_mix)
    latent = CustomerLatent(
        segment=np.full(n, -1),
        t0=t0,
        age=age,
        lam=np.full(n, spec.lambda_per_day),
        p=np.zeros(n),
        nu=np.full(n, spec.response_value_shape / spec.response_value_mean),
        category_pref=np.full((n, len(CATEGORIES)), 1.0 / len(CATEGORIES)),
        channel_pref=np.tile(chan, (n, 1)),
        discount_prop=np.full(n, spec.discount_rate),
        response_base=np.full(n, spec.response_rate),
        response_uplift=np.zeros(n),
        ticket_frailty=np.ones(n),
    )
    return customers, latent


def _segment_index(name: str) -> int:
    return [s.name for s in SEGMENTS].index(name)


def _contact_details(rng: np.random.Generator, n: int) -> dict[str, np.ndarray | list[str]]:
    """City, region, country, name, e-mail, phone and address of ``n`` customers."""
    w = np.array([c[3] for c in CITIES])
    city_idx = rng.choice(len(CITIES), size=n, p=w / w.sum())
    city = np.array([c[0] for c in CITIES])[city_idx]
    region = np.array([c[1] for c in CITIES])[city_idx]
    country = np.array([c[2] for c in CITIES])[city_idx]
    is_cn = country == "China"

    sur = rng.integers(len(SURNAMES), size=n)
    giv = rng.integers(len(GIVEN), size=n)
    wf = rng.integers(len(WESTERN_FIRST), size=n)
    wl = rng.integers(len(WESTERN_LAST), size=n)
    # Distinct numbers keep every e-mail address unique (they are an identity key in CRMs).
    nums = rng.permutation(max(10 * n, 10_000))[:n] + 100
    names, emails = [], []
    for i in range(n):  # string assembly per customer (not per order): ~10 ms for 10k
        if is_cn[i]:
            names.append(SURNAMES[sur[i]][0] + GIVEN[giv[i]][0])
            emails.append(f"{GIVEN[giv[i]][1]}.{SURNAMES[sur[i]][1]}{nums[i]}@example.cn")
        else:
            names.append(f"{WESTERN_FIRST[wf[i]]} {WESTERN_LAST[wl[i]]}")
            local = f"{WESTERN_FIRST[wf[i]]}.{WESTERN_LAST[wl[i]]}".lower().replace(" ", "")
            emails.append(f"{local}{nums[i]}@example.com")
    mobile = rng.integers(130_0000_0000, 199_9999_9999, size=n)
    phone = [f"+86 {m // 10**8} {m // 10**4 % 10**4:04d} {m % 10**4:04d}" for m in mobile]
    street_no = rng.integers(1, 999, size=n)
    street = np.array(STREETS)[rng.integers(len(STREETS), size=n)]
    address = [f"No. {s} {st}, {c}" for s, st, c in zip(street_no, street, city, strict=True)]
    return {"name": names, "email": emails, "phone": phone, "address": address,
            "city": city, "region": region, "country": country}
