"""What the lifecycle's NPS analysis must find in the survey answers.

:func:`crmine.demo._service.make_surveys` drives NPS by segment and complaints; this adds
two known factors on top, so that they can be recovered:

- the survey ``channel`` (answered by email, in the app, by SMS or on the web):
  ``SURVEY_CHANNEL_EFFECT`` NPS points (app users like us, SMS respondents do not);
- satisfaction before leaving: a customer who buys for the last time within
  ``LEAVER_WINDOW_DAYS`` after answering (or has already left) answers
  ``LEAVER_NPS_EFFECT`` points lower, so detractors churn more (the satisfaction -> churn link).

CSAT moves with NPS (half a CSAT point per NPS point). The no-signal company gets a channel
at random and neither effect. The truth is ``truth.survey_factors``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from crmine.demo._service import SURVEY_TEXT

__all__ = [
    "LEAVER_NPS_EFFECT",
    "LEAVER_WINDOW_DAYS",
    "SURVEY_CHANNELS",
    "SURVEY_CHANNEL_EFFECT",
    "plant_survey_factors",
]

SURVEY_CHANNELS = ("email", "app", "sms", "web")
SURVEY_CHANNEL_MIX = np.array([0.40, 0.30, 0.15, 0.15])
SURVEY_CHANNEL_EFFECT = {"email": 0.0, "app": 0.8, "sms": -1.5, "web": 0.0}
LEAVER_NPS_EFFECT = -2.5
LEAVER_WINDOW_DAYS = 180


def _band(nps: np.ndarray) -> np.ndarray:
    return np.where(nps >= 9, "promoter", np.where(nps >= 7, "passive", "detractor"))


def plant_survey_factors(
    rng: np.random.Generator,
    surveys: pd.DataFrame,
    customer_truth: pd.DataFrame,
    *,
    signal: bool = True,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The surveys with a ``channel`` and the planted effects (module docstring), and the
    truth table (``factor, effect, unit``)."""
    out = surveys.copy()
    m = len(out)
    channel = np.array(SURVEY_CHANNELS)[rng.choice(len(SURVEY_CHANNELS), m, p=SURVEY_CHANNEL_MIX)]
    out["channel"] = channel
    if signal:
        last = out["customer_id"].map(customer_truth.set_index("customer_id")["last_purchase_ts"])
        alive = out["customer_id"].map(customer_truth.set_index("customer_id")["alive"])
        days_left = (pd.to_datetime(last) - pd.to_datetime(out["response_ts"])).dt.days
        leaving = (~alive.astype(bool)) & (days_left <= LEAVER_WINDOW_DAYS)
        shift = pd.Series(channel).map(SURVEY_CHANNEL_EFFECT).to_numpy(float)
        shift = shift + np.where(leaving.to_numpy(bool), LEAVER_NPS_EFFECT, 0.0)
        old = out["nps"].to_numpy(float)
        new = np.clip(np.round(old + shift), 0, 10)
        out["nps"] = new
        out["csat"] = np.clip(np.round(out["csat"].to_numpy(float) + (new - old) / 2), 1, 5)
        moved = (_band(new) != _band(old)) & out["text"].notna().to_numpy()
        pick = rng.random(m)
        texts = out["text"].to_numpy(dtype=object).copy()
        for i in np.flatnonzero(moved):  # the comment follows the new answer
            pool = SURVEY_TEXT[str(_band(new)[i])]
            texts[i] = pool[int(pick[i] * len(pool))]
        out["text"] = texts
    rows = [
        {
            "factor": f"channel={c}",
            "effect": SURVEY_CHANNEL_EFFECT[c] if signal else 0.0,
            "unit": "NPS points against email",
        }
        for c in SURVEY_CHANNELS
    ] + [
        {
            "factor": "leaves_within_180_days",
            "effect": LEAVER_NPS_EFFECT if signal else 0.0,
            "unit": f"NPS points when the last purchase comes within {LEAVER_WINDOW_DAYS} days "
            "after the answer (or before it) and the customer has dropped out",
        },
    ]
    return out, pd.DataFrame(rows)
