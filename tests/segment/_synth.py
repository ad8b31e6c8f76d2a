"""A small synthetic company with planted segments, written straight into core tables.

Independent of ``crmine.demo`` so the segmentation tests do not depend on another package's
generator; the planted truth (segment per customer) is returned alongside.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

CATEGORIES = ("electronics", "fashion", "grocery", "books")
CHANNELS = ("web", "app", "store")
# name: (orders Poisson mean, unit price lognormal mean, discount prob, category mix, channel mix)
PLANTED = {
    "premium": (4.0, np.log(400), 0.05, (0.6, 0.3, 0.05, 0.05), (0.3, 0.1, 0.6)),
    "bargain": (6.0, np.log(25), 0.75, (0.05, 0.3, 0.6, 0.05), (0.2, 0.75, 0.05)),
    "reader": (2.0, np.log(60), 0.1, (0.05, 0.05, 0.1, 0.8), (0.8, 0.1, 0.1)),
}
END = pd.Timestamp("2025-01-01")


def make_company(n_customers: int = 600, seed: int = 0) -> dict[str, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    names = list(PLANTED)
    seg = rng.choice(names, size=n_customers, p=[0.3, 0.4, 0.3])
    ids = [f"C{i:05d}" for i in range(n_customers)]
    genders = rng.choice(["F", "M"], size=n_customers)
    cities = rng.choice(["Shanghai", "Beijing", "Shenzhen", "Chengdu"], size=n_customers)
    region = pd.Series(cities).map({"Shanghai": "East", "Beijing": "North",
                                    "Shenzhen": "South", "Chengdu": "West"}).to_numpy()
    customers = pd.DataFrame({
        "customer_id": ids, "gender": genders, "city": cities, "region": region,
        "country": "CN", "age": rng.integers(18, 80, n_customers),
        "income": np.round(rng.lognormal(np.log(150_000), 0.6, n_customers), -2),
        "occupation": rng.choice(["engineer", "teacher", "sales", None], n_customers),
        "signup_date": (END - pd.to_timedelta(rng.integers(200, 1000, n_customers), "D")).date,
        "valid_from": pd.Timestamp("2020-01-01"), "valid_to": pd.NaT, "is_current": True,
    })
    products = pd.DataFrame({
        "product_id": [f"P{c[:2]}{j}" for c in CATEGORIES for j in range(5)],
        "category": [c for c in CATEGORIES for _ in range(5)],
    })
    rows = []
    for cid, s in zip(ids, seg, strict=True):
        lam, mu, pdisc, cmix, chmix = PLANTED[s]
        for o in range(1 + rng.poisson(lam)):
            ts = END - pd.Timedelta(days=int(rng.integers(1, 700)), hours=int(rng.integers(0, 24)))
            ch = rng.choice(CHANNELS, p=chmix)
            for ln in range(1 + rng.poisson(0.5)):
                cat = rng.choice(CATEGORIES, p=cmix)
                price = float(np.round(rng.lognormal(mu, 0.3), 2))
                qty = float(rng.integers(1, 3))
                disc = float(np.round(0.2 * price * qty, 2)) if rng.random() < pdisc else 0.0
                ret = rng.random() < 0.05
                rows.append({
                    "order_id": f"{cid}-{o}", "line_number": ln + 1, "customer_id": cid,
                    "order_ts": ts, "product_id": f"P{cat[:2]}{int(rng.integers(0, 5))}",
                    "quantity": -qty if ret else qty, "unit_price": price, "discount": disc,
                    "amount": (-1 if ret else 1) * (price * qty - disc), "channel": ch,
                    "status": "returned" if ret else "completed", "is_return": ret,
                })
    lines = pd.DataFrame(rows)
    tickets = pd.DataFrame({
        "ticket_id": [f"T{i}" for i in range(n_customers // 2)],
        "customer_id": rng.choice(ids, n_customers // 2),
        "opened_ts": END - pd.to_timedelta(rng.integers(1, 500, n_customers // 2), "D"),
        "is_complaint": rng.random(n_customers // 2) < 0.3,
    })
    truth = pd.DataFrame({"customer_id": ids, "segment": seg})
    return {"core.dim_customer": customers, "core.dim_product": products,
            "core.fct_order_lines": lines, "core.fct_tickets": tickets, "truth": truth}


def load_company(ws, n_customers: int = 600, seed: int = 0) -> pd.DataFrame:
    """Write the company's core tables into ``ws``; returns the truth (customer_id, segment)."""
    data = make_company(n_customers, seed)
    for name, frame in data.items():
        if name != "truth":
            ws.write_table(name, frame)
    return data["truth"]


def simple_rfm(ws, end: pd.Timestamp = END) -> pd.DataFrame:
    """A stand-in for marts.customer_rfm (lifetimes-style columns, days)."""
    lines = ws.read("core.fct_order_lines")
    lines = lines[~lines["is_return"]]
    orders = lines.groupby(["customer_id", "order_id"]).agg(ts=("order_ts", "min"),
                                                             amount=("amount", "sum")).reset_index()
    g = orders.groupby("customer_id")
    first, last = g["ts"].min(), g["ts"].max()
    n = g.size()
    rfm = pd.DataFrame({
        "frequency": (n - 1).astype(float),
        "recency": (last - first).dt.days.astype(float),
        "T": (end - first).dt.days.astype(float),
        "monetary_value": g["amount"].mean(),
        "orders": n.astype(float), "total_spend": g["amount"].sum(),
    }).reset_index()
    ws.write_table("marts.customer_rfm", rfm)
    return rfm

