"""Consent in the demo company: a share of customers opted out of marketing
(``customers.marketing_opt_out``), in both companies (honouring consent is not a finding).
Drawn from a stream of its own, so that nothing else in the company changes."""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["OPT_OUT_SHARE", "plant_opt_outs"]

OPT_OUT_SHARE = 0.05  # of customers; every target list must leave them out


def plant_opt_outs(seed: int, customers: pd.DataFrame) -> pd.DataFrame:
    """``customers`` with ``marketing_opt_out`` (True for about :data:`OPT_OUT_SHARE`)."""
    rng = np.random.default_rng(np.random.SeedSequence(int(seed), spawn_key=(17,)))
    return customers.assign(marketing_opt_out=rng.random(len(customers)) < OPT_OUT_SHARE)
