"""Who to call first: churn risk × customer value → a list ranked by expected value saved."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from crmine.exceptions import DataError, MissingColumnError

__all__ = ["RetentionList", "retention_list"]


@dataclass(frozen=True, slots=True)
class RetentionList:
    """Customers ranked for a retention offer.

    Attributes
    ----------
    customers : DataFrame
        ``rank``, ``customer_id``, ``churn_risk``, ``value``, ``value_at_risk``
        (risk × value), ``expected_saved`` (risk × save rate × value), ``expected_profit``
        (expected_saved − offer cost), ``target`` (in the profit-maximising set),
        ``risk_band``, ``value_band``, plus any extra columns given.
    profit_curve : DataFrame
        ``customers_targeted``, ``risk_threshold``, ``cumulative_profit`` when targeting
        every customer at or above each risk level.
    matrix : DataFrame
        Risk band × value band: ``customers``, ``value_at_risk``.
    best_threshold : float
        Churn risk above which an offer pays off in total (maximum of the profit curve).
    best_customers, max_profit : int, float
        How many customers that targets and the expected profit.
    offer_cost, save_rate : float
        The assumptions used.
    """

    customers: pd.DataFrame
    profit_curve: pd.DataFrame
    matrix: pd.DataFrame
    best_threshold: float
    best_customers: int
    max_profit: float
    offer_cost: float
    save_rate: float

    def to_frame(self) -> pd.DataFrame:
        return self.customers.copy()

    def targets(self) -> pd.DataFrame:
        """Only the customers worth an offer, best first."""
        return self.customers[self.customers["target"]].reset_index(drop=True)

    def export(self, path: str | Path) -> Path:
        """Write the list to ``.csv`` or ``.parquet`` (by the file's suffix)."""
        p = Path(path)
        from crmine.warehouse._sealed import refuse_plaintext_in_encrypted

        refuse_plaintext_in_encrypted(p)
        if p.suffix.lower() == ".parquet":
            self.customers.to_parquet(p, index=False)
        elif p.suffix.lower() == ".csv":
            self.customers.to_csv(p, index=False)
        else:
            raise DataError(f"export to .csv or .parquet, not {p.suffix!r} ({p})")
        return p


def _bands(values: pd.Series, labels: list[str]) -> pd.Series:
    ranks = values.rank(method="first", pct=True)
    return pd.cut(ranks, bins=[0, 1 / 3, 2 / 3, 1.0], labels=labels, include_lowest=True).astype(
        str
    )


def retention_list(
    scores: pd.DataFrame,
    *,
    offer_cost: float = 10.0,
    save_rate: float = 0.3,
    risk_col: str = "churn_risk",
    value_col: str = "value",
) -> RetentionList:
    """Rank customers by the expected profit of a retention offer.

    Offering a customer with churn risk ``p`` and value ``v`` costs ``offer_cost`` and keeps
    them with probability ``save_rate`` if they would have left, so its expected profit is
    ``p × save_rate × v − offer_cost``. Customers are ranked by that figure; the
    profit-maximising risk threshold targets every customer at or above it, the way
    Verbeke et al. (2012) measure a churn model by the profit of the campaign it drives.

    Parameters
    ----------
    scores : DataFrame
        ``customer_id``, ``churn_risk`` and ``value`` (e.g. 12-month CLV or margin) per
        customer; other columns are carried along.
    offer_cost : float
        Cost of one offer (incentive + contact).
    save_rate : float
        Share of would-be churners an offer keeps.

    References
    ----------
    Verbeke, W., Dejaeger, K., Martens, D., Hur, J. & Baesens, B. (2012). New insights into
    churn prediction in the telecommunication sector: a profit driven data mining approach.
    *EJOR* 218(1), 211–229. Neslin, S. et al. (2006). Defection detection. *JMR* 43(2).

    Examples
    --------
    >>> scores = pd.DataFrame({"customer_id": ["a", "b"], "churn_risk": [0.8, 0.1],
    ...                        "value": [500.0, 500.0]})
    >>> retention_list(scores, offer_cost=20, save_rate=0.2).best_customers
    1
    """
    missing = [c for c in ("customer_id", risk_col, value_col) if c not in scores.columns]
    if missing:
        raise MissingColumnError(
            f"retention list needs column(s) {missing}; columns found: {list(scores.columns)}"
        )
    if not 0 < save_rate <= 1:
        raise DataError(f"save_rate must be in (0, 1], got {save_rate}")
    if offer_cost < 0:
        raise DataError(f"offer_cost must be ≥ 0, got {offer_cost}")
    df = scores.rename(columns={risk_col: "churn_risk", value_col: "value"}).copy()
    risk = pd.to_numeric(df["churn_risk"], errors="coerce")
    bad = risk.isna() | (risk < 0) | (risk > 1)
    if bad.any():
        rows = df.index[bad][:5].tolist()
        raise DataError(f"{risk_col} must be a probability; rows {rows} hold "
                        f"{df.loc[bad, 'churn_risk'].head(5).tolist()}")  # fmt: skip
    value = pd.to_numeric(df["value"], errors="coerce")
    if value.isna().any():
        rows = df.index[value.isna()][:5].tolist()
        raise DataError(f"{value_col} is missing or not a number in rows {rows}; fill it "
                        "(e.g. with 0) before ranking")  # fmt: skip
    df["churn_risk"], df["value"] = risk.astype(float), value.clip(lower=0).astype(float)
    df["value_at_risk"] = df["churn_risk"] * df["value"]
    df["expected_saved"] = df["value_at_risk"] * save_rate
    df["expected_profit"] = df["expected_saved"] - offer_cost
    df = df.sort_values(["expected_profit", "churn_risk"], ascending=False, kind="stable")

    # Profit when targeting everyone at or above each risk level.
    by_risk = df.sort_values("churn_risk", ascending=False, kind="stable")
    cum = by_risk["expected_profit"].cumsum().to_numpy()
    curve = pd.DataFrame({"customers_targeted": np.arange(1, len(df) + 1),
                          "risk_threshold": by_risk["churn_risk"].to_numpy(),
                          "cumulative_profit": cum})  # fmt: skip
    if len(curve) and cum.max() > 0:
        best = int(np.argmax(cum))
        best_threshold, best_n, max_profit = (float(curve["risk_threshold"].iloc[best]),
                                              best + 1, float(cum[best]))  # fmt: skip
    else:
        best_threshold, best_n, max_profit = 1.0, 0, 0.0
    df["target"] = df["expected_profit"] > 0
    df["risk_band"] = _bands(df["churn_risk"], ["low risk", "medium risk", "high risk"])
    df["value_band"] = _bands(df["value"], ["low value", "medium value", "high value"])
    df.insert(0, "rank", np.arange(1, len(df) + 1))
    matrix = (df.groupby(["risk_band", "value_band"])
              .agg(customers=("customer_id", "size"), value_at_risk=("value_at_risk", "sum"))
              .reset_index())  # fmt: skip
    if len(curve) > 2_000:  # keep what the report draws small
        idx = np.unique(np.r_[np.linspace(0, len(curve) - 1, 1_000).round().astype(int),
                              max(best_n - 1, 0)])  # fmt: skip
        curve = curve.iloc[idx].reset_index(drop=True)
    return RetentionList(df.reset_index(drop=True), curve, matrix, best_threshold, best_n,
                         max_profit, float(offer_cost), float(save_rate))  # fmt: skip
