"""Consent: customers who opted out are removed from every actionable list an analysis
writes, and how many were left out is recorded."""

from __future__ import annotations

import pandas as pd

CUSTOMERS = ("customer_id,name,marketing_opt_out\n"
             "C1,Ann,false\nC2,Bob,true\nC3,Cid,\nC4,Dee,true\n")  # fmt: skip


def _analysis():
    from crmine.contract import Analysis, Mart

    return Analysis(
        "consent_probe", "Consent probe", lambda ws: None, fits=False,
        marts=(Mart("probe_targets", "one row per customer to contact", ("customer_id",),
                    actionable=True),
               Mart("probe_summary", "one row per group", ("group",), actionable=True),
               Mart("probe_scores", "one row per customer", ("customer_id",))),
    )  # fmt: skip


def test_opted_out_customers_leave_actionable_lists_only(workspace, tmp_path):
    from crmine.pipeline._runner import _honour_consent
    from crmine.warehouse import ingest

    (tmp_path / "customers.csv").write_text(CUSTOMERS)
    ingest(workspace, "customers", tmp_path / "customers.csv")
    everyone = pd.DataFrame({"customer_id": ["C1", "C2", "C3", "C4", "C9"]})
    workspace.write_table("marts.probe_targets", everyone)
    workspace.write_table("marts.probe_summary", pd.DataFrame({"group": ["a"]}))
    workspace.write_table("marts.probe_scores", everyone)
    assert _honour_consent(workspace, _analysis()) == {"probe_targets": 2}
    kept = workspace.read("marts.probe_targets")["customer_id"].tolist()
    assert sorted(kept) == ["C1", "C3", "C9"]  # unknown consent (C3) and unknown ids stay
    assert len(workspace.read("marts.probe_scores")) == 5  # not a list to act on
    recorded = workspace.read("meta.consent_exclusions")
    assert recorded[["analysis", "mart", "excluded"]].values.tolist() == \
        [["consent_probe", "probe_targets", 2]]
    # a later opt-in counts: the current row decides
    (tmp_path / "again.csv").write_text("customer_id,name,marketing_opt_out\nC2,Bob,false\n")
    ingest(workspace, "customers", tmp_path / "again.csv")
    workspace.write_table("marts.probe_targets", everyone)
    assert _honour_consent(workspace, _analysis()) == {"probe_targets": 1}


def test_nothing_is_left_out_without_consent_values(workspace, tmp_path):
    from crmine.pipeline._runner import _honour_consent
    from crmine.warehouse import ingest

    (tmp_path / "customers.csv").write_text("customer_id,name\nC1,Ann\nC2,Bob\n")
    ingest(workspace, "customers", tmp_path / "customers.csv")
    workspace.write_table("marts.probe_targets", pd.DataFrame({"customer_id": ["C1", "C2"]}))
    assert _honour_consent(workspace, _analysis()) == {"probe_targets": 0}
    assert len(workspace.read("marts.probe_targets")) == 2
