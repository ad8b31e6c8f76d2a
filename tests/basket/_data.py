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
