"""Multi-touch attribution: which channels get credit for conversions.

Rule-based models (first touch, last touch, linear, time decay, position based) and two
data-driven ones: the Markov-chain removal effect and Shapley values.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence

import numpy as np
import pandas as pd

from crmine.exceptions import DataError, MissingColumnError

__all__ = ["ATTRIBUTION_MODELS", "attribution", "build_journeys", "markov_removal_effects"]

ATTRIBUTION_MODELS = ("first_touch", "last_touch", "linear", "time_decay", "position_based",
                      "markov", "shapley")


def build_journeys(
    touches: pd.DataFrame,
    conversions: pd.DataFrame | None = None,
    *,
    customer_col: str = "customer_id",
    channel_col: str = "channel",
    ts_col: str = "event_ts",
    conversion_ts_col: str = "conversion_ts",
    value_col: str = "value",
    lookback_days: float | None = 30,
) -> pd.DataFrame:
    """One journey per customer: the ordered channels touched before converting (or not).

    Parameters
    ----------
    touches : DataFrame
        One row per touch (customer, channel, time).
    conversions : DataFrame, optional
        One row per converting customer with ``conversion_ts`` and optionally ``value``.
        Touches after the conversion, or more than ``lookback_days`` before it, are dropped.
    """
    for col in (customer_col, channel_col, ts_col):
        if col not in touches.columns:
            raise MissingColumnError(f"attribution needs column {col!r} in the touches; "
                                     f"columns found: {list(touches.columns)}")
    t = touches[[customer_col, channel_col, ts_col]].dropna().copy()
    t[ts_col] = pd.to_datetime(t[ts_col])
    t[channel_col] = t[channel_col].astype(str)
    if conversions is not None and len(conversions):
        if conversion_ts_col not in conversions.columns:
            raise MissingColumnError(f"conversions need column {conversion_ts_col!r}; columns "
                                     f"found: {list(conversions.columns)}")
        conv = conversions.sort_values(conversion_ts_col).drop_duplicates(customer_col)
        conv = conv.set_index(customer_col)
        cts = pd.to_datetime(t[customer_col].map(conv[conversion_ts_col]))
        keep = cts.isna() | (t[ts_col] <= cts)
        if lookback_days is not None:
            keep &= cts.isna() | (t[ts_col] >= cts - pd.Timedelta(days=lookback_days))
        t = t[keep]
        t["_conv_ts"] = cts[keep]
    else:
        conv = pd.DataFrame(columns=[conversion_ts_col]).rename_axis(customer_col)
        t["_conv_ts"] = pd.NaT
    t = t.sort_values([customer_col, ts_col], kind="stable")
    g = t.groupby(customer_col, sort=False)
    out = pd.DataFrame({
        "path": g[channel_col].agg(list),
        "touch_ts": g[ts_col].agg(list),
    })
    out["converted"] = out.index.isin(conv.index)
    out["conversion_ts"] = pd.to_datetime(out.index.map(
        conv[conversion_ts_col]).to_series(index=out.index))
    if value_col in conv.columns:
        out["value"] = out.index.map(conv[value_col]).to_series(index=out.index).fillna(0.0)
        out.loc[~out["converted"], "value"] = 0.0
    else:
        out["value"] = out["converted"].astype(float)
    return out.reset_index()


def _rule_weights(path: Sequence[str], times: Sequence[pd.Timestamp], conv_ts: pd.Timestamp,
                  model: str, half_life_days: float) -> np.ndarray:
    n = len(path)
    if model == "first_touch":
        w = np.zeros(n)
        w[0] = 1
    elif model == "last_touch":
        w = np.zeros(n)
        w[-1] = 1
    elif model == "linear":
        w = np.full(n, 1 / n)
    elif model == "time_decay":
        ref = conv_ts if pd.notna(conv_ts) else times[-1]
        age = np.array([(ref - t).total_seconds() / 86400 for t in times])
        w = 0.5 ** (age / half_life_days)
        w = w / w.sum()
    elif model == "position_based":
        # 40% to the first, 40% to the last, 20% shared by the touches in between.
        if n == 1:
            w = np.ones(1)
        elif n == 2:
            w = np.array([0.5, 0.5])
        else:
            w = np.full(n, 0.2 / (n - 2))
            w[0] = w[-1] = 0.4
    else:
        raise DataError(f"unknown attribution model {model!r}; choose from {ATTRIBUTION_MODELS}")
    return w


def markov_removal_effects(paths: Sequence[Sequence[str]], converted: Sequence[bool]
                           ) -> pd.Series:
    """Removal effect of every channel in a first-order Markov chain of the journeys.

    States are ``start``, the channels, ``conversion`` and ``null`` (absorbing). The removal
    effect of channel ``c`` is ``1 - P(conversion without c) / P(conversion)``, where
    removing ``c`` sends every transition into ``c`` to ``null``.

    References
    ----------
    Anderl, E., Becker, I., von Wangenheim, F. & Schumann, J. H. (2016). Mapping the customer
    journey: lessons learned from graph-based online attribution modeling. *International
    Journal of Research in Marketing* 33, 457-474.
    """
    channels = sorted({c for p in paths for c in p})
    idx = {c: i + 1 for i, c in enumerate(channels)}
    n_states = len(channels) + 3  # start, channels..., conversion, null
    conv_i, null_i = n_states - 2, n_states - 1
    counts = np.zeros((n_states, n_states))
    for path, conv in zip(paths, converted, strict=True):
        states = [0] + [idx[c] for c in path] + [conv_i if conv else null_i]
        for a, b in itertools.pairwise(states):
            counts[a, b] += 1
    row = counts.sum(axis=1, keepdims=True)
    P = np.divide(counts, row, out=np.zeros_like(counts), where=row > 0)

    def p_conv(removed: int | None) -> float:
        Q = P.copy()
        if removed is not None:
            Q[:, null_i] += Q[:, removed]
            Q[:, removed] = 0
            Q[removed, :] = 0
            Q[removed, null_i] = 1
        transient = list(range(0, conv_i))
        A = np.eye(len(transient)) - Q[np.ix_(transient, transient)]
        b = Q[transient, conv_i]
        return float(np.linalg.lstsq(A, b, rcond=None)[0][0])

    base = p_conv(None)
    if base <= 0:
        raise DataError("no journey converts, so nothing can be attributed")
    return pd.Series({c: 1 - p_conv(idx[c]) / base for c in channels}, name="removal_effect")


def _shapley(paths: Sequence[Sequence[str]], values: np.ndarray, max_channels: int = 12
             ) -> pd.Series:
    """Shapley value of every channel; a coalition's worth is the value of the journeys
    whose set of channels it covers (Zhao et al. 2018, 'simplified' formulation)."""
    channels = sorted({c for p in paths for c in p})
    if len(channels) > max_channels:
        raise DataError(f"Shapley attribution over {len(channels)} channels is too costly "
                        f"(limit {max_channels}); use the markov model or group channels")
    bit = {c: 1 << i for i, c in enumerate(channels)}
    worth_exact: dict[int, float] = {}
    for p, v in zip(paths, values, strict=True):
        m = 0
        for c in p:
            m |= bit[c]
        worth_exact[m] = worth_exact.get(m, 0.0) + float(v)
    k = len(channels)
    # v(S) = total value of journeys whose channel set is a subset of S.
    v = np.zeros(1 << k)
    for m, val in worth_exact.items():
        v[m] += val
    for i in range(k):  # subset-sum (zeta) transform
        for m in range(1 << k):
            if m & (1 << i):
                v[m] += v[m ^ (1 << i)]
    phi = {}
    for i, c in enumerate(channels):
        total = 0.0
        for m in range(1 << k):
            if m & (1 << i):
                continue
            s = bin(m).count("1")
            weight = math.factorial(s) * math.factorial(k - s - 1) / math.factorial(k)
            total += weight * (v[m | (1 << i)] - v[m])
        phi[c] = total
    return pd.Series(phi, name="shapley")


def attribution(
    journeys: pd.DataFrame,
    *,
    models: Sequence[str] = ATTRIBUTION_MODELS,
    half_life_days: float = 7.0,
) -> pd.DataFrame:
    """Credit for conversions (and their value) per channel under each attribution model.

    Parameters
    ----------
    journeys : DataFrame
        From :func:`build_journeys`: ``path`` (list of channels), ``touch_ts``,
        ``converted``, ``conversion_ts``, ``value``.
    models : list of str
        Any of ``first_touch``, ``last_touch``, ``linear``, ``time_decay``,
        ``position_based``, ``markov``, ``shapley``.
    half_life_days : float
        Half-life of the time-decay model.

    Returns
    -------
    DataFrame
        Tidy: one row per (model, channel) with ``conversions`` (credited conversions, sums
        to the number of conversions per model), ``value`` (credited value) and ``share``.

    Examples
    --------
    >>> j = pd.DataFrame({"path": [["a", "b"], ["a"], ["b"]], "converted": [True, False, True],
    ...                   "value": [1.0, 0.0, 1.0]})
    >>> a = attribution(j, models=["markov"])
    >>> a.set_index("channel")["conversions"].round(3).to_dict()
    {'a': 0.667, 'b': 1.333}
    """
    unknown = [m for m in models if m not in ATTRIBUTION_MODELS]
    if unknown:
        raise DataError(f"unknown attribution model(s) {unknown}; choose from {ATTRIBUTION_MODELS}")
    j = journeys[journeys["path"].map(len) > 0]
    conv = j[j["converted"]]
    if conv.empty:
        raise DataError("no converting journey with at least one touch; nothing to attribute")
    values = conv["value"].to_numpy(float) if "value" in conv else np.ones(len(conv))
    total_conv, total_value = float(len(conv)), float(values.sum())
    frames = []
    for model in models:
        if model in ("markov", "shapley"):
            if model == "markov":
                eff = markov_removal_effects(list(j["path"]), list(j["converted"]))
            else:
                eff = _shapley(list(conv["path"]), np.ones(len(conv))).clip(lower=0)
            share = eff / eff.sum() if eff.sum() > 0 else eff * 0
            credit = pd.DataFrame({"conversions": share * total_conv,
                                   "value": share * total_value})
        else:
            acc: dict[str, list[float]] = {}
            has_ts = "touch_ts" in conv
            for pos, (path, val) in enumerate(zip(conv["path"], values, strict=True)):
                times = conv["touch_ts"].iloc[pos] if has_ts else [pd.Timestamp(0)] * len(path)
                cts = conv["conversion_ts"].iloc[pos] if "conversion_ts" in conv else pd.NaT
                w = _rule_weights(path, times, cts, model, half_life_days)
                for c, wi in zip(path, w, strict=True):
                    a = acc.setdefault(c, [0.0, 0.0])
                    a[0] += wi
                    a[1] += wi * val
            credit = pd.DataFrame.from_dict(acc, orient="index", columns=["conversions", "value"])
        credit.index.name = "channel"
        credit = credit.reset_index()
        credit.insert(0, "model", model)
        credit["share"] = credit["conversions"] / total_conv
        frames.append(credit)
    return pd.concat(frames, ignore_index=True).sort_values(["model", "channel"],
                                                           ignore_index=True)
