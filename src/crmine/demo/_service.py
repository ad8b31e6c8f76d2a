"""Service tickets with free text, and survey responses (NPS) driven by complaints."""

from __future__ import annotations

import numpy as np
import pandas as pd

from crmine.demo._customers import CustomerLatent
from crmine.demo._spec import DAYS, NO_SIGNAL, SEGMENTS, START
from crmine.demo._ticket_text import compose_texts
from crmine.demo._util import days_to_ts, shop_hours

__all__ = [
    "NPS_COMPLAINT_EFFECT",
    "cancellation_tickets",
    "make_surveys",
    "make_tickets",
    "plant_agent_groups",
    "plant_complaint_spend",
    "ticket_frame",
    "ticket_topic_truth",
]

TICKET_CATEGORIES = ("billing", "delivery", "product_quality", "technical", "account",
                     "cancellation")
CATEGORY_MIX = np.array([0.18, 0.30, 0.22, 0.15, 0.12, 0.03])
COMPLAINT_PROB = np.array([0.55, 0.65, 0.75, 0.35, 0.15, 0.30])
TICKET_CHANNELS = ("phone", "chat", "email", "app", "store")
TICKET_CHANNEL_MIX = np.array([0.35, 0.30, 0.20, 0.10, 0.05])
PRIORITIES = ("low", "medium", "high", "urgent")
# Mean hours to close per priority (log-normal around it).
CLOSE_HOURS = np.array([60.0, 30.0, 12.0, 4.0])
NPS_COMPLAINT_EFFECT = -1.3  # NPS points per complaint before the survey
# Each complaint in the SPEND_WINDOW_DAYS before a calendar month multiplies what the customer
# pays for their orders in that month by SPEND_RATIO_PER_COMPLAINT (they buy cheaper).
SPEND_RATIO_PER_COMPLAINT = 0.75
SPEND_WINDOW_DAYS = 90
# The teams that answer tickets; one of them (outsourced) is planted slow and poorly rated.
AGENT_GROUPS = ("Tier 1", "Tier 2", "Billing desk", "Outsourced")
AGENT_GROUP_MIX = np.array([0.40, 0.25, 0.20, 0.15])
SLOW_GROUP = "Outsourced"
SLOW_HOURS_RATIO = 2.0  # its tickets take twice as long to close
SLOW_CSAT_DROP_SHARE = 0.5  # and half its CSAT answers are one point lower (never below 1)

SURVEY_TEXT = {
    "promoter": ("Great service and fast delivery, I recommend you to my friends.",
                 "Love the products, quality is excellent.",
                 "Always a good experience, the app is easy to use.",
                 "Excellent value, will keep buying here."),
    "passive": ("Good overall, but delivery could be faster.",
                "Products are fine, prices are a bit high.",
                "OK experience, nothing special.",
                "Decent service, the app sometimes is slow."),
    "detractor": ("Customer service did not solve my problem.",
                  "Too many delivery problems lately.",
                  "Quality has gone down, I am thinking of switching.",
                  "I complained several times and nobody cared."),
}


def make_tickets(rng: np.random.Generator, customers: pd.DataFrame,
                 lat: CustomerLatent, products: pd.DataFrame, *, signal: bool = True
                 ) -> pd.DataFrame:
    """Tickets as an internal frame (customer index ``cust``, time ``t`` in days, …).

    A customer's tickets are a Poisson process over their life at their segment's monthly
    rate times a personal frailty (some customers contact service much more than others);
    without ``signal`` at ``NO_SIGNAL.ticket_rate`` for everyone.
    """
    if signal:
        rate = (np.array([s.ticket_rate for s in SEGMENTS])[lat.segment] / 30.44
                * lat.ticket_frailty)
    else:
        rate = np.full(len(lat.t0), NO_SIGNAL.ticket_rate / 30.44)
    counts = rng.poisson(rate * (DAYS - lat.t0))
    cust = np.repeat(np.arange(len(lat.t0)), counts)
    t = lat.t0[cust] + rng.random(len(cust)) * (DAYS - lat.t0[cust])
    t = np.clip(np.floor(t) + shop_hours(rng, len(cust)), lat.t0[cust], DAYS - 1e-3)
    category = rng.choice(len(TICKET_CATEGORIES), size=len(cust), p=CATEGORY_MIX)
    return _ticket_details(rng, cust, t, category, products, signal=signal)


def _ticket_details(rng: np.random.Generator, cust: np.ndarray, t: np.ndarray,
                    category: np.ndarray, products: pd.DataFrame,
                    complaint: np.ndarray | None = None, *, signal: bool = True
                    ) -> pd.DataFrame:
    m = len(cust)
    if complaint is None:
        complaint = rng.random(m) < COMPLAINT_PROB[category]
    priority = np.where(
        complaint,
        rng.choice(4, size=m, p=[0.10, 0.40, 0.35, 0.15]),
        rng.choice(4, size=m, p=[0.45, 0.45, 0.08, 0.02]),
    )
    hours = CLOSE_HOURS[priority] * np.exp(rng.normal(0.0, 0.6, m))
    closed = t + hours / 24.0
    closed = np.where(closed < DAYS, closed, np.nan)
    csat = np.where(
        complaint,
        rng.choice([1, 2, 3, 4, 5], size=m, p=[0.30, 0.30, 0.20, 0.15, 0.05]),
        rng.choice([1, 2, 3, 4, 5], size=m, p=[0.03, 0.07, 0.20, 0.40, 0.30]),
    ).astype(float)
    csat[(rng.random(m) < 0.3) | np.isnan(closed)] = np.nan  # not everyone answers

    rng.random(m)  # drawn as before texts were composed, so later draws stay the same
    order_no = rng.integers(1, 99_999_999, m)
    amount = rng.integers(20, 800, m)
    days = rng.integers(2, 15, m)
    prod = products["product_name"].to_numpy()[rng.integers(0, len(products), m)]
    fields = {"order": np.array([f"O{o:08d}" for o in order_no]), "amount": amount,
              "days": days, "product": prod}
    # The reason a text is written about is the ticket's category; in the company without
    # signal it is drawn independently, so the text says nothing about the recorded reason
    channel = rng.choice(len(TICKET_CHANNELS), size=m, p=TICKET_CHANNEL_MIX)
    about = category if signal else rng.choice(len(TICKET_CATEGORIES), size=m, p=CATEGORY_MIX)
    # ... and its tone (complaint or not) too, so the text says nothing about the flag.
    tone = complaint if signal else rng.random(m) < COMPLAINT_PROB[about]
    texts, language = compose_texts(rng, cust, about, tone, TICKET_CATEGORIES, fields)
    return pd.DataFrame({
        "cust": cust, "t": t, "closed_t": closed,
        "category": np.array(TICKET_CATEGORIES)[category],
        "channel": np.array(TICKET_CHANNELS)[channel],
        "priority": np.array(PRIORITIES)[priority],
        "is_complaint": complaint, "csat": csat, "text": texts,
        "language": language, "text_reason": np.array(TICKET_CATEGORIES)[about],
    })  # fmt: skip


def cancellation_tickets(rng: np.random.Generator, cust: np.ndarray, t: np.ndarray,
                         products: pd.DataFrame) -> pd.DataFrame:
    """The "please cancel" contacts some churners make (not complaints)."""
    category = np.full(len(cust), TICKET_CATEGORIES.index("cancellation"))
    return _ticket_details(rng, cust, t, category, products,
                           complaint=np.zeros(len(cust), bool))


def ticket_frame(internal: pd.DataFrame, customers: pd.DataFrame) -> pd.DataFrame:
    """The canonical ``tickets`` table from the internal frame, in time order."""
    internal = internal.sort_values(["t", "cust"], kind="stable", ignore_index=True)
    return pd.DataFrame({
        "ticket_id": [f"T{i:07d}" for i in range(1, len(internal) + 1)],
        "customer_id": customers["customer_id"].to_numpy()[internal["cust"].to_numpy()],
        "opened_ts": days_to_ts(internal["t"], START),
        "closed_ts": days_to_ts(internal["closed_t"], START),
        "category": internal["category"].to_numpy(),
        "channel": internal["channel"].to_numpy(),
        "priority": internal["priority"].to_numpy(),
        "is_complaint": internal["is_complaint"].to_numpy(dtype=bool),
        "csat": internal["csat"].to_numpy(dtype=float),
        "text": internal["text"].to_numpy(),
    })  # fmt: skip


def ticket_topic_truth(internal: pd.DataFrame, tickets: pd.DataFrame) -> pd.DataFrame:
    """``truth["ticket_topics"]``: per ticket the reason its text was written about, its
    language and the recorded category (they differ only in the company without signal)."""
    internal = internal.sort_values(["t", "cust"], kind="stable", ignore_index=True)
    return pd.DataFrame({
        "ticket_id": tickets["ticket_id"].to_numpy(),
        "reason": internal["text_reason"].to_numpy(),
        "language": internal["language"].to_numpy(),
        "category": internal["category"].to_numpy(),
        "is_complaint": internal["is_complaint"].to_numpy(dtype=bool),
    })  # fmt: skip


def make_surveys(rng: np.random.Generator, customers: pd.DataFrame, lat: CustomerLatent,
                 tickets: pd.DataFrame, *, signal: bool = True
                 ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Survey responses of ~25% of customers and ``truth["nps_drivers"]``.

    NPS = segment base + ``NPS_COMPLAINT_EFFECT`` per complaint the customer made before
    answering + noise, clipped to 0–10; without ``signal`` one normal draw for everyone.
    """
    n = len(lat.t0)
    who = np.flatnonzero(rng.random(n) < 0.25)
    who = np.r_[who, who[rng.random(len(who)) < 0.08]]  # a few answer twice
    t = lat.t0[who] + rng.random(len(who)) * (DAYS - lat.t0[who])
    t = np.clip(np.floor(t) + shop_hours(rng, len(who)), lat.t0[who], DAYS - 1e-3)

    comp = tickets[tickets["is_complaint"]]
    key = np.sort(comp["cust"].to_numpy() * 10_000.0 + comp["t"].to_numpy())
    n_before = (np.searchsorted(key, who * 10_000.0 + t)
                - np.searchsorted(key, who * 10_000.0))
    if signal:
        base = np.array([s.nps_base for s in SEGMENTS])[lat.segment[who]]
        noise = rng.normal(0, 1.4, len(who))
        nps = np.clip(np.round(base + NPS_COMPLAINT_EFFECT * n_before + noise), 0, 10)
    else:
        nps = np.clip(np.round(rng.normal(NO_SIGNAL.nps_mean, NO_SIGNAL.nps_sd, len(who))),
                      0, 10)
    csat = np.clip(np.round(nps / 2.0 + rng.normal(0.0, 0.6, len(who))), 1, 5)
    band = np.where(nps >= 9, "promoter", np.where(nps >= 7, "passive", "detractor"))
    pick = rng.random(len(who))
    text = [SURVEY_TEXT[b][int(u * len(SURVEY_TEXT[b]))] for b, u in zip(band, pick, strict=True)]
    text_arr = np.array(text, dtype=object)
    text_arr[rng.random(len(who)) < 0.2] = None  # many respondents leave the comment empty

    order = np.argsort(t, kind="stable")
    surveys = pd.DataFrame({
        "customer_id": customers["customer_id"].to_numpy()[who[order]],
        "response_ts": days_to_ts(t[order], START),
        "nps": nps[order].astype(float),
        "csat": csat[order].astype(float),
        "text": text_arr[order],
    })
    if not signal:
        drivers = pd.DataFrame([
            {"feature": "n_complaints", "effect": 0.0, "unit": "not a driver (no signal)"},
            {"feature": "segment=none", "effect": NO_SIGNAL.nps_mean,
             "unit": "mean NPS of everyone"},
        ])  # fmt: skip
        return surveys, drivers
    drivers = pd.DataFrame(
        [{"feature": "n_complaints", "effect": NPS_COMPLAINT_EFFECT,
          "unit": "NPS points per complaint ticket before the response"}]
        + [{"feature": f"segment={s.name}", "effect": s.nps_base,
            "unit": "mean NPS without complaints"} for s in SEGMENTS]
    )
    return surveys, drivers


def plant_complaint_spend(orders: pd.DataFrame, tickets: pd.DataFrame, *, signal: bool = True
                          ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``orders`` with the planted cost of complaints in later spend, and
    ``truth["service_spend"]`` (log spend ratio per service event in the window).

    Each complaint a customer made in the ``SPEND_WINDOW_DAYS`` up to the start of a calendar
    month scales the prices of their order lines in that month by
    ``SPEND_RATIO_PER_COMPLAINT`` (compounding). Repeat contacts and slow resolutions have no
    effect of their own; without ``signal`` nothing is planted. No random numbers are drawn.
    """
    effect = float(np.log(SPEND_RATIO_PER_COMPLAINT)) if signal else 0.0
    unit = (f"log ratio of a month's spend per complaint in the {SPEND_WINDOW_DAYS} days "
            "before the month starts")
    truth = pd.DataFrame({
        "feature": ["complaints", "repeat_contacts", "slow_resolutions"],
        "effect": [effect, 0.0, 0.0],
        "window_days": SPEND_WINDOW_DAYS,
        "unit": [unit, "not a driver of spend", "not a driver of spend"],
    })  # fmt: skip
    if not signal:
        return orders, truth
    comp = tickets[tickets["is_complaint"].to_numpy(dtype=bool)]
    codes = {c: i for i, c in enumerate(pd.unique(orders["customer_id"].dropna()))}
    origin = pd.Timestamp("1970-01-01")
    c_code = comp["customer_id"].map(codes)
    known = c_code.notna().to_numpy()
    keys = np.sort(c_code.to_numpy(dtype=float)[known] * 1e6
                   + ((comp["opened_ts"] - origin).dt.total_seconds().to_numpy()[known]
                      / 86_400.0))
    o_code = orders["customer_id"].map(codes)
    month_start = pd.to_datetime(orders["order_ts"]).dt.to_period("M").dt.start_time
    day = (month_start - origin).dt.total_seconds().to_numpy() / 86_400.0
    base = o_code.fillna(-1).to_numpy(dtype=float) * 1e6
    n = (np.searchsorted(keys, base + day, side="right")
         - np.searchsorted(keys, base + day - SPEND_WINDOW_DAYS, side="right"))
    n[o_code.isna().to_numpy()] = 0
    factor = SPEND_RATIO_PER_COMPLAINT ** n
    out = orders.copy()
    for col in ("unit_price", "discount"):
        out[col] = np.round(out[col].to_numpy(dtype=float) * factor, 2)
    # from the rounded price, so a line of several units still adds up to the cent
    out["amount"] = np.round(out["quantity"] * out["unit_price"] - out["discount"], 2)
    return out, truth


def plant_agent_groups(rng: np.random.Generator, tickets: pd.DataFrame, end: pd.Timestamp, *,
                       signal: bool = True) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``tickets`` with the ``agent_group`` that handled each, and ``truth["service_agent_
    groups"]``: with ``signal`` the ``SLOW_GROUP`` takes ``SLOW_HOURS_RATIO`` times as long
    to close a ticket and half its CSAT answers are a point lower; without it every group is
    the same. Its own random stream, so nothing else in the demo changes but those tickets'
    closing times and scores."""
    out = tickets.copy()
    group = np.array(AGENT_GROUPS)[rng.choice(len(AGENT_GROUPS), size=len(out),
                                              p=AGENT_GROUP_MIX)]
    drop = rng.random(len(out)) < SLOW_CSAT_DROP_SHARE
    out["agent_group"] = group
    slow = (group == SLOW_GROUP) & signal
    if slow.any():
        opened = pd.to_datetime(out["opened_ts"])
        closed = opened + (pd.to_datetime(out["closed_ts"]) - opened) * SLOW_HOURS_RATIO
        was_closed = out["closed_ts"].notna().to_numpy()
        out.loc[slow & was_closed, "closed_ts"] = closed[slow & was_closed]
        still_open = slow & was_closed & (out["closed_ts"] >= end).to_numpy()
        out.loc[still_open, ["closed_ts", "csat"]] = [pd.NaT, np.nan]
        lower = slow & drop & (out["csat"] > 1).to_numpy()
        out.loc[lower, "csat"] = out.loc[lower, "csat"] - 1.0
    truth = pd.DataFrame({
        "agent_group": list(AGENT_GROUPS), "share": AGENT_GROUP_MIX,
        "hours_ratio": [SLOW_HOURS_RATIO if g == SLOW_GROUP and signal else 1.0
                        for g in AGENT_GROUPS],
        "csat_drop_share": [SLOW_CSAT_DROP_SHARE if g == SLOW_GROUP and signal else 0.0
                            for g in AGENT_GROUPS],
        "planted_poor": [g == SLOW_GROUP and signal for g in AGENT_GROUPS],
    })  # fmt: skip
    return out, truth
