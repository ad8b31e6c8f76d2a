"""Campaign and channel KPIs from campaigns, assignments and events.

Everything is first brought to one grain — one row per customer per campaign (a *contact*)
— so the same KPIs can be rolled up by campaign, channel, segment or period without double
counting: sends, deliveries, opens, clicks, conversions, cost, revenue and the ratios built
from them (CTR, conversion rate, ROI, ROAS, cost per acquisition).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from crmine.exceptions import DataError, MissingColumnError

__all__ = ["campaign_contacts", "campaign_kpis"]

# Stage names counted as each funnel step (canonical events.stage values).
_STAGE_FLAGS = {
    "sent": ("sent",),
    "delivered": ("delivered",),
    "opened": ("open",),
    "clicked": ("click",),
    "converted": ("convert", "won"),
}


def _need(df: pd.DataFrame, cols: Sequence[str], table: str) -> None:
    missing = [c for c in cols if c not in df.columns]
    if missing:
        raise MissingColumnError(
            f"{table} needs column(s) {missing}; columns found: {list(df.columns)}"
        )


def campaign_contacts(
    events: pd.DataFrame | None = None,
    *,
    campaigns: pd.DataFrame | None = None,
    assignments: pd.DataFrame | None = None,
    customers: pd.DataFrame | None = None,
    segment_col: str = "segment",
) -> pd.DataFrame:
    """One row per customer per campaign with everything that happened to that contact.

    Parameters
    ----------
    events : DataFrame, optional
        Canonical events (``customer_id``, ``event_ts``, ``campaign_id``, ``stage``, and
        optionally ``channel``, ``cost``, ``value``). Only rows with a campaign are used.
    campaigns : DataFrame, optional
        Canonical campaigns (``campaign_id``, optionally ``channel``, ``cost``,
        ``start_date``). A campaign's ``cost`` is spread evenly over its treated contacts.
    assignments : DataFrame, optional
        Canonical campaign assignments (``campaign_id``, ``customer_id``, optionally
        ``group``, ``responded``, ``revenue``). When present they define who was in the
        campaign and whether they converted.
    customers : DataFrame, optional
        ``customer_id`` and ``segment_col``, to report by segment.

    Returns
    -------
    DataFrame
        ``campaign_id``, ``customer_id``, ``group`` (treatment/control), ``channel``,
        ``segment``, ``period_start`` (first touch or campaign start), ``sent``,
        ``delivered``, ``opened``, ``clicked``, ``converted`` (0/1), ``cost``, ``revenue``.
    """
    if events is None and assignments is None:
        raise DataError("campaign KPIs need events with a campaign_id or campaign assignments")
    parts = []
    if events is not None:
        _need(events, ["customer_id", "campaign_id"], "events")
        ev = events[events["campaign_id"].notna()].copy()
        stage = ev["stage"].astype("string").str.lower() if "stage" in ev else ev.get(
            "event_type", pd.Series("", index=ev.index)).astype("string").str.lower()
        for flag, names in _STAGE_FLAGS.items():
            ev[flag] = stage.isin(names).astype(int)
        ev["cost"] = pd.to_numeric(ev["cost"], errors="coerce").fillna(0) if "cost" in ev else 0.0
        value = pd.to_numeric(ev["value"], errors="coerce").fillna(0) if "value" in ev else 0.0
        ev["revenue"] = np.where(ev["converted"] == 1, value, 0.0)
        ts = pd.to_datetime(ev["event_ts"]) if "event_ts" in ev else pd.NaT
        ev["period_start"] = ts
        agg: dict[str, tuple[str, str]] = {
            f: (f, "max") for f in _STAGE_FLAGS
        } | {"cost": ("cost", "sum"), "revenue": ("revenue", "sum"),
             "period_start": ("period_start", "min")}
        if "channel" in ev:
            agg["event_channel"] = ("channel", "first")
        parts.append(ev.groupby(["campaign_id", "customer_id"], dropna=False).agg(**agg))
    contacts = parts[0] if parts else None
    if assignments is not None:
        _need(assignments, ["campaign_id", "customer_id"], "campaign_assignments")
        a = assignments.set_index(["campaign_id", "customer_id"])
        keep = [c for c in ("group", "responded", "revenue", "response_ts") if c in a.columns]
        a = a[keep].rename(columns={"revenue": "assigned_revenue"})
        if a.index.duplicated().any():
            dup = a.index[a.index.duplicated()][0]
            raise DataError(f"campaign_assignments has (campaign_id, customer_id) {dup} twice; "
                            "keep one row per customer per campaign")
        contacts = a.join(contacts, how="left") if contacts is not None else a
        for flag in _STAGE_FLAGS:
            if flag not in contacts:
                contacts[flag] = 0
            contacts[flag] = contacts[flag].fillna(0).astype(int)
        if "responded" in contacts:
            contacts["converted"] = contacts["responded"].fillna(False).astype(bool).astype(int)
        if "assigned_revenue" in contacts:
            contacts["revenue"] = pd.to_numeric(contacts["assigned_revenue"],
                                                errors="coerce").fillna(0)
            contacts = contacts.drop(columns="assigned_revenue")
        for c in ("cost", "revenue"):
            contacts[c] = contacts[c].fillna(0.0) if c in contacts else 0.0
    assert contacts is not None
    contacts = contacts.reset_index()
    if "group" not in contacts:
        contacts["group"] = "treatment"
    contacts["group"] = contacts["group"].fillna("treatment").astype(str).str.lower()
    if "period_start" not in contacts:
        contacts["period_start"] = pd.NaT
    if "response_ts" in contacts:
        contacts["period_start"] = contacts["period_start"].fillna(
            pd.to_datetime(contacts["response_ts"]))
        contacts = contacts.drop(columns="response_ts")
    contacts["channel"] = contacts.pop("event_channel") if "event_channel" in contacts else None
    if campaigns is not None:
        _need(campaigns, ["campaign_id"], "campaigns")
        camp = campaigns.drop_duplicates("campaign_id").set_index("campaign_id")
        if "channel" in camp:
            contacts["channel"] = contacts["campaign_id"].map(camp["channel"]).fillna(
                contacts["channel"])
        if "start_date" in camp:
            # A campaign belongs to the period it started in, whenever its touches fell.
            start = contacts["campaign_id"].map(pd.to_datetime(camp["start_date"]))
            contacts["period_start"] = start.fillna(contacts["period_start"])
        if "cost" in camp:
            # A campaign's recorded cost is its total: it replaces the touch costs of the
            # events (usually the same money itemised) and is spread evenly over the treated
            # contacts; control customers were not contacted and cost nothing. Touch costs
            # still count for campaigns without a recorded cost.
            camp_cost = pd.to_numeric(camp["cost"], errors="coerce")
            has_cost = contacts["campaign_id"].map(camp_cost).notna().to_numpy()
            treated = (contacts["group"] != "control").to_numpy()
            n_treated = contacts[treated].groupby("campaign_id").size()
            per_head = (camp_cost / n_treated.reindex(camp.index)).fillna(0)
            contacts.loc[has_cost, "cost"] = 0.0
            sel = has_cost & treated
            contacts.loc[sel, "cost"] = contacts.loc[sel, "campaign_id"].map(per_head).to_numpy()
    contacts["channel"] = contacts["channel"].fillna("unknown").astype(str)
    if customers is not None and segment_col in customers.columns:
        seg = customers.drop_duplicates("customer_id", keep="last").set_index("customer_id")
        contacts["segment"] = contacts["customer_id"].map(seg[segment_col]).fillna("unknown")
    else:
        contacts["segment"] = "all"
    cols = ["campaign_id", "customer_id", "group", "channel", "segment", "period_start",
            *_STAGE_FLAGS, "cost", "revenue"]
    return contacts[cols]


def campaign_kpis(
    contacts: pd.DataFrame,
    *,
    by: str | Sequence[str] = "campaign_id",
    period: str | None = None,
) -> pd.DataFrame:
    """Campaign KPIs rolled up by any of campaign, channel, segment and period.

    Parameters
    ----------
    contacts : DataFrame
        The output of :func:`campaign_contacts`.
    by : str or list of str
        Grouping columns among ``campaign_id``, ``channel``, ``segment``, ``period``.
    period : str, optional
        Pandas period alias (``"M"``, ``"Q"``, ``"W"``) used when grouping by ``period``.

    Returns
    -------
    DataFrame
        One row per group: ``contacts`` (treated), ``control``, ``sends``, ``deliveries``,
        ``opens``, ``clicks``, ``conversions``, ``cost``, ``revenue``, ``open_rate``,
        ``ctr`` (clicks per delivery, per send when deliveries are not tracked),
        ``conversion_rate`` (per treated contact), ``control_conversion_rate``,
        ``incremental_conversions``, ``roi`` ((revenue - cost) / cost), ``roas``
        (revenue / cost) and ``cpa`` (cost per conversion).
    """
    keys = [by] if isinstance(by, str) else list(by)
    c = contacts.copy()
    if "period" in keys:
        c["period"] = pd.to_datetime(c["period_start"]).dt.to_period(period or "M").astype(str)
    _need(c, keys, "campaign contacts")
    treated = c[c["group"] != "control"]
    control = c[c["group"] == "control"]
    g = treated.groupby(keys, dropna=False)
    out = pd.DataFrame({
        "contacts": g.size(), "sends": g["sent"].sum(), "deliveries": g["delivered"].sum(),
        "opens": g["opened"].sum(), "clicks": g["clicked"].sum(),
        "conversions": g["converted"].sum(), "cost": g["cost"].sum(),
        "revenue": g["revenue"].sum(),
    })  # fmt: skip
    cg = control.groupby(keys, dropna=False)
    out["control"] = cg.size().reindex(out.index).fillna(0).astype(int)
    out["control_conversions"] = cg["converted"].sum().reindex(out.index).fillna(0)
    with np.errstate(divide="ignore", invalid="ignore"):
        denom_send = out["sends"].where(out["sends"] > 0, out["contacts"])
        denom_deliv = out["deliveries"].where(out["deliveries"] > 0, denom_send)
        out["open_rate"] = out["opens"] / denom_deliv
        out["ctr"] = out["clicks"] / denom_deliv
        out["conversion_rate"] = out["conversions"] / out["contacts"]
        out["control_conversion_rate"] = (out["control_conversions"] / out["control"]).where(
            out["control"] > 0)
        out["incremental_conversions"] = (
            out["conversions"] - out["control_conversion_rate"] * out["contacts"])
        cost = out["cost"].where(out["cost"] > 0)
        out["roi"] = (out["revenue"] - out["cost"]) / cost
        out["roas"] = out["revenue"] / cost
        out["cpa"] = cost / out["conversions"].where(out["conversions"] > 0)
    return out.drop(columns="control_conversions").reset_index()
