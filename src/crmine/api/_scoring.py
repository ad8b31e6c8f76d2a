"""Real-time scoring: one customer or a batch by a saved model, with its version.

A served copy never changes, so a customer's score by one model version is the same
whenever it is asked for. The first request for a model on a copy is answered from that
customer's own rows where the model has a per-customer feature path
(:mod:`crmine.api._features_one`), else from every customer's features (the declared
``ModelSpec.features``, computed once per model version and data state); and, given a way to
borrow a connection, it starts scoring every customer of the copy in the background. Once
that is done, a score is a lookup (microseconds, where a model call costs tens of
milliseconds). Next-best products come from the basket analysis's recommendations.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any

from crmine.api._views import records
from crmine.exceptions import DataError, WorkspaceError

if TYPE_CHECKING:
    import pandas as pd

    from crmine.warehouse import Workspace

__all__ = ["NEXT_BEST_PRODUCT", "RealtimeScorer", "score_models"]

NEXT_BEST_PRODUCT = "next_best_product"
SCORE_CHUNK = 100_000  # customers scored at a time when scoring everyone

log = logging.getLogger(__name__)


def score_models() -> list[str]:
    """Models that score customers: the declared ones and next-best-product."""
    from crmine.models import model_specs

    return [*sorted(model_specs()), NEXT_BEST_PRODUCT]


class RealtimeScorer:
    """Saved models and today's features, loaded once, kept while the data do not change."""

    def __init__(self, borrow: Callable[[], AbstractContextManager[Workspace]] | None = None
                 ) -> None:
        self._lock = threading.Lock()
        self._models: dict[tuple[str, str], tuple[Any, dict[str, Any]]] = {}
        self._features: dict[tuple[str, str, Any], pd.DataFrame] = {}  # (model, version, data)
        # every customer's scores per (model, version, copy), and those being computed
        self._scores: dict[tuple[str, str, str], pd.DataFrame] = {}
        self._computing: set[tuple[str, str, str]] = set()
        # lends a connection to the served copy; None: never score everyone in the background
        self.borrow = borrow

    def clear(self) -> None:
        with self._lock:
            self._models.clear()
            self._features.clear()
            self._scores.clear()
            self._computing.clear()

    def score_everyone(self, ws: Workspace, name: str, version: str | None = None
                       ) -> pd.DataFrame:
        """Every customer's scores by model ``name`` on the copy ``ws`` reads, indexed by
        customer id, kept for later requests; computed in chunks to bound memory."""
        import pandas as pd

        from crmine.models import model_specs

        model, meta = self._model(ws, name, version)
        key = (name, str(meta["version"]), str(ws.warehouse_path))
        with self._lock:
            if key in self._scores:
                return self._scores[key]
        frame = self._frame(ws, name, key[1]).reset_index(drop=True)
        parts = []
        for first in range(0, len(frame), SCORE_CHUNK):
            rows = frame.iloc[first:first + SCORE_CHUNK].reset_index(drop=True)
            parts.append(_scored(model_specs()[name].score(model, meta, rows), rows))
        table = (pd.concat(parts, ignore_index=True) if parts
                 else pd.DataFrame(columns=["customer_id"]))  # fmt: skip
        table = table.set_index(table["customer_id"].astype(str), drop=False)
        with self._lock:
            self._scores[key] = table
            self._features = {k: v for k, v in self._features.items() if k[0] != name}
        return table

    def _ready(self, ws: Workspace, name: str, version: str) -> pd.DataFrame | None:
        """Every customer's scores if computed; else starts computing them (once)."""
        key = (name, version, str(ws.warehouse_path))
        with self._lock:
            if key in self._scores:
                return self._scores[key]
            if self.borrow is None or key in self._computing:
                return None
            self._computing.add(key)
        threading.Thread(target=self._score_in_background, args=(key,), daemon=True,
                         name=f"crmine-score-{name}").start()
        return None

    def _score_in_background(self, key: tuple[str, str, str]) -> None:
        name, version, copy = key
        try:
            if self.borrow is not None:
                with self.borrow() as ws:
                    if str(ws.warehouse_path) == copy:  # else a newer copy is served
                        self.score_everyone(ws, name, version)
        except Exception as exc:  # the per-request path keeps answering
            log.warning("scoring every customer by %s in the background failed: %s", name, exc)
        finally:
            with self._lock:
                if key not in self._computing:  # cleared meanwhile: a copy no longer served
                    self._scores.pop(key, None)
                self._computing.discard(key)

    def _model(self, ws: Workspace, name: str, version: str | None
               ) -> tuple[Any, dict[str, Any]]:
        from crmine.models import load_model
        from crmine.warehouse._models import read_latest

        wanted = version or read_latest(ws.models_dir / name)
        if wanted is None:
            raise WorkspaceError(f"no saved {name} model in {ws.models_dir}; run the analysis "
                                 f"first (crmine run --only {name})")
        key = (name, wanted)
        with self._lock:
            if key not in self._models:
                self._models[key] = load_model(ws.models_dir, name, version=wanted)
            return self._models[key]

    @staticmethod
    def _features_of(ws: Workspace, name: str, ids: list[str]) -> pd.DataFrame | None:
        """The features of ``ids`` alone, from the serving copy's per-customer tables; None
        without them or for a model whose features need every customer."""
        from crmine.api._features_one import FEATURES_OF
        from crmine.api._lookup import lookup_of

        per_customer = FEATURES_OF.get(name)
        lookup = lookup_of(ws) if per_customer is not None else None
        if per_customer is None or lookup is None:
            return None
        frame = per_customer(ws, lookup, list(dict.fromkeys(ids)))
        if frame is None:
            return None
        return frame.assign(customer_id=frame["customer_id"].astype(str)).set_index(
            "customer_id", drop=False)

    def _frame(self, ws: Workspace, name: str, version: str) -> pd.DataFrame:
        from crmine.models import model_specs

        # Loads and runs change row counts or rewrite tables: either changes this.
        state = ws.duck.execute(
            "SELECT string_agg(table_oid::VARCHAR, ',' ORDER BY table_oid), "
            "sum(estimated_size) FROM duckdb_tables() WHERE schema_name IN ('core', 'marts') "
            "AND database_name = current_database()"
        ).fetchone()
        key = (name, version, state)
        with self._lock:
            cached = self._features.get(key)
        if cached is not None:
            return cached
        frame = model_specs()[name].features(ws)
        if "customer_id" not in frame.columns:  # some keep the id as the index (CLV's RFM)
            frame = frame.rename_axis("customer_id").reset_index()
        frame = frame.assign(customer_id=frame["customer_id"].astype(str)).set_index(
            "customer_id", drop=False)
        with self._lock:
            self._features = {k: v for k, v in self._features.items() if k[0] != name}
            self._features[key] = frame
        return frame

    def score(self, ws: Workspace, name: str, customer_ids: Sequence[str], *,
              version: str | None = None) -> dict[str, Any]:
        """Scores of ``customer_ids`` by model ``name``: ``{"model", "version", "scores",
        "unknown", "precomputed"}`` (ids without features are listed in ``unknown``;
        ``precomputed``: looked up among everyone's scores rather than computed now)."""
        if name == NEXT_BEST_PRODUCT:
            return self._next_best(ws, customer_ids)
        from crmine.models import model_specs

        specs = model_specs()
        if name not in specs:
            raise DataError(f"no model {name[:80]!r}; models: {', '.join(score_models())}")
        model, meta = self._model(ws, name, version)
        ids = [str(c) for c in customer_ids]
        everyone = self._ready(ws, name, str(meta["version"]))
        if everyone is not None:
            known = [c for c in ids if c in everyone.index]
            scores = everyone.loc[known].reset_index(drop=True)
        else:
            frame = self._features_of(ws, name, ids)
            if frame is None:
                frame = self._frame(ws, name, str(meta["version"]))
            known = [c for c in ids if c in frame.index]
            rows = frame.loc[known].reset_index(drop=True)
            scores = _scored(specs[name].score(model, meta, rows), rows) if known else None
        return {"model": name, "version": str(meta["version"]),
                "scores": records(scores) if scores is not None else [],
                "unknown": [c for c in ids if c not in set(known)],
                "precomputed": everyone is not None}

    def _next_best(self, ws: Workspace, customer_ids: Sequence[str]) -> dict[str, Any]:
        table = "marts.basket_recommendations"
        if not ws.has_table(table):
            raise WorkspaceError("no next-best products yet: run the basket analysis "
                                 "(crmine run --only basket)")
        ids = [str(c) for c in customer_ids]
        frame = _recommendations(ws, table, ids)
        version = str(frame["model_version"].iloc[0]) if not frame.empty else None
        scored = []
        for cid, group in frame.groupby("customer_id", sort=False):
            scored.append({"customer_id": cid, "next_best_products": records(
                group.drop(columns=["customer_id", "model_version"]))})
        found = {s["customer_id"] for s in scored}
        return {"model": NEXT_BEST_PRODUCT, "version": version, "scores": scored,
                "unknown": [c for c in ids if c not in found]}


def _scored(scores: pd.DataFrame, rows: pd.DataFrame) -> pd.DataFrame:
    """A model's scores of ``rows`` with their customer id first."""
    scores = scores.reset_index(drop=True)
    if "customer_id" in scores.columns:
        scores = scores.drop(columns="customer_id")
    scores.insert(0, "customer_id", rows["customer_id"].astype(str).to_numpy())
    return scores


def _recommendations(ws: Workspace, table: str, ids: list[str]) -> pd.DataFrame:
    """The next-best products of ``ids``, by customer and rank: from the serving copy's
    per-customer table when it has one (no scan of every recommendation)."""
    from crmine.api._lookup import lookup_of

    columns = ["customer_id", "rank", "product_id", "product_name", "score", "model_version"]
    lookup = lookup_of(ws)
    if lookup is None or not lookup.has(table):
        return ws.duck.execute(
            f"SELECT CAST(customer_id AS VARCHAR) AS customer_id, rank, product_id, "
            f"product_name, score, model_version FROM {table} WHERE CAST(customer_id AS "
            "VARCHAR) IN (SELECT unnest(?::VARCHAR[])) ORDER BY customer_id, rank", [ids]).df()
    import pandas as pd
    import pyarrow as pa

    wanted = sorted(set(ids))
    data = pa.concat_tables([lookup.slice(table, c) for c in wanted]).select(columns)
    frame = data.to_pandas().assign(customer_id=lambda f: f["customer_id"].astype(str))
    order = pd.Series(range(len(wanted)), index=wanted)
    return frame.assign(_c=frame["customer_id"].map(order)).sort_values(
        ["_c", "rank"], kind="stable").drop(columns="_c").reset_index(drop=True)
