"""Order lines from a buy-till-you-die process (BG/NBD counts, Gamma-Gamma spend).

Each customer's first purchase is at signup (time 0 of the BG/NBD model). Repeat purchases
follow a Poisson process with rate ``lam`` per day; after every repeat purchase the customer
drops out with probability ``p`` (Fader, Hardie & Lee 2005). This is simulated without a loop:
the number of repeat purchases is ``min(N, K)`` with ``N ~ Poisson(lam * T)`` arrivals in the
customer's window and ``K ~ Geometric(p)`` the purchase after which they die; the purchase
times are the first ``min(N, K)`` of ``N`` sorted uniform points, warped by the calendar's
intensity (seasonality moves purchases in time, it does not change how many there are).

Every purchase's net value (sum of its lines' ``amount``) is an exact Gamma-Gamma draw:
``z ~ Gamma(gg_p, rate=nu)`` (Fader, Hardie & Lee 2005b, "RFM and CLV: using iso-value curves
for customer base analysis"). The lines are chosen to fit that value from the customer's
category mix, then their list prices are scaled by one per-order factor (dynamic pricing) so
that the lines add up to ``z`` to the cent. With the planted price calendar
(``crmine.demo._pricing``, the demo company) each line's shelf price and units then follow
its category's price that week: the order's value is ``z`` times a spend factor of mean one,
so ``z``'s Gamma-Gamma mean still holds in expectation (the spread within a customer grows
a little).

Returns, cancelled orders and anonymous (walk-in) lines are added on top of the process, so
the BG/NBD and Gamma-Gamma truth holds for the completed purchases with a customer.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from crmine.demo._customers import CustomerLatent
from crmine.demo._pricing import PriceCalendar
from crmine.demo._spec import (
    CATEGORIES,
    CHANNELS_ORDER,
    DAYS,
    NO_SIGNAL,
    SEGMENTS,
    START,
    day_intensity,
)
from crmine.demo._util import choice_rows, days_to_ts, group_rank, shop_hours

__all__ = ["OrderResult", "expected_order_value", "make_orders", "purchase_times"]

SALES_METHOD = {"web": "online", "app": "online", "store": "in_person", "phone": "telesales"}
MAX_QUANTITY = {"electronics": 3, "fashion": 4, "beauty": 6, "home": 4, "grocery": 12,
                "sports": 4, "books": 5}  # fmt: skip
DISCOUNT_PCTS = np.array([0.10, 0.15, 0.20, 0.25, 0.30, 0.40])
QUANTITIES = np.array([1, 2, 3])
QUANTITY_P = np.array([0.78, 0.15, 0.07])
RETURN_SHARE = 0.02
CANCEL_SHARE = 0.01
ANONYMOUS_SHARE = 0.01


@dataclass(frozen=True, slots=True)
class OrderResult:
    """What :func:`make_orders` hands back (internal to the package)."""

    orders: pd.DataFrame
    customer_truth: pd.DataFrame
    returns: pd.DataFrame


def _warp(t_from: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Map uniform ``u`` in [0, 1) to times in [t_from, DAYS) with the calendar intensity."""
    weight = day_intensity()
    grid_t = np.arange(len(weight) + 1, dtype=float)
    grid_s = np.r_[0.0, np.cumsum(weight)]
    s0 = np.interp(t_from, grid_t, grid_s)
    s = s0 + u * (grid_s[-1] - s0)
    return np.interp(s, grid_s, grid_t)


def purchase_times(rng: np.random.Generator, t0: np.ndarray, lam: np.ndarray, p: np.ndarray
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Simulate BG/NBD purchases for customers whose first purchase is at ``t0`` (days).

    Returns the customer index and time of every purchase (first ones included), the number
    of repeat purchases per customer and whether each is still alive at the end.
    """
    n = len(t0)
    window = DAYS - t0
    arrivals = rng.poisson(lam * window)
    death_after = rng.geometric(np.clip(p, 1e-9, 1.0))
    repeats = np.minimum(arrivals, death_after)
    alive = death_after > arrivals

    cust = np.repeat(np.arange(n), arrivals)
    u = rng.random(len(cust))
    order = np.lexsort((u, cust))
    cust, u = cust[order], u[order]
    keep = group_rank(cust) < repeats[cust]
    cust, u = cust[keep], u[keep]
    t_rep = _warp(t0[cust], u)
    # Keep the day the warp chose, give it a realistic time of day; never before the first
    # purchase nor past the end.
    t_rep = np.floor(t_rep) + shop_hours(rng, len(t_rep))
    t_rep = np.clip(t_rep, t0[cust] + 1e-4, DAYS - 1e-4)

    all_cust = np.r_[np.arange(n), cust]
    all_t = np.r_[t0, t_rep]
    return all_cust, all_t, repeats, alive


def make_orders(rng: np.random.Generator, customers: pd.DataFrame, lat: CustomerLatent,
                products: pd.DataFrame, affinities: pd.DataFrame,
                popularity: np.ndarray | None = None, *,
                pricing: PriceCalendar | None = None) -> OrderResult:
    """Draw every order line of the company (see the module docstring).

    With ``popularity`` (one probability per product) the lines are the no-signal company's:
    independent draws from it at list price, whoever buys (``affinities`` is then unused).
    With ``pricing`` the planted lines' shelf prices and units follow its calendar
    (``crmine.demo._pricing``): order values are then Gamma-Gamma in expectation.
    """
    cust, t, repeats, alive = purchase_times(rng, lat.t0, lat.lam, lat.p)
    n_orders = len(cust)
    if popularity is None:
        channel, lines = _planted_lines(rng, lat, products, affinities, cust, t, pricing)
        seg_p = np.array([s.gg_p for s in SEGMENTS])
        segment = np.array([s.name for s in SEGMENTS])[lat.segment]
        mean_order_value = seg_p[lat.segment] / lat.nu
    else:
        channel, lines = _independent_lines(rng, lat, products, popularity, cust)
        segment = np.full(len(lat.t0), "none", dtype=object)
        mean_order_value = np.full(len(lat.t0), expected_order_value(products, popularity))
    lines = lines.iloc[np.lexsort((lines["addon"].to_numpy(), lines["order"].to_numpy()))]
    lines = lines.reset_index(drop=True)
    orders = pd.DataFrame({
        "cust": cust, "t": t, "channel": np.array(CHANNELS_ORDER)[channel],
        "status": "completed",
    })  # fmt: skip

    # Cancelled orders: copies of real baskets placed a little later, then cancelled.
    n_cancel = round(CANCEL_SHARE * n_orders)
    src = rng.choice(n_orders, size=n_cancel, replace=False)
    cancel_t = t[src] + rng.uniform(0.05, 5.0, n_cancel)
    ok = cancel_t < DAYS
    src, cancel_t = src[ok], cancel_t[ok]
    cancelled = orders.iloc[src].assign(t=cancel_t, status="cancelled").reset_index(drop=True)
    cancelled_lines = _copy_lines(lines, src, n_orders)

    # Anonymous walk-in orders: real baskets bought again by someone without a customer id.
    n_anon = round(ANONYMOUS_SHARE * n_orders)
    src_a = rng.choice(n_orders, size=n_anon, replace=False)
    anon_t = np.floor(rng.random(n_anon) * DAYS) + shop_hours(rng, n_anon)
    anonymous = pd.DataFrame({
        "cust": -1, "t": np.minimum(anon_t, DAYS - 1e-4),
        "channel": np.where(rng.random(n_anon) < 0.8, "store", "web"), "status": "completed",
    })  # fmt: skip
    anon_lines = _copy_lines(lines, src_a, n_orders + len(cancelled))

    # Returns: ~2% of purchased lines sent back 1-30 days later, refunded at the net price.
    n_ret = round(RETURN_SHARE * len(lines))
    eligible = np.flatnonzero(t[lines["order"].to_numpy()] < DAYS - 31)
    ret_src = np.sort(rng.choice(eligible, size=min(n_ret, len(eligible)), replace=False))
    ret_lines = lines.iloc[ret_src].reset_index(drop=True)
    ret_order_src = ret_lines["order"].to_numpy()
    ret_base = n_orders + len(cancelled) + n_anon
    returned = pd.DataFrame({
        "cust": cust[ret_order_src],
        "t": t[ret_order_src] + rng.uniform(1.0, 30.0, len(ret_lines)),
        "channel": orders["channel"].to_numpy()[ret_order_src], "status": "returned",
    })  # fmt: skip
    net_unit = ret_lines["amount"] / ret_lines["quantity"]
    ret_lines = ret_lines.assign(
        order=ret_base + np.arange(len(ret_lines)),
        quantity=-ret_lines["quantity"],
        unit_price=np.round(net_unit, 2),
        discount=0.0,
        discounted=False,
    )
    ret_lines["amount"] = np.round(ret_lines["quantity"] * ret_lines["unit_price"], 2)

    all_orders = pd.concat([orders, cancelled, anonymous, returned], ignore_index=True)
    all_lines = pd.concat([lines, cancelled_lines, anon_lines, ret_lines], ignore_index=True)
    is_return = (all_orders["status"] == "returned").to_numpy()

    # Order ids in time order; returns get their own "R" numbering like a credit note.
    by_time = np.argsort(all_orders["t"].to_numpy(), kind="stable")
    order_id = np.empty(len(all_orders), dtype=object)
    sale_rank = np.cumsum(~is_return[by_time])
    ret_rank = np.cumsum(is_return[by_time])
    order_id[by_time] = np.where(
        is_return[by_time],
        [f"R{k:08d}" for k in ret_rank],
        [f"O{k:08d}" for k in sale_rank],
    )

    ol = all_lines["order"].to_numpy()
    o_cust = all_orders["cust"].to_numpy()[ol]
    cust_ids = customers["customer_id"].to_numpy()
    country = customers["country"].to_numpy()
    o_t = all_orders["t"].to_numpy()[ol]
    ts = days_to_ts(o_t, START)
    promo = all_lines["promotion"].to_numpy(dtype=object)
    prod_idx = all_lines["product"].to_numpy()
    chan = all_orders["channel"].to_numpy()[ol]
    out = pd.DataFrame({
        "order_id": order_id[ol],
        "line_number": group_rank(ol) + 1,
        "customer_id": np.where(o_cust >= 0, cust_ids[np.maximum(o_cust, 0)], None),
        "order_ts": ts,
        "product_id": products["product_id"].to_numpy()[prod_idx],
        "product_name": products["product_name"].to_numpy()[prod_idx],
        "quantity": all_lines["quantity"].to_numpy(dtype=float),
        "unit_price": all_lines["unit_price"].to_numpy(dtype=float),
        "discount": all_lines["discount"].to_numpy(dtype=float),
        "unit_cost": products["unit_cost"].to_numpy(dtype=float)[prod_idx],
        "amount": all_lines["amount"].to_numpy(dtype=float),
        "channel": chan,
        "sales_method": pd.Series(chan).map(SALES_METHOD).to_numpy(),
        "promotion_id": promo,
        "status": all_orders["status"].to_numpy()[ol],
        "country": np.where(o_cust >= 0, country[np.maximum(o_cust, 0)], "China"),
    })  # fmt: skip
    # Time order (ids were numbered in time order), then line number; integer keys are fast.
    time_rank = np.empty(len(all_orders), dtype=np.int64)
    time_rank[by_time] = np.arange(len(all_orders))
    out = out.iloc[np.lexsort((out["line_number"].to_numpy(), time_rank[ol]))]
    out = out.reset_index(drop=True)

    # Distinct purchase days: what a daily RFM summary counts (same-day orders merge).
    day_key = np.unique(cust * 10_000 + np.floor(t).astype(np.int64))
    purchase_days = np.bincount(day_key // 10_000, minlength=len(lat.t0))
    last_t = np.full(len(lat.t0), -1.0)
    np.maximum.at(last_t, cust, t)
    customer_truth = pd.DataFrame({
        "customer_id": cust_ids,
        "segment": segment,
        "lambda_per_day": lat.lam,
        "p_dropout": lat.p,
        "repeat_purchases": repeats,
        "repeat_purchase_days": purchase_days - 1,
        "alive": alive,
        "first_purchase_ts": days_to_ts(lat.t0, START),
        "last_purchase_ts": days_to_ts(last_t, START),
        "gg_nu": lat.nu,
        "mean_order_value": mean_order_value,
        "discount_propensity": lat.discount_prop,
    })  # fmt: skip
    for ci, cat_name in enumerate(CATEGORIES):
        customer_truth[f"pref_{cat_name}"] = lat.category_pref[:, ci]
    for ci, ch in enumerate(CHANNELS_ORDER):
        customer_truth[f"pref_{ch}"] = lat.channel_pref[:, ci]

    src_line_order = ret_lines["order"].to_numpy() * 0 + ret_order_src
    returns_truth = pd.DataFrame({
        "return_order_id": order_id[ret_lines["order"].to_numpy()],
        "original_order_id": order_id[src_line_order],
        "product_id": products["product_id"].to_numpy()[ret_lines["product"].to_numpy()],
    })
    return OrderResult(out, customer_truth, returns_truth)


def _planted_lines(rng: np.random.Generator, lat: CustomerLatent, products: pd.DataFrame,
                   affinities: pd.DataFrame, cust: np.ndarray, t: np.ndarray,
                   pricing: PriceCalendar | None) -> tuple[np.ndarray, pd.DataFrame]:
    """Order channels and lines with the planted value, category mix and co-purchases (and,
    with ``pricing``, the planted shelf prices and units)."""
    seg_p = np.array([s.gg_p for s in SEGMENTS])
    seg_lines = np.array([s.lines_per_order for s in SEGMENTS])
    n_orders = len(cust)
    seg = lat.segment[cust]
    value = rng.gamma(seg_p[seg], 1.0 / lat.nu[cust])
    channel = choice_rows(rng, lat.channel_pref[cust])

    # Primary lines: the order value split over them, each matched to a product of the
    # customer's preferred categories near its share of the value.
    n_lines = 1 + rng.poisson(seg_lines[seg] - 1.0)
    line_order = np.repeat(np.arange(n_orders), n_lines)
    share = rng.gamma(1.0, 1.0, len(line_order))
    share /= np.bincount(line_order, share)[line_order]
    target = value[line_order] * share
    category = choice_rows(rng, lat.category_pref[cust[line_order]])
    q0 = rng.choice(QUANTITIES, size=len(line_order), p=QUANTITY_P)
    log_unit_target = np.log(target / q0) + rng.normal(0.0, 0.15, len(line_order))

    prod_cat = products["category"].map({c: i for i, c in enumerate(CATEGORIES)}).to_numpy()
    list_price = products["unit_price"].to_numpy(dtype=float)
    product = np.empty(len(line_order), dtype=np.int64)
    max_q = np.empty(len(line_order), dtype=float)
    for ci, cat_name in enumerate(CATEGORIES):
        members = np.flatnonzero(prod_cat == ci)
        members = members[np.argsort(list_price[members])]
        logp = np.log(list_price[members])
        rows = np.flatnonzero(category == ci)
        pos = np.clip(np.searchsorted(logp, log_unit_target[rows]), 1, len(members) - 1)
        left_closer = (log_unit_target[rows] - logp[pos - 1]) < (logp[pos] - log_unit_target[rows])
        product[rows] = members[np.where(left_closer, pos - 1, pos)]
        max_q[rows] = MAX_QUANTITY[cat_name]
    quantity = np.clip(np.round(target / list_price[product]), 1, max_q)

    # Planted co-purchases: an antecedent in the basket pulls in its accessory.
    pid_index = {p: i for i, p in enumerate(products["product_id"])}
    ante = affinities["antecedent"].map(pid_index).to_numpy()
    cons = affinities["consequent"].map(pid_index).to_numpy()
    prob = affinities["probability"].to_numpy(dtype=float)
    pairs = pd.DataFrame({"line": np.arange(len(product)), "ante": product}).merge(
        pd.DataFrame({"ante": ante, "cons": cons, "prob": prob}), on="ante"
    )
    added = pairs[rng.random(len(pairs)) < pairs["prob"].to_numpy()]
    add_order = line_order[added["line"].to_numpy()]
    line_order = np.r_[line_order, add_order]
    product = np.r_[product, added["cons"].to_numpy()]
    quantity = np.r_[quantity, np.ones(len(added))]
    is_addon = np.r_[np.zeros(len(target), bool), np.ones(len(added), bool)]

    # Discounts, then one price factor per order so the net lines add up to the drawn value.
    discounted = rng.random(len(line_order)) < lat.discount_prop[cust[line_order]]
    pct = np.where(discounted, rng.choice(DISCOUNT_PCTS, size=len(line_order)), 0.0)
    raw = quantity * list_price[product] * (1.0 - pct)
    factor = value / np.bincount(line_order, raw, minlength=n_orders)
    shelf = np.ones(len(line_order))
    promotion = np.full(len(line_order), None, dtype=object)
    if pricing is not None:
        quantity, product, shelf, promotion = _priced(
            pricing, lat, cust, t, line_order, int((~is_addon).sum()), product, quantity,
            prod_cat, list_price)
    unit_price = np.round(list_price[product] * shelf * factor[line_order], 2)
    discount = np.round(pct * quantity * unit_price, 2)
    amount = np.round(quantity * unit_price - discount, 2)

    lines = pd.DataFrame({
        "order": line_order, "addon": is_addon, "product": product, "quantity": quantity,
        "unit_price": unit_price, "discount": discount, "amount": amount,
        "discounted": discounted, "promotion": promotion,
    })  # fmt: skip
    return channel, lines[quantity > 0].reset_index(drop=True)


def _priced(pricing: PriceCalendar, lat: CustomerLatent, cust: np.ndarray, t: np.ndarray,
            line_order: np.ndarray, n_primary: int, product: np.ndarray, quantity: np.ndarray,
            prod_cat: np.ndarray, list_price: np.ndarray
            ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Units and shelf prices of the planned lines in their order's week.

    The planned units times the week's units factor, rounded at random to a whole number
    (unbiased, so small price moves move the expected units); a line may fall to zero (not
    bought this time). An order left without units still happened: its first line becomes
    one unit of a category the customer likes, chosen in proportion to that week's units
    factors so this replacement responds to prices too. Returns quantity (zeros to drop),
    product, shelf price factor and promotion id per line.
    """
    rng = pricing.rng
    week = pricing.week_of(t[line_order])
    cat = prod_cat[product]
    x = quantity * pricing.line_factors(cat, product, week)[0]
    q = np.floor(x) + (rng.random(len(x)) < x - np.floor(x))
    n_orders = len(cust)
    empty = np.flatnonzero(np.bincount(line_order, q, minlength=n_orders) == 0)
    if len(empty):
        # the primary lines come first, order by order
        first = np.searchsorted(line_order[:n_primary], empty)
        w = pricing.week_of(t[empty])
        new_cat = choice_rows(rng, lat.category_pref[cust[empty]] * pricing.units[:, w].T)
        product = product.copy()
        for ci in np.unique(new_cat):
            members = np.flatnonzero(prod_cat == ci)
            members = members[np.argsort(list_price[members])]
            rows = first[new_cat == ci]
            # the product of the new category nearest in price to the one planned
            pos = np.clip(np.searchsorted(list_price[members], list_price[product[rows]]),
                          0, len(members) - 1)
            product[rows] = members[pos]
        q[first] = 1.0
        cat = prod_cat[product]
    _, shelf, promotion = pricing.line_factors(cat, product, week)
    return q, product, shelf, promotion


def expected_order_value(products: pd.DataFrame, popularity: np.ndarray) -> float:
    """Mean net value of a no-signal order: lines x quantity x popular price x discounts."""
    price = float(np.dot(popularity, products["unit_price"].to_numpy(dtype=float)))
    mean_quantity = float(np.dot(QUANTITY_P, QUANTITIES))
    discount = NO_SIGNAL.discount_rate * float(DISCOUNT_PCTS.mean())
    return NO_SIGNAL.lines_per_order * mean_quantity * price * (1.0 - discount)


def _independent_lines(rng: np.random.Generator, lat: CustomerLatent, products: pd.DataFrame,
                       popularity: np.ndarray, cust: np.ndarray
                       ) -> tuple[np.ndarray, pd.DataFrame]:
    """No-signal lines: 1 + Poisson products per order, each drawn from ``popularity``."""
    n_orders = len(cust)
    channel = choice_rows(rng, lat.channel_pref[cust])
    n_lines = 1 + rng.poisson(NO_SIGNAL.lines_per_order - 1.0, n_orders)
    line_order = np.repeat(np.arange(n_orders), n_lines)
    m = len(line_order)
    product = rng.choice(len(products), size=m, p=popularity)
    quantity = rng.choice(QUANTITIES, size=m, p=QUANTITY_P).astype(float)
    discounted = rng.random(m) < lat.discount_prop[cust[line_order]]
    pct = np.where(discounted, rng.choice(DISCOUNT_PCTS, size=m), 0.0)
    unit_price = products["unit_price"].to_numpy(dtype=float)[product]
    discount = np.round(pct * quantity * unit_price, 2)
    lines = pd.DataFrame({
        "order": line_order, "addon": False, "product": product, "quantity": quantity,
        "unit_price": unit_price, "discount": discount,
        "amount": np.round(quantity * unit_price - discount, 2), "discounted": discounted,
        "promotion": None,
    })  # fmt: skip
    return channel, lines


def _copy_lines(lines: pd.DataFrame, src_orders: np.ndarray, first_new: int) -> pd.DataFrame:
    """The lines of ``src_orders``, renumbered as new orders ``first_new, first_new + 1, …``."""
    new_id = pd.Series(first_new + np.arange(len(src_orders)), index=src_orders)
    picked = lines[lines["order"].isin(src_orders)]
    return picked.assign(order=new_id.loc[picked["order"].to_numpy()].to_numpy())
