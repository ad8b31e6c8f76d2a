"""Readers of the public datasets used by the basket tests (no warehouse needed)."""

from __future__ import annotations

from functools import cache

import pandas as pd

from tests.conftest import shared_file

# Online Retail stock codes that are not products: postage, manual adjustments, discounts,
# fees, samples, gift vouchers. Real products have a 5-digit code (optionally a letter suffix).
NON_PRODUCT_CODES = ("POST", "DOT", "M", "D", "C2", "CRUK", "BANK CHARGES", "AMAZONFEE", "S",
                     "PADS", "B", "m")


def groceries() -> list[list[str]]:
    path = shared_file("groceries/groceries.csv")
    with path.open(encoding="utf-8") as fh:
        return [line.rstrip("\n").split(",") for line in fh]


@cache
def _retail_lines_cached(path: str) -> pd.DataFrame:
    df = pd.read_csv(path, dtype={"InvoiceNo": str, "StockCode": str, "CustomerID": str},
                     parse_dates=["InvoiceDate"])
    invoice = df["InvoiceNo"]
    code = df["StockCode"]
    product = code.str.match(r"^\d{5}") & ~code.isin(NON_PRODUCT_CODES)
    keep = ~invoice.str.startswith(("C", "A")) & product & (df["Quantity"] > 0)
    out = df.loc[keep, ["InvoiceNo", "StockCode", "InvoiceDate", "CustomerID", "Description"]]
    return out.rename(columns={"InvoiceNo": "order_id", "StockCode": "product_id",
                               "InvoiceDate": "order_ts", "CustomerID": "customer_id",
                               "Description": "product_name"}).reset_index(drop=True)


def retail_lines() -> pd.DataFrame:
    """Online Retail product lines: cancellations (C…), adjustments (A…) and non-product
    codes (postage, fees, manual lines) removed."""
    return _retail_lines_cached(str(shared_file("online_retail/online_retail.csv.gz")))


def no_signal_orders(n_customers: int = 1500, n_products: int = 60, seed: int = 0) -> pd.DataFrame:
    """Orders of a shop where nothing predicts what is bought with what: every order draws
    its products independently from one fixed popularity (Zipf-like), whoever the customer
    and whatever they bought before."""
    import numpy as np

    rng = np.random.default_rng(seed)
    popularity = 1.0 / np.arange(1, n_products + 1) ** 0.8
    popularity /= popularity.sum()
    products = np.array([f"P{i:03d}" for i in range(n_products)])
    start = pd.Timestamp("2023-01-01")
    rows = []
    order = 0
    for c in range(n_customers):
        for _ in range(int(rng.integers(2, 7))):
            order += 1
            day = start + pd.Timedelta(days=int(rng.integers(0, 730)))
            size = min(1 + int(rng.poisson(1.5)), n_products)
            for p in rng.choice(products, size=size, replace=False, p=popularity):
                rows.append((f"O{order}", f"C{c:05d}", day, p, 1, 10.0))
    return pd.DataFrame(rows, columns=["order_id", "customer_id", "order_ts", "product_id",
                                       "quantity", "unit_price"])
