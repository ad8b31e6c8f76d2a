"""The serving copy's per-customer lookup tables give exactly what the SQL path gives: the
360 view of a customer (with and without PII rights, a customer with no orders, an unknown id)
and the churn score of one customer, alone or in a batch."""

from __future__ import annotations

import math
from typing import Any

import pytest


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, float) and isinstance(b, float):
        return (math.isnan(a) and math.isnan(b)) or a == pytest.approx(b, rel=1e-9, abs=1e-12)
    return bool(a == b)


def test_the_serving_copy_has_lookup_tables_and_the_360_equals_sql(app) -> None:  # type: ignore[no-untyped-def]
    from crmine.api._lookup import lookup_of
    from crmine.api._views import _customer_360_sql, customer_360

    with app.state.crmine.pool.borrow() as ws:
        assert lookup_of(ws) is not None, "the serving copy was prepared without lookup tables"
        ids = [r[0] for r in ws.duck.execute(
            "SELECT customer_id FROM core.dim_customer ORDER BY customer_id LIMIT 25").fetchall()]
        no_orders = ws.duck.execute(
            "SELECT customer_id FROM core.dim_customer c WHERE NOT EXISTS (SELECT 1 FROM "
            "core.fct_order_lines o WHERE o.customer_id = c.customer_id) LIMIT 1").fetchall()
        ids += [r[0] for r in no_orders]
        for cid in ids:
            for pii in (True, False):
                fast = customer_360(ws, cid, pii=pii)
                slow = _customer_360_sql(ws, cid, pii=pii, orders=50)
                assert fast is not None and _same(fast, slow), (cid, pii)
        for unknown in ("NOPE", "", "C000001' OR 1=1 --"):
            assert customer_360(ws, unknown, pii=True) is None


def test_one_customer_scores_equal_the_full_table_path(app) -> None:  # type: ignore[no-untyped-def]
    from crmine.api._scoring import RealtimeScorer

    scorer = RealtimeScorer()
    with app.state.crmine.pool.borrow() as ws:
        ids = [r[0] for r in ws.duck.execute(
            "SELECT customer_id FROM core.dim_customer ORDER BY customer_id LIMIT 60").fetchall()]
        batch = scorer.score(ws, "churn", [*ids, "NOPE"])
        # The full-table path: every customer's features, as the batch scoring computes them.
        full = scorer._frame(ws, "churn", batch["version"])
        expected_unknown = [c for c in [*ids, "NOPE"] if c not in full.index]
        assert batch["unknown"] == expected_unknown
        known = [c for c in ids if c in full.index]
        assert len(known) >= 10, "too few scorable customers to compare"
        fast = {k: v for k, v in RealtimeScorer._features_of(ws, "churn", known).items()} \
            if RealtimeScorer._features_of(ws, "churn", known) is not None else None
        assert fast is not None, "no per-customer feature path on the serving copy"
        by_id = {s["customer_id"]: s for s in batch["scores"]}
        for cid in known[:10]:
            one = scorer.score(ws, "churn", [cid])["scores"]
            assert len(one) == 1 and _same(one[0], by_id[cid]), cid
        features = RealtimeScorer._features_of(ws, "churn", known)
        assert features is not None
        cols = [c for c in full.columns if c in features.columns]
        assert set(full.columns) <= set(features.columns) | {"customer_id"}, \
            set(full.columns) - set(features.columns)
        left = full.loc[known, cols].reset_index(drop=True)
        right = features.loc[known, cols].reset_index(drop=True)
        for col in cols:
            for a, b in zip(left[col].tolist(), right[col].tolist(), strict=True):
                assert _same(a, b) or (a != a and b != b), (col, a, b)


def test_one_customer_clv_equals_the_full_table_path(app) -> None:  # type: ignore[no-untyped-def]
    from crmine.api._scoring import RealtimeScorer

    scorer = RealtimeScorer()
    with app.state.crmine.pool.borrow() as ws:
        ids = [r[0] for r in ws.duck.execute(
            "SELECT customer_id FROM marts.customer_rfm ORDER BY customer_id LIMIT 40"
        ).fetchall()]  # fmt: skip
        features = RealtimeScorer._features_of(ws, "clv", [*ids, "NOPE"])
        assert features is not None, "no per-customer CLV path on the serving copy"
        assert list(features.index) == ids  # the unknown id has no RFM row
        batch = scorer.score(ws, "clv", [*ids, "NOPE"])
        assert batch["unknown"] == ["NOPE"] and len(batch["scores"]) == len(ids)
        # the full path: every customer's RFM summary, scored together
        full = scorer._frame(ws, "clv", batch["version"])
        model, meta = scorer._model(ws, "clv", None)
        from crmine.models import model_specs

        expected = model_specs()["clv"].score(model, meta, full.loc[ids].reset_index(drop=True))
        for one, (_, row) in zip(batch["scores"], expected.iterrows(), strict=True):
            for col in ("p_alive", "predicted_clv_12m"):  # JSON keeps 10 decimals
                assert float(one[col]) == pytest.approx(float(row[col]), rel=1e-8, abs=1e-9), col
        single = scorer.score(ws, "clv", [ids[3]])["scores"]
        assert len(single) == 1 and _same(single[0], batch["scores"][3])


def test_scores_of_everyone_equal_the_per_customer_path(app) -> None:  # type: ignore[no-untyped-def]
    import time

    from crmine.api._scoring import RealtimeScorer

    pool = app.state.crmine.pool
    scorer = RealtimeScorer(borrow=pool.borrow)
    with pool.borrow() as ws:
        ids = [r[0] for r in ws.duck.execute(
            "SELECT customer_id FROM core.dim_customer ORDER BY customer_id LIMIT 30").fetchall()]
    for name in ("churn", "clv"):
        with pool.borrow() as ws:
            first = scorer.score(ws, name, ids)  # per customer; starts scoring everyone
            version = first["version"]
            copy = str(ws.warehouse_path)
        deadline = time.monotonic() + 120
        while (name, version, copy) not in scorer._scores:
            assert time.monotonic() < deadline, f"{name}: everyone's scores never came"
            time.sleep(0.2)
        with pool.borrow() as ws:
            looked_up = scorer.score(ws, name, ids)
        assert looked_up["unknown"] == first["unknown"] and first["scores"], name
        assert len(scorer._scores[(name, version, copy)]) > len(ids)
        for a, b in zip(first["scores"], looked_up["scores"], strict=True):
            assert _same(a, b), (name, a, b)
    scorer.clear()
    assert not scorer._scores
