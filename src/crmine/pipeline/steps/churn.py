"""Pipeline step: churn model, current customers' risk and reasons, retention list."""

from __future__ import annotations

from typing import Any

from crmine.pipeline import step
from crmine.warehouse import Workspace


# Contracts with end dates, or failing that purchases (churn = no purchase in the window).
@step("churn", order=40, title="Churn prediction and retention",
      requires=(("core.fct_subscriptions", "core.fct_order_lines"),))
def run(ws: Workspace) -> dict[str, Any]:
    from crmine.churn import run_churn

    return run_churn(ws).summary()
