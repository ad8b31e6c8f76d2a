"""Churn labels and features around a cut-off date, without leakage.

The rule everywhere: features use only what happened strictly before the cut-off; the label is
what happened in the window after it. A ticket opened the day after the cut-off, a contract's
end date or a total billed over the customer's whole life are not known at prediction time and
never enter the features.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from crmine.exceptions import DataError, MissingColumnError

__all__ = [
    "ChurnLabels",
    "customer_features",
    "order_features",
    "subscription_features",
    "subscription_labels",
    "ticket_features",
    "transactional_labels",
]

DAYS_PER_MONTH = 30.4375


@dataclass(frozen=True, slots=True)
class ChurnLabels:
    """Who churned in the window after the cut-off.

    Attributes
    ----------
    frame : DataFrame
        One row per customer at risk at the cut-off: ``customer_id``, ``churned`` (0/1), and
        ``churn_date`` (NaT for the retained).
    cutoff : Timestamp
        Features are computed strictly before it.
    window_days : int
        Churn is observed in ``[cutoff, cutoff + window_days)``.
    source : str
        ``"subscriptions"`` or ``"orders"``.
    notes : tuple of str
    """

    frame: pd.DataFrame
    cutoff: pd.Timestamp
    window_days: int
    source: str
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def window_end(self) -> pd.Timestamp:
        return self.cutoff + pd.Timedelta(days=self.window_days)

    @property
    def churn_rate(self) -> float:
        return float(self.frame["churned"].mean()) if len(self.frame) else float("nan")

    def describe(self) -> str:
        return (f"{len(self.frame):,} customers active on {self.cutoff.date()}; churn = "
                f"{'subscription ended' if self.source == 'subscriptions' else 'no purchase'} "
                f"within {self.window_days} days (until {self.window_end.date()}); "
                f"churn rate {self.churn_rate:.1%}")  # fmt: skip

    def to_frame(self) -> pd.DataFrame:
        out = self.frame.copy()
        out["cutoff"] = self.cutoff
        out["window_days"] = self.window_days
        return out


def _need(frame: pd.DataFrame, table: str, columns: list[str]) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise MissingColumnError(
            f"{table} lacks column(s) {missing} needed for churn labels; columns found: "
            f"{list(frame.columns)}"
        )


def _ts(value: object, what: str) -> pd.Timestamp:
    try:
        ts = pd.Timestamp(value)
    except (TypeError, ValueError) as exc:
        raise DataError(f"{what} {value!r} is not a date (use e.g. '2024-06-30')") from exc
    if ts is pd.NaT:
        raise DataError(f"{what} is missing; give a date such as '2024-06-30'")
    return ts.tz_localize(None) if ts.tzinfo else ts


def _dates(s: pd.Series) -> pd.Series:
    if pd.api.types.is_datetime64_any_dtype(s):
        out = s
    else:
        # "mixed": one text column often holds dates with and without a time of day.
        out = pd.to_datetime(s, errors="coerce", format="mixed")
    if getattr(out.dt, "tz", None) is not None:
        out = out.dt.tz_localize(None)
    return out


def subscription_labels(
    subscriptions: pd.DataFrame, *, cutoff: object, window_days: int = 90
) -> ChurnLabels:
    """Label customers of a subscription business at ``cutoff``.

    A customer is at risk when a subscription is active at the cut-off (started before it and
    not ended before it). They churned when, ``window_days`` later, none of their
    subscriptions is active any more (all ended inside the window, none started to replace
    them). Customers who left before the cut-off or joined after it are not labelled.

    Parameters
    ----------
    subscriptions : DataFrame
        ``customer_id``, ``start_date``, ``end_date`` (NaT while running).
    cutoff : date-like
    window_days : int

    Returns
    -------
    ChurnLabels

    Examples
    --------
    >>> subs = pd.DataFrame({"customer_id": ["a", "b"], "start_date": ["2023-01-01"] * 2,
    ...                      "end_date": ["2024-02-01", None]})
    >>> subscription_labels(subs, cutoff="2024-01-01", window_days=90).frame["churned"].tolist()
    [1, 0]
    """
    _need(subscriptions, "subscriptions", ["customer_id", "start_date", "end_date"])
    cut = _ts(cutoff, "cutoff")
    if window_days <= 0:
        raise DataError(f"window_days must be positive, got {window_days}")
    end = cut + pd.Timedelta(days=window_days)
    s = pd.DataFrame({
        "customer_id": subscriptions["customer_id"].astype(str),
        "start": _dates(subscriptions["start_date"]),
        "end": _dates(subscriptions["end_date"]),
    })  # fmt: skip
    bad = s["start"].isna()
    if bad.any():
        raise DataError(
            f"subscriptions: start_date missing or unparseable in rows "
            f"{s.index[bad][:5].tolist()}; fix them or drop those rows"
        )
    latest = s[["start", "end"]].max().max()
    notes = []
    if latest < end:
        notes.append(
            f"the data end on {latest.date()}, before the window ends on {end.date()}: "
            "churn late in the window may be missed"
        )
    active_at_cut = (s["start"] < cut) & (s["end"].isna() | (s["end"] >= cut))
    active_at_end = (s["start"] < end) & (s["end"].isna() | (s["end"] >= end))
    at_risk = s.loc[active_at_cut, "customer_id"].unique()
    if len(at_risk) == 0:
        raise DataError(
            f"no subscription is active on the cut-off {cut.date()} (data span "
            f"{s['start'].min().date()} – {latest.date()}); choose a cut-off inside the data"
        )
    still = set(s.loc[active_at_end, "customer_id"])
    frame = pd.DataFrame({"customer_id": at_risk})
    frame["churned"] = (~frame["customer_id"].isin(still)).astype(int)
    ended = s[active_at_cut & s["end"].notna() & (s["end"] < end)]
    last_end = ended.groupby("customer_id")["end"].max()
    frame["churn_date"] = frame["customer_id"].map(last_end).where(frame["churned"] == 1)
    frame = frame.sort_values("customer_id").reset_index(drop=True)
    return ChurnLabels(frame, cut, int(window_days), "subscriptions", tuple(notes))


def transactional_labels(
    orders: pd.DataFrame,
    *,
    cutoff: object,
    window_days: int = 90,
    active_days: int | None = 365,
    customer_col: str = "customer_id",
    ts_col: str = "order_ts",
) -> ChurnLabels:
    """Label customers of a non-contractual business: churned = no purchase in the window.

    At risk are customers who bought before the cut-off (within ``active_days`` of it when
    given — someone silent for years has already gone). They churned when they placed no
    order in ``[cutoff, cutoff + window_days)``.

    Raises
    ------
    DataError
        When the data end before the window does: "no purchase" would be unobservable.

    References
    ----------
    Buckinx, W. & Van den Poel, D. (2005). Customer base analysis: partial defection of
    behaviourally loyal clients in a non-contractual FMCG retail setting. *EJOR* 164(1).
    """
    _need(orders, "orders", [customer_col, ts_col])
    cut = _ts(cutoff, "cutoff")
    end = cut + pd.Timedelta(days=window_days)
    o = pd.DataFrame({"customer_id": orders[customer_col], "ts": _dates(orders[ts_col])})
    o = o.dropna(subset=["customer_id", "ts"])
    o["customer_id"] = o["customer_id"].astype(str)
    latest = o["ts"].max()
    if latest < end - pd.Timedelta(days=1):
        raise DataError(
            f"orders end on {latest.date()} but the churn window runs until {end.date()}; "
            f"move the cut-off back to {(latest - pd.Timedelta(days=window_days)).date()} or "
            "earlier, or shorten window_days"
        )
    before = o[o["ts"] < cut]
    if active_days is not None:
        before = before[before["ts"] >= cut - pd.Timedelta(days=active_days)]
    at_risk = np.sort(before["customer_id"].unique())
    if len(at_risk) == 0:
        raise DataError(f"no customer bought before the cut-off {cut.date()}")
    inside = o[(o["ts"] >= cut) & (o["ts"] < end)]
    frame = pd.DataFrame({"customer_id": at_risk})
    frame["churned"] = (~frame["customer_id"].isin(set(inside["customer_id"]))).astype(int)
    frame["churn_date"] = pd.NaT
    return ChurnLabels(frame, cut, int(window_days), "orders", ())


# -- features strictly before the cut-off ----------------------------------------------------
def subscription_features(subscriptions: pd.DataFrame, *, cutoff: object) -> pd.DataFrame:
    """Contract features of each customer's subscription active at ``cutoff``.

    ``contract_type``, ``plan``, ``monthly_charge``, ``payment_method`` of the most recent
    active subscription, ``tenure_months`` since the customer's first subscription and
    ``n_subscriptions`` started before the cut-off. ``end_date``, ``churned`` and
    ``total_charges`` (a lifetime total as of the data's end) are deliberately not used: they
    are known only later.
    """
    _need(subscriptions, "subscriptions", ["customer_id", "start_date"])
    cut = _ts(cutoff, "cutoff")
    s = subscriptions.copy()
    s["customer_id"] = s["customer_id"].astype(str)
    s["_start"] = _dates(s["start_date"])
    s["_end"] = _dates(s["end_date"]) if "end_date" in s.columns else pd.NaT
    started = s[s["_start"] < cut]
    active = started[started["_end"].isna() | (started["_end"] >= cut)]
    current = active.sort_values("_start").groupby("customer_id").tail(1).set_index("customer_id")
    first = started.groupby("customer_id")["_start"].min()
    current = current.sort_index()
    out = pd.DataFrame(index=pd.Index(current.index, name="customer_id"))
    for col in ("contract_type", "plan", "payment_method"):
        if col in current.columns:
            out[col] = current[col].astype(object)
    if "monthly_charge" in current.columns:
        out["monthly_charge"] = pd.to_numeric(current["monthly_charge"], errors="coerce")
    out["tenure_months"] = ((cut - first.reindex(out.index)).dt.days / DAYS_PER_MONTH).round(1)
    out["n_subscriptions"] = started.groupby("customer_id").size().reindex(out.index)
    return out.reset_index()


REPEAT_DAYS = 7  # the service analysis's defaults (settings service.repeat_days, .sla_hours)
SLA_HOURS = 48.0
# Ticket counts that are 0, not missing, for a customer without tickets in the look-back.
TICKET_COUNT_FEATURES = ("n_tickets", "n_complaints", "n_repeat_contacts",
                         "n_slow_resolutions", "n_open_tickets")


def ticket_features(
    tickets: pd.DataFrame, *, cutoff: object, lookback_days: int = 180,
    repeat_days: float = REPEAT_DAYS, sla_hours: float = SLA_HOURS,
) -> pd.DataFrame:
    """Service contacts in the ``lookback_days`` before ``cutoff`` (never after).

    ``n_tickets``, ``n_complaints`` (``is_complaint``), ``mean_csat``,
    ``days_since_last_ticket``, and the service measures whose effect on churn
    :mod:`crmine.service` tests:

    - ``n_repeat_contacts``: tickets opened within ``repeat_days`` of the customer's previous
      one;
    - ``n_slow_resolutions``: tickets still not closed ``sla_hours`` after opening, counted
      only once that moment has passed before the cut-off (a ticket opened an hour before it
      is not yet known to be slow);
    - ``n_open_tickets``: tickets opened before the cut-off and not closed by it, whenever
      opened (needs ``closed_ts``);
    - ``slow_share``: ``n_slow_resolutions`` over the tickets whose SLA had passed (missing
      when none had).

    A closing time after the cut-off only ever says "not closed yet" at the cut-off, which
    was known then; it never enters a feature as a duration.
    """
    _need(tickets, "tickets", ["customer_id", "opened_ts"])
    cut = _ts(cutoff, "cutoff")
    t = tickets.copy()
    t["customer_id"] = t["customer_id"].astype(str)
    t["_ts"] = _dates(t["opened_ts"])
    t = t[t["_ts"] < cut].sort_values(["customer_id", "_ts"], kind="stable")
    has_closed = "closed_ts" in t.columns
    closed = _dates(t["closed_ts"]) if has_closed else pd.Series(pd.NaT, index=t.index)
    # gap to the customer's previous ticket, which may lie before the look-back
    gap = t.groupby("customer_id")["_ts"].diff()
    open_at_cut = closed.isna() | (closed >= cut)
    open_count = open_at_cut.groupby(t["customer_id"]).sum() if has_closed else None
    recent = (t["_ts"] >= cut - pd.Timedelta(days=lookback_days)).to_numpy()
    t, gap, closed = t[recent], gap[recent], closed[recent]
    g = t.groupby("customer_id")
    out = pd.DataFrame({"n_tickets": g.size()})
    if "is_complaint" in t.columns:
        complaint = t["is_complaint"].astype("boolean").fillna(False).astype(int)
        out["n_complaints"] = complaint.groupby(t["customer_id"]).sum()
    if "csat" in t.columns:
        csat = pd.to_numeric(t["csat"], errors="coerce")
        out["mean_csat"] = csat.groupby(t["customer_id"]).mean()
    out["days_since_last_ticket"] = (cut - g["_ts"].max()).dt.days
    repeat = (gap <= pd.Timedelta(days=repeat_days)).astype(int)
    out["n_repeat_contacts"] = repeat.groupby(t["customer_id"]).sum()
    if has_closed:
        due = t["_ts"] + pd.Timedelta(hours=sla_hours)
        known = due < cut  # the SLA moment passed before the cut-off
        slow = known & (closed.isna() | (closed > due))
        out["n_slow_resolutions"] = slow.astype(int).groupby(t["customer_id"]).sum()
        n_known = known.astype(int).groupby(t["customer_id"]).sum()
        out["slow_share"] = out["n_slow_resolutions"] / n_known.where(n_known > 0)
        assert open_count is not None
        out = out.join(open_count.rename("n_open_tickets"), how="outer")
        out["n_tickets"] = out["n_tickets"].fillna(0).astype(int)
        for col in ("n_complaints", "n_repeat_contacts", "n_slow_resolutions"):
            if col in out.columns:
                out[col] = out[col].fillna(0).astype(int)
        out["n_open_tickets"] = out["n_open_tickets"].fillna(0).astype(int)
        # a customer known only for an old ticket still open has no recent one
        out = out[(out["n_tickets"] > 0) | (out["n_open_tickets"] > 0)]
    out.index.name = "customer_id"
    return out.reset_index()


def order_features(
    orders: pd.DataFrame, *, cutoff: object, lookback_days: int = 365
) -> pd.DataFrame:
    """Purchase behaviour in the ``lookback_days`` before ``cutoff``.

    ``orders_last_year``, ``spend_last_year``, ``days_since_last_order`` (over all history
    before the cut-off), ``return_share``.
    """
    _need(orders, "orders", ["customer_id", "order_ts"])
    cut = _ts(cutoff, "cutoff")
    # Rows before the cut-off first, then integer customer codes: grouping text ids of every
    # order at every cut-off cost a churn fit more than its models did.
    ts_all = _dates(orders["order_ts"])
    keep = (orders["customer_id"].notna() & (ts_all < cut)).to_numpy()
    o = orders.loc[keep]
    ts = ts_all[keep].to_numpy()
    codes, ids = pd.factorize(o["customer_id"].astype(str), sort=True)
    last = pd.Series(ts).groupby(codes).max().to_numpy()
    out = pd.DataFrame({"days_since_last_order": (cut - pd.DatetimeIndex(last)).days},
                       index=pd.Index(ids, name="customer_id"))  # fmt: skip
    recent = ts >= np.datetime64(cut - pd.Timedelta(days=lookback_days))
    rc = codes[recent]
    key = (o["order_id"].to_numpy()[recent] if "order_id" in o.columns else ts[recent])
    distinct = pd.DataFrame({"c": rc, "k": key}).drop_duplicates()
    out["orders_last_year"] = np.bincount(distinct["c"].to_numpy(), minlength=len(ids)).astype(
        float)  # fmt: skip
    if "amount" in o.columns:
        amount = pd.to_numeric(o["amount"], errors="coerce").to_numpy(dtype=float)[recent]
        out["spend_last_year"] = np.bincount(rc, weights=np.nan_to_num(amount),
                                             minlength=len(ids))  # fmt: skip
    if "is_return" in o.columns and recent.any():
        ret = o["is_return"].astype("boolean").fillna(False).to_numpy(dtype=float)[recent]
        n_recent = np.bincount(rc, minlength=len(ids)).astype(float)
        with np.errstate(invalid="ignore", divide="ignore"):
            out["return_share"] = np.bincount(rc, weights=ret, minlength=len(ids)) / np.where(
                n_recent > 0, n_recent, np.nan)  # fmt: skip
    return out.reset_index()


# Columns of dim_customer that never describe behaviour: keys, PII, SCD2 book-keeping.
_NOT_FEATURES = {
    "customer_id", "name", "first_name", "last_name", "email", "phone", "address", "street",
    "postcode", "zip", "valid_from", "valid_to", "is_current", "load_id", "source",
    "source_row", "row_number", "birth_date", "signup_date", "record_hash", "city",
    "marketing_opt_out",  # consent decides who may be contacted, not who churns
}  # fmt: skip


# Words in a dim_customer column name that say it sums up the behaviour churn is about (orders,
# spend, value, recency, status): without SCD2 history it is as of today, label window included.
_AGGREGATE_WORDS = {
    "order", "orders", "purchase", "purchases", "spend", "spent", "revenue", "value", "ltv",
    "clv", "status", "tier", "churn", "churned", "lifetime", "recency", "frequency",
    "monetary", "visits", "transactions",
}  # fmt: skip


def behaviour_aggregates(customers: pd.DataFrame) -> list[str]:
    """The dim_customer columns that look like aggregates of the behaviour being predicted
    (``total_orders``, ``lifetime_value``, ``status``, ``loyalty_tier``, ``last_order_date``...)
    when the table has no SCD2 history (one version per customer): such a column is as of
    today and so includes the churn window after every cut-off. With history, the version
    valid at each cut-off is used instead and nothing is dropped."""
    if "valid_from" in customers.columns and customers["customer_id"].duplicated().any():
        return []
    found = []
    for col in customers.columns:
        name = str(col).lower()
        words = set(name.replace("-", "_").split("_"))
        looks = bool(words & _AGGREGATE_WORDS) or name.startswith(
            ("last_", "first_order", "total_", "n_"))
        if looks and col not in _NOT_FEATURES and not name.endswith("_id"):
            found.append(str(col))
    return found


def customer_features(customers: pd.DataFrame, *, cutoff: object) -> pd.DataFrame:
    """Customer attributes as they were at ``cutoff``.

    With SCD2 history (``valid_from``/``valid_to``) the version valid on the cut-off is used —
    not today's, which may record what happened later (a changed plan, a "lost" status).
    ``age`` is derived from ``birth_date`` at the cut-off and ``customer_tenure_days`` from
    ``signup_date``; keys and contact details are dropped.
    """
    _need(customers, "customers", ["customer_id"])
    cut = _ts(cutoff, "cutoff")
    c = customers.copy()
    if "valid_from" in c.columns:
        vf = _dates(c["valid_from"])
        vt = _dates(c["valid_to"]) if "valid_to" in c.columns else pd.Series(pd.NaT, index=c.index)
        keep = (vf.isna() | (vf <= cut)) & (vt.isna() | (vt > cut))
        # A customer first recorded after the cut-off (history starts at the first load)
        # keeps their earliest version: the closest the warehouse has to the cut-off.
        c = c.assign(_vf=vf, _keep=keep).sort_values("_vf", kind="stable")
        first = ~c["customer_id"].isin(c.loc[c["_keep"], "customer_id"])
        c = c[c["_keep"] | (first & ~c.duplicated("customer_id"))]
    c["customer_id"] = c["customer_id"].astype(str)
    c = c.drop_duplicates("customer_id", keep="last").set_index("customer_id")
    out = pd.DataFrame(index=c.index)
    if "birth_date" in c.columns and "age" not in c.columns:
        out["age"] = ((cut - _dates(c["birth_date"])).dt.days / 365.25).round(1)
    if "signup_date" in c.columns:
        signup = _dates(c["signup_date"])
        out["customer_tenure_days"] = (cut - signup).dt.days.where(signup < cut)
    for col in c.columns:
        if col in _NOT_FEATURES or col.endswith("_id") or col.startswith("_"):
            continue
        s = c[col]
        if pd.api.types.is_datetime64_any_dtype(s):
            continue
        out[col] = s
    return out.reset_index()
