"""Sequential patterns: customers who buy A and then, within N days, buy B."""

from __future__ import annotations

import numpy as np
import pandas as pd

from crmine.exceptions import DataError, MissingColumnError

__all__ = ["sequential_patterns"]

# pairs are expanded this many source events at a time, which bounds memory for customers
# with thousands of purchases
_CHUNK = 50_000


def sequential_patterns(
    lines: pd.DataFrame,
    *,
    max_gap_days: float = 30,
    min_support: float = 0.01,
    min_confidence: float = 0.0,
    customer: str = "customer_id",
    item: str = "product_id",
    time: str = "order_ts",
) -> pd.DataFrame:
    """Ordered pairs "A, then B within ``max_gap_days``" and how often customers follow them.

    A customer supports ``A ⇒ B`` when they bought ``B`` strictly after some purchase of
    ``A`` and at most ``max_gap_days`` later (items bought in the same order do not count:
    that is a basket rule, not a sequence). Counts are of distinct customers, as in
    Agrawal & Srikant's sequential patterns restricted to two elements with a max-gap
    constraint (Srikant & Agrawal 1996).

    Parameters
    ----------
    lines
        Purchases, one row per line, with ``customer``, ``item`` and ``time`` columns.
    max_gap_days
        Longest wait between A and B.
    min_support
        Minimum share of customers following the pattern.
    min_confidence
        Minimum share of A's buyers who then bought B in time.

    Returns
    -------
    pandas.DataFrame
        ``antecedent``, ``consequent``, ``customers`` (following A ⇒ B), ``support``
        (share of all customers), ``confidence`` (share of A's buyers), ``lift``
        (confidence / share of customers buying B) and ``median_gap_days`` (first A to
        the next B), sorted by lift then support.

    References
    ----------
    Agrawal, R. & Srikant, R. (1995). Mining sequential patterns. ICDE '95, 3–14.
    Srikant, R. & Agrawal, R. (1996). Mining sequential patterns: generalizations and
    performance improvements. EDBT '96, 1–17.
    """
    missing = [c for c in (customer, item, time) if c not in lines.columns]
    if missing:
        raise MissingColumnError(
            f"sequential_patterns needs column(s) {missing}; columns found: {list(lines.columns)}"
        )
    if max_gap_days <= 0:
        raise DataError(f"max_gap_days must be positive, got {max_gap_days!r}")
    if not 0 < min_support <= 1:
        raise DataError(f"min_support must be in (0, 1], got {min_support!r}")
    frame = lines[[customer, item, time]].dropna()
    ts = pd.to_datetime(frame[time], errors="coerce")
    if ts.isna().any():
        bad = frame.loc[ts.isna(), time].iloc[0]
        raise DataError(f"column {time!r} has a value that is not a date/time: {bad!r}")
    cust_code, cust_labels = pd.factorize(frame[customer])
    n_customers = len(cust_labels)
    if n_customers == 0:
        raise DataError("no purchases to mine")
    min_count = max(1, int(np.ceil(min_support * n_customers - 1e-9)))

    # only items bought by enough customers can take part in a frequent pattern
    item_code, item_labels = pd.factorize(frame[item])
    buyers = np.bincount(
        np.unique(cust_code.astype(np.int64) * len(item_labels) + item_code) % len(item_labels),
        minlength=len(item_labels),
    )
    frequent = buyers >= min_count
    keep = frequent[item_code]
    days = (ts.to_numpy()[keep] - np.datetime64("1970-01-01")) / np.timedelta64(1, "D")
    ev = pd.DataFrame({"c": cust_code[keep], "i": item_code[keep], "t": days})
    ev = ev.drop_duplicates().sort_values(["c", "t"], kind="stable")
    c = ev["c"].to_numpy(np.int64)
    i = ev["i"].to_numpy(np.int64)
    t = ev["t"].to_numpy(np.float64)
    # one sortable key per event: customer first, time second
    span = float(t.max() - t.min() + max_gap_days + 1.0) if len(t) else 1.0
    key = c * span + (t - (t.min() if len(t) else 0.0))
    lo = np.searchsorted(key, key, side="right")          # strictly later, same customer
    hi = np.searchsorted(key, key + max_gap_days, side="right")
    n_items = len(item_labels)
    codes: list[np.ndarray] = []
    gaps: list[np.ndarray] = []
    for start in range(0, len(key), _CHUNK):
        stop = min(start + _CHUNK, len(key))
        width = hi[start:stop] - lo[start:stop]
        src = np.repeat(np.arange(start, stop), width)
        offset = np.arange(width.sum()) - np.repeat(np.cumsum(width) - width, width)
        dst = np.repeat(lo[start:stop], width) + offset
        ok = i[src] != i[dst]
        src, dst = src[ok], dst[ok]
        code = (c[src] * n_items + i[src]) * n_items + i[dst]
        gap = t[dst] - t[src]
        code, gap = _shortest(code, gap)  # the shortest gap per customer and pair
        codes.append(code)
        gaps.append(gap)
    if not codes or not sum(len(x) for x in codes):
        return _empty()
    # a customer's events can span two chunks
    code, gap = _shortest(np.concatenate(codes), np.concatenate(gaps))
    pair = code % (n_items * n_items)
    pairs = pd.DataFrame({"pair": pair, "gap": gap}).groupby("pair")["gap"].agg(
        ["size", "median"])
    pairs = pairs[pairs["size"] >= min_count]
    a = (pairs.index.to_numpy() // n_items).astype(np.int64)
    b = (pairs.index.to_numpy() % n_items).astype(np.int64)
    count = pairs["size"].to_numpy()
    conf = count / buyers[a]
    out = pd.DataFrame({
        "antecedent": item_labels[a], "consequent": item_labels[b], "customers": count,
        "support": count / n_customers, "confidence": conf,
        "lift": conf / (buyers[b] / n_customers), "median_gap_days": pairs["median"].to_numpy(),
    })
    out = out[out["confidence"] >= min_confidence]
    return out.sort_values(["lift", "support"], ascending=False, kind="stable").reset_index(
        drop=True)


def _shortest(code: np.ndarray, gap: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each distinct ``code`` once (ascending) with its smallest ``gap``."""
    if not len(code):
        return code, gap
    order = np.argsort(code, kind="stable")
    code, gap = code[order], gap[order]
    starts = np.flatnonzero(np.r_[True, code[1:] != code[:-1]])
    return code[starts], np.minimum.reduceat(gap, starts)


def _empty() -> pd.DataFrame:
    return pd.DataFrame({
        "antecedent": pd.Series(dtype=object), "consequent": pd.Series(dtype=object),
        "customers": pd.Series(dtype=np.int64), "support": pd.Series(dtype=float),
        "confidence": pd.Series(dtype=float), "lift": pd.Series(dtype=float),
        "median_gap_days": pd.Series(dtype=float),
    })
