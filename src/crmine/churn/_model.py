"""``ChurnModel``: one estimator for churn risk — CART rules, a logistic scorecard or calibrated
gradient boosting, or the best of them chosen by stratified cross-validation."""

from __future__ import annotations

import itertools
import time
import warnings
from collections.abc import Callable, Iterator
from typing import Any, Literal

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator
from sklearn.calibration import CalibratedClassifierCV
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.frozen import FrozenEstimator
from sklearn.impute import MissingIndicator, SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score
from sklearn.model_selection import StratifiedKFold, train_test_split
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import KBinsDiscretizer
from sklearn.tree import DecisionTreeClassifier
from threadpoolctl import threadpool_limits

from crmine._format import fmt_number
from crmine._progress import check_cancelled, track
from crmine.churn._drivers import (
    cross_fitted_drivers,
    customer_reasons,
    profile_comparison,
    reference_values,
)
from crmine.churn._evaluate import (
    ChurnEvaluation,
    best_f1_threshold,
    churn_verdict,
    evaluate_churn,
)
from crmine.churn._prep import (
    CodeEncoder,
    ColumnPlan,
    LevelEncoder,
    drop_leaks,
    encode_target,
    plan_columns,
)
from crmine.churn._rules import SEP, FeatureMap, tree_nodes, tree_rules
from crmine.contract import Verdict
from crmine.exceptions import ConfigError, DataError, MissingColumnError, NotFittedError

__all__ = ["METHODS", "ChurnModel"]

Method = Literal["auto", "tree", "logistic", "boosting"]
METHODS: tuple[str, ...] = ("tree", "logistic", "boosting")


def _combine(feature: str, category: object) -> str:
    return f"{feature}{SEP}{category}"


def _low_cardinality(Xt: pd.DataFrame, numeric: tuple[str, ...], n_bins: int) -> list[str]:
    return [c for c in numeric if Xt[c].nunique(dropna=True) <= n_bins]


def _openmp_threads(n_rows: int, n_threads: int | None) -> threadpool_limits:
    """Limit OpenMP threads: always one for small data, ``n_threads`` otherwise.

    On a busy machine, OpenMP's spinning worker threads make histogram boosting up to 15×
    slower (measured: 16 s vs 1 s on 3,000 customers, 8.7 s vs 3.6 s scoring 200,000, with
    the load average above the core count); the parallel speed-up only pays off on large
    tables on an otherwise idle machine.
    """
    return threadpool_limits(limits=1 if n_rows < 50_000 else n_threads, user_api="openmp")


class _Boosting:
    """Histogram gradient boosting with probabilities calibrated on a held-out slice.

    Boosted trees rank well but their raw scores drift from observed churn rates, so a
    slice of the training rows (``calibration_fraction``) is kept out of the fit and used to
    map scores to probabilities (Platt's sigmoid on small slices, isotonic on large ones,
    as Niculescu-Mizil & Caruana 2005 recommend).
    """

    def __init__(self, pipeline: Pipeline, *, calibration_fraction: float, random_state: int,
                 n_threads: int | None = 1) -> None:  # fmt: skip
        self.pipeline = pipeline
        self.calibration_fraction = calibration_fraction
        self.random_state = random_state
        self.n_threads = n_threads

    def fit(self, X: pd.DataFrame, y: np.ndarray) -> _Boosting:
        X_fit, X_cal, y_fit, y_cal = train_test_split(
            X, y, test_size=self.calibration_fraction, stratify=y, random_state=self.random_state
        )
        with _openmp_threads(len(X), self.n_threads):
            self.pipeline.fit(X_fit, y_fit)
            method = "isotonic" if len(y_cal) >= 5_000 else "sigmoid"
            self.calibrated_ = CalibratedClassifierCV(FrozenEstimator(self.pipeline),
                                                      method=method)  # fmt: skip
            self.calibrated_.fit(X_cal, y_cal)
        return self

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        with _openmp_threads(len(X), getattr(self, "n_threads", 1)):
            return np.asarray(self.calibrated_.predict_proba(X))


RiskFn = Callable[[pd.DataFrame], np.ndarray]


class _GroupFolds:
    """K folds that keep each group (customer) in one fold, stratified by whether the group
    ever churned: ``StratifiedKFold`` over the groups, mapped back to their rows.

    scikit-learn's ``StratifiedGroupKFold`` balances the folds greedily group by group in
    Python (1.8 s of a 10,000-customer demo's model comparison); stratifying the groups on
    their own label balances churners as well for customers seen a few times each.
    """

    def __init__(self, n_splits: int, *, random_state: int) -> None:
        self.n_splits = n_splits
        self.random_state = random_state

    def split(
        self, X: pd.DataFrame, y: np.ndarray, groups: np.ndarray | pd.Series
    ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        codes, uniques = pd.factorize(pd.Series(np.asarray(groups)))
        label = np.zeros(len(uniques), dtype=int)
        np.maximum.at(label, codes, np.asarray(y, dtype=int))
        k = min(self.n_splits, int(np.bincount(label).min())) if label.min() != label.max() \
            else self.n_splits
        splitter = StratifiedKFold(max(2, k), shuffle=True, random_state=self.random_state)
        for _, test_groups in splitter.split(np.zeros(len(uniques)), label):
            in_test = np.zeros(len(uniques), dtype=bool)
            in_test[test_groups] = True
            mask = in_test[codes]
            yield np.flatnonzero(~mask), np.flatnonzero(mask)


def _risk_of(estimator: Pipeline | _Boosting) -> RiskFn:
    def risk(frame: pd.DataFrame) -> np.ndarray:
        return np.asarray(estimator.predict_proba(frame)[:, 1], dtype=float)

    return risk


class ChurnModel(BaseEstimator):
    """Probability that each customer churns, with the rules, drivers and comparison behind it.

    Parameters
    ----------
    method : {"auto", "tree", "logistic", "boosting"}
        ``"tree"``: a CART decision tree whose leaves read as rules; ``"logistic"``: a
        scorecard (numbers binned at quantiles, categories one-hot, odds ratios per bin/level);
        ``"boosting"``: histogram gradient boosting with calibrated probabilities; ``"auto"``:
        all three compared by stratified ``cv``-fold cross-validation (ROC AUC), the best kept.
    cv : int
        Folds for the comparison and for the held-out evaluation (``evaluation_``); 0 skips
        both when a single method is given.
    max_depth, min_samples_leaf : int
        Size of the CART tree (``min_samples_leaf`` default: 1% of customers, at least 20),
        kept small so the rules stay readable.
    n_bins, C : int, float
        Quantile bins per number and inverse L2 strength of the scorecard.
    learning_rate, max_leaf_nodes : float, int
        Gradient boosting settings (early stopping chooses the number of trees);
        ``learning_rate`` defaults to 0.05 below 50,000 customers and 0.3 above: scoring cost
        grows with the number of trees, and on 100,000 simulated customers 0.3 needs a third
        of the trees of 0.1 for 0.003 less held-out AUC (1M customers scored in ~5 s CPU).
    n_threads : int or None
        OpenMP threads for boosting on large data (None: all cores). One by default: on a
        shared machine spinning threads cost more than they give.
    selection_rows : int
        Above this many customers, the comparison runs on a stratified sample of this size and
        only the winner is fitted on everyone (keeps ``auto`` fast on millions of rows).
    explain_rows : int
        At most this many held-out customers for the permutation drivers.
    leakage_check : bool
        Exclude (with a :class:`~crmine.churn.LeakageWarning`) columns that alone give the
        label away.
    id_columns, exclude : list of str, optional
        Columns never used as features (ids are also detected automatically).
    threshold : float, optional
        Risk at which a customer counts as a predicted churner; default the best-F1 threshold
        on held-out predictions.
    random_state : int

    Attributes
    ----------
    method_ : str
        The method used (the winner under ``"auto"``).
    comparison_ : DataFrame
        ``method``, ``roc_auc``, ``roc_auc_std``, ``pr_auc``, ``brier``, ``seconds``,
        ``selected`` — one row per method compared.
    evaluation_ : ChurnEvaluation or None
        Held-out (out-of-fold) evaluation of the chosen method.
    rules_ : DataFrame
        Plain-language rules of a CART tree (the model itself under ``"tree"``, otherwise an
        interpretable companion tree fitted on the same data).
    tree_nodes_ : DataFrame
        The tree's nodes, for diagrams.
    drivers_ : DataFrame
        ``feature``, ``importance``, ``direction`` … strongest first (user's column names).
    profile_ : DataFrame
        Churned vs retained profile per feature.
    scorecard_ : DataFrame or None
        Odds ratio per bin/level when ``method_ == "logistic"``.
    plan_ : ColumnPlan
        Which columns are features and why the others are not; ``notes_`` says it in words.

    References
    ----------
    Breiman, L. et al. (1984). *Classification and Regression Trees*. Friedman, J. (2001).
    Greedy function approximation: a gradient boosting machine. *Ann. Statist.* 29(5).
    Siddiqi, N. (2006). *Credit Risk Scorecards*. Wiley. Neslin, S. et al. (2006). Defection
    detection. *J. Marketing Research* 43(2), 204–211.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> X = pd.DataFrame({"tenure_months": rng.integers(1, 72, 600),
    ...                   "contract": rng.choice(["month-to-month", "two_year"], 600)})
    >>> y = (rng.random(600) < np.where(X["contract"] == "month-to-month", 0.45, 0.05))
    >>> model = ChurnModel(method="tree", cv=0).fit(X, y.astype(int))
    >>> model.predict_proba(X).shape
    (600, 2)
    >>> model.drivers_.loc[0, ["feature", "riskiest_level"]].tolist()
    ['contract', 'month-to-month']
    """

    def __init__(
        self,
        *,
        method: Method = "auto",
        cv: int = 5,
        max_depth: int = 4,
        min_samples_leaf: int | None = None,
        n_bins: int = 8,
        C: float = 0.5,
        learning_rate: float | None = None,
        max_leaf_nodes: int = 8,
        selection_rows: int = 50_000,
        explain_rows: int = 5_000,
        leakage_check: bool = True,
        id_columns: list[str] | None = None,
        exclude: list[str] | None = None,
        threshold: float | None = None,
        n_threads: int | None = 1,
        random_state: int = 0,
    ) -> None:
        self.method = method
        self.cv = cv
        self.max_depth = max_depth
        self.min_samples_leaf = min_samples_leaf
        self.n_bins = n_bins
        self.C = C
        self.learning_rate = learning_rate
        self.max_leaf_nodes = max_leaf_nodes
        self.selection_rows = selection_rows
        self.explain_rows = explain_rows
        self.leakage_check = leakage_check
        self.id_columns = id_columns
        self.exclude = exclude
        self.threshold = threshold
        self.n_threads = n_threads
        self.random_state = random_state

    # -- building blocks ----------------------------------------------------------------------
    def _tree_prep(self, plan: ColumnPlan) -> ColumnTransformer:
        return ColumnTransformer(
            [("num", SimpleImputer(strategy="median", add_indicator=True,
                                   keep_empty_features=True), list(plan.numeric)),
             ("cat", LevelEncoder(max_categories=30, feature_name_combiner=_combine),
              list(plan.categorical))],
            verbose_feature_names_out=False,
        )  # fmt: skip

    def _build(self, method: str, plan: ColumnPlan, Xt: pd.DataFrame, n: int) -> Any:
        rs = self.random_state
        if method == "tree":
            leaf = self.min_samples_leaf or max(20, int(0.01 * n))
            return Pipeline([("prep", self._tree_prep(plan)),
                             ("tree", DecisionTreeClassifier(max_depth=self.max_depth,
                                                             min_samples_leaf=leaf,
                                                             random_state=rs))])  # fmt: skip
        if method == "logistic":
            low = _low_cardinality(Xt, plan.numeric, self.n_bins)
            binned = [c for c in plan.numeric if c not in low]
            parts: list[tuple[str, Any, list[str]]] = []
            if binned:
                # Quantile bins make the scorecard non-linear in each number (tenure's effect
                # flattens after two years) while every bin keeps one readable odds ratio.
                parts.append(("bin", make_pipeline(
                    SimpleImputer(strategy="median", keep_empty_features=True),
                    KBinsDiscretizer(n_bins=self.n_bins, encode="onehot", strategy="quantile",
                                     quantile_method="averaged_inverted_cdf",
                                     subsample=200_000, random_state=rs)), binned))  # fmt: skip
                with_missing = [c for c in binned if Xt[c].isna().any()]
                if with_missing:
                    parts.append(("missing", MissingIndicator(features="all"), with_missing))
            cats = list(plan.categorical) + low
            if cats:
                parts.append(("cat", LevelEncoder(min_frequency=max(5, int(0.001 * n)),
                                                  max_categories=50, sparse_output=True),
                              cats))  # fmt: skip
            return Pipeline([("prep", ColumnTransformer(parts)),
                             ("logit", LogisticRegression(C=self.C, max_iter=2_000))])  # fmt: skip
        if method == "boosting":
            prep = ColumnTransformer(
                [("cat", CodeEncoder(max_levels=250), list(plan.categorical)),
                 ("num", "passthrough", list(plan.numeric))])  # fmt: skip
            mask = [True] * len(plan.categorical) + [False] * len(plan.numeric)
            # Decided on the whole table, so the comparison on a sample tests the same model
            # that is then fitted on everyone.
            total = getattr(self, "n_customers_", n)
            rate = self.learning_rate or (0.05 if total < 50_000 else 0.3)
            hgb = HistGradientBoostingClassifier(
                learning_rate=rate, max_leaf_nodes=self.max_leaf_nodes,
                min_samples_leaf=max(20, min(100, n // 200)), l2_regularization=1.0,
                categorical_features=mask, early_stopping=True, validation_fraction=0.15,
                n_iter_no_change=15, max_iter=500, random_state=rs,
            )  # fmt: skip
            return _Boosting(Pipeline([("prep", prep), ("hgb", hgb)]), calibration_fraction=0.15,
                             random_state=rs, n_threads=self.n_threads)  # fmt: skip
        raise ConfigError(f"method must be one of auto, {', '.join(METHODS)}; got {method!r}")

    def _fit_one(self, method: str, plan: ColumnPlan, Xt: pd.DataFrame, y: np.ndarray) -> Any:
        est = self._build(method, plan, Xt, len(Xt))
        with warnings.catch_warnings():
            # Bins collapse on heavily tied numbers (sklearn then merges them and says so for
            # every fit); the scorecard is still right. Any other warning is passed on.
            warnings.filterwarnings("ignore", message=".*[Bb]ins whose width are too small.*")
            est.fit(Xt, y)
        return est

    def _cross_validate(
        self, methods: tuple[str, ...], plan: ColumnPlan, Xt: pd.DataFrame, y: np.ndarray,
        groups: np.ndarray | None = None,
    ) -> tuple[pd.DataFrame, dict[str, np.ndarray], dict[str, list[tuple[Any, np.ndarray]]]]:
        if groups is None:
            splitter: Any = StratifiedKFold(self.cv, shuffle=True, random_state=self.random_state)
        else:
            # One customer at several cut-offs stays in one fold: otherwise the model is
            # tested on a customer it has already seen, and the comparison flatters it.
            splitter = _GroupFolds(self.cv, random_state=self.random_state)
        folds = list(splitter.split(Xt, y, groups))
        rows, oof = [], {}
        fitted: dict[str, list[tuple[Any, np.ndarray]]] = {}
        for method in track(methods, "comparing churn models"):
            pred = np.zeros(len(y))
            aucs = []
            start = time.perf_counter()
            fitted[method] = []
            for f, (train, test) in enumerate(folds):
                check_cancelled(f"churn CV: {method} (fold {f + 1} of {len(folds)})")
                est = self._fit_one(method, plan, Xt.iloc[train], y[train])
                pred[test] = est.predict_proba(Xt.iloc[test])[:, 1]
                aucs.append(roc_auc_score(y[test], pred[test]))
                fitted[method].append((est, test))
            oof[method] = pred
            rows.append({
                "method": method, "roc_auc": float(np.mean(aucs)),
                "roc_auc_std": float(np.std(aucs)), "pr_auc": average_precision_score(y, pred),
                "brier": brier_score_loss(y, pred), "seconds": time.perf_counter() - start,
            })  # fmt: skip
        return pd.DataFrame(rows), oof, fitted

    # -- the steps of fit ---------------------------------------------------------------------
    def _target(
        self, X: pd.DataFrame, y: pd.Series | np.ndarray | list[object] | str
    ) -> tuple[pd.DataFrame, np.ndarray, str]:
        """``X`` without the label column, the label as 0/1, and the label's name."""
        if not isinstance(X, pd.DataFrame):
            raise DataError("X must be a pandas DataFrame with one row per customer")
        if isinstance(y, str):
            if y not in X.columns:
                raise MissingColumnError(
                    f"target column {y!r} not found; columns: {list(X.columns)}"
                )
            yv = encode_target(X[y], y)
            return X.drop(columns=[y]).reset_index(drop=True), yv, y
        target = str(getattr(y, "name", None) or "target")
        yv = encode_target(y, target)
        if len(yv) != len(X):
            raise DataError(f"X has {len(X)} rows but y has {len(yv)} labels")
        return X.reset_index(drop=True), yv, target

    def _prepare(self, X: pd.DataFrame, yv: np.ndarray, target: str) -> pd.DataFrame:
        """Plan the columns (ids, text numbers, leakage) and record what the data are."""
        if self.method != "auto" and self.method not in METHODS:
            raise ConfigError(
                f"method must be one of auto, {', '.join(METHODS)}; got {self.method!r}"
            )
        self.n_customers_ = len(X)
        plan = plan_columns(X, id_columns=self.id_columns, exclude=self.exclude)
        Xt = plan.transform(X)
        if self.leakage_check:
            plan = drop_leaks(Xt, yv, plan, target=target)
            Xt = Xt[list(plan.features)]
        self.plan_ = plan
        self.notes_ = list(plan.notes)
        self.target_ = target
        self.churn_rate_ = float(yv.mean())
        self.feature_names_in_ = np.asarray(X.columns, dtype=object)
        self.integer_columns_ = frozenset(
            c for c in plan.numeric
            if Xt[c].dropna().size and bool(np.all(np.mod(Xt[c].dropna(), 1) == 0))
        )  # fmt: skip
        return Xt

    def _holdout_rows(
        self, holdout: list[tuple[Any, Any]] | None, groups: np.ndarray | None, n: int
    ) -> tuple[np.ndarray, list[tuple[np.ndarray, np.ndarray]]]:
        """The rows the methods are compared on (in no test set) and the (fit rows, test rows)
        of each held-out split: a customer with a test row is kept out of that split's
        fitting rows entirely (no customer on both sides)."""
        if holdout is None:
            return np.arange(n), []
        splits = []
        in_test = np.zeros(n, dtype=bool)
        # Integer codes: np.isin on object arrays of ids cost 2 s on 18,000 rows.
        codes = None if groups is None else pd.factorize(pd.Series(groups))[0]
        for fit_on, test in holdout:
            fit_mask, test_mask = np.asarray(fit_on, dtype=bool), np.asarray(test, dtype=bool)
            for what, arr in (("fit rows", fit_mask), ("test rows", test_mask)):
                if arr.shape != (n,):
                    raise DataError(f"holdout {what} have {arr.size} values but X has {n} rows")
            keep = fit_mask & ~test_mask
            if codes is not None:
                tested = np.zeros(int(codes.max()) + 1, dtype=bool)
                tested[codes[test_mask]] = True
                keep &= ~tested[codes]
            splits.append((np.flatnonzero(keep), np.flatnonzero(test_mask)))
            in_test |= test_mask
        return np.flatnonzero(~in_test), splits

    def _selection_rows(self, yv: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """The rows the methods are compared on: a stratified sample when the data are large."""
        if len(rows) <= self.selection_rows:
            return rows
        sel, _ = train_test_split(rows, train_size=self.selection_rows, stratify=yv[rows],
                                  random_state=self.random_state)  # fmt: skip
        self.notes_.append(f"methods compared on a stratified sample of "
                           f"{self.selection_rows:,} of {len(rows):,} customers")  # fmt: skip
        return np.sort(sel)

    def _check_churners(self, ys: np.ndarray, gs: np.ndarray | None) -> None:
        """A DataError when too few rows churned for every fold to hold a churner (sklearn
        would fail on the fold without one)."""
        if gs is None:
            churners, need, what = int(ys.sum()), self.cv, "rows"
        else:
            churned = pd.Series(np.asarray(ys, dtype=int)).groupby(
                pd.factorize(pd.Series(gs))[0]).max()  # fmt: skip
            churners, need, what = int(churned.sum()), 2, "customers"
        stayed = (len(ys) - int(ys.sum())) if gs is None else int((churned == 0).sum())
        if churners < need or stayed < need:
            few, label = (churners, "churners") if churners < need else (stayed, "retained")
            raise DataError(
                f"too few {label}: {few:,} {what} among the {len(ys):,} rows the churn methods "
                f"are compared on; need at least {need:,} so that every cross-validation fold "
                "holds one; try a longer churn window (setting churn_window_days, "
                "`--window-days`) or more history (earlier orders) for more cut-offs"
            )

    def _select(
        self, Xs: pd.DataFrame, ys: np.ndarray, gs: np.ndarray | None
    ) -> tuple[str, dict[str, np.ndarray], dict[str, list[tuple[Any, np.ndarray]]]]:
        """Compare the methods by cross-validation (``comparison_``) and pick the best."""
        methods = METHODS if self.method == "auto" else (self.method,)
        if self.cv and self.cv >= 2:
            self._check_churners(ys, gs)
            comparison, oof, fold_models = self._cross_validate(methods, self.plan_, Xs, ys, gs)
            best = str(comparison.loc[comparison["roc_auc"].idxmax(), "method"])
        else:
            best, oof, fold_models = str(self.method), {}, {}
            comparison = pd.DataFrame([{"method": best, "roc_auc": np.nan, "roc_auc_std": np.nan,
                                        "pr_auc": np.nan, "brier": np.nan, "seconds": np.nan}])
        comparison["selected"] = comparison["method"] == best
        self.comparison_ = comparison
        self.method_ = best
        return best, oof, fold_models

    def _evaluate(
        self, Xt: pd.DataFrame, yv: np.ndarray,
        splits: list[tuple[np.ndarray, np.ndarray]], groups: np.ndarray | None,
        sel: np.ndarray, oof: dict[str, np.ndarray],
        fold_models: dict[str, list[tuple[Any, np.ndarray]]], holdout_name: str,
    ) -> list[tuple[RiskFn, pd.DataFrame, np.ndarray]]:
        """Held-out evaluation of the selected method (``evaluation_``, ``threshold_``,
        ``verdict_``) and the (model, held-out rows) pairs the drivers are measured on.

        With holdout splits: the winner fitted on each split's fitting rows, tested on its
        test rows, the predictions pooled. Else with cross-validation: its out-of-fold
        predictions. Else no evaluation, and the drivers come from a refit on 75% of the
        rows, shuffled on the other 25%.
        """
        best, plan = self.method_, self.plan_
        rng = np.random.default_rng(self.random_state)
        self.evaluation_: ChurnEvaluation | None = None
        self.evaluated_on_ = ""
        risk: np.ndarray | None = None
        y_eval = yv
        groups_eval = None
        tested = np.concatenate([t for _, t in splits]) if splits else np.array([], dtype=int)
        if len(tested) and len(np.unique(yv[tested])) == 2:
            risks, pieces = [], []
            per_split = max(50, self.explain_rows // len(splits))
            for fit_rows, test_rows in splits:
                explainer = _risk_of(self._fit_one(best, plan, Xt.iloc[fit_rows],
                                                   yv[fit_rows]))  # fmt: skip
                X_test = Xt.iloc[test_rows].reset_index(drop=True)
                risks.append(explainer(X_test))
                take = np.sort(rng.permutation(len(test_rows))[:per_split])
                pieces.append((explainer, X_test.iloc[take].reset_index(drop=True),
                               yv[test_rows][take]))  # fmt: skip
            risk, y_eval = np.concatenate(risks), yv[tested]
            groups_eval = None if groups is None else groups[tested]
            self.evaluated_on_ = holdout_name or f"{len(tested):,} held-out rows"
        elif best in fold_models:
            risk, y_eval = oof[best], yv[sel]
            groups_eval = self._groups_sel
            self.evaluated_on_ = (f"out-of-fold predictions of {self.cv}-fold cross-validation "
                                  f"({len(sel):,} rows)")  # fmt: skip
            Xs = Xt.iloc[sel].reset_index(drop=True)
            per_fold = max(50, self.explain_rows // len(fold_models[best]))
            pieces = []
            for est, test in fold_models[best]:
                take = np.sort(rng.permutation(test)[:per_fold])
                pieces.append((_risk_of(est), Xs.iloc[take].reset_index(drop=True),
                               y_eval[take]))  # fmt: skip
        else:
            Xs, ys = Xt.iloc[sel].reset_index(drop=True), yv[sel]
            fit_idx, held = train_test_split(np.arange(len(Xs)), test_size=0.25, stratify=ys,
                                             random_state=self.random_state)  # fmt: skip
            held = np.sort(rng.permutation(held)[: self.explain_rows])
            explainer = self._fit_one(best, plan, Xs.iloc[fit_idx], ys[fit_idx])
            pieces = [(_risk_of(explainer), Xs.iloc[held].reset_index(drop=True), ys[held])]
        # The decision threshold comes from the fitting rows (out-of-fold predictions of the
        # comparison when there are some), never from the held-out rows it is judged on.
        if self.threshold is not None:
            self.threshold_ = float(self.threshold)
        elif best in oof and len(np.unique(yv[sel])) == 2:
            self.threshold_ = best_f1_threshold(yv[sel], oof[best])
        else:
            self.threshold_ = best_f1_threshold(yv, self._risk_t(Xt))
        self.verdict_: Verdict | None = None
        if risk is not None:
            self.evaluation_ = evaluate_churn(y_eval, risk, threshold=self.threshold_)
            self.verdict_ = churn_verdict(
                y_eval, risk, evaluated_on=self.evaluated_on_, groups=groups_eval
            )
        return pieces

    def _interpret(
        self, Xt: pd.DataFrame, yv: np.ndarray, sel: np.ndarray,
        pieces: list[tuple[RiskFn, pd.DataFrame, np.ndarray]],
    ) -> None:
        """The readable parts: rules of a tree, the scorecard, drivers, reference, profile."""
        plan = self.plan_
        # The readable companion: the model itself, or a small tree on the selection sample.
        tree = (self.estimator_ if self.method_ == "tree"
                else self._fit_one("tree", plan, Xt.iloc[sel], yv[sel]))  # fmt: skip
        fmap = FeatureMap.from_names(
            list(tree.named_steps["prep"].get_feature_names_out()), plan.numeric,
            self.integer_columns_,
        )
        self.tree_ = tree
        self.rules_ = tree_rules(tree.named_steps["tree"], fmap)
        self.tree_nodes_ = tree_nodes(tree.named_steps["tree"], fmap)
        self.scorecard_ = self._scorecard(plan) if self.method_ == "logistic" else None
        # Drivers on held-out customers: in-sample permutation importance credits whatever
        # the model overfitted (a region with a handful of churners).
        self.drivers_ = cross_fitted_drivers(pieces, plan, random_state=self.random_state)
        self.reference_ = reference_values(Xt, yv, plan)
        self.profile_ = profile_comparison(Xt, yv, plan)

    # -- public API ---------------------------------------------------------------------------
    def fit(
        self,
        X: pd.DataFrame,
        y: pd.Series | np.ndarray | list[object] | str,
        *,
        cutoff: object = None,
        window_days: int | None = None,
        groups: pd.Series | np.ndarray | list[object] | None = None,
        holdout: list[tuple[Any, Any]] | None = None,
        holdout_name: str = "",
    ) -> ChurnModel:
        """Fit on one row per customer (and cut-off).

        Parameters
        ----------
        X : DataFrame
            Customer attributes known at the cut-off (ids, text numbers and missing values are
            handled).
        y : array-like or str
            Churn flag per row, or the name of the label column in ``X``.
        cutoff, window_days : optional
            The labelling cut-off and window (recorded with the results; see
            :func:`~crmine.churn.subscription_labels`).
        groups : array-like, optional
            Customer id per row when a customer appears more than once (snapshots at several
            cut-offs): cross-validation then keeps each customer's rows in one fold.
        holdout : list of (fit rows, test rows) boolean masks, optional
            Held-out splits, e.g. out of time: test on the customers of a late cut-off, fit on
            the earlier cut-offs. Each split's model is fitted without any row of its test
            customers (``groups``); ``evaluation_`` and ``verdict_`` judge the selected
            method on the pooled test rows. The methods are compared on the rows in no test
            set, and the model kept is refitted on all rows.
        holdout_name : str
            How the holdout is described in the verdict.
        """
        X, yv, target = self._target(X, y)
        Xt = self._prepare(X, yv, target)
        self.cutoff_ = cutoff
        self.window_days_ = window_days
        gs = None if groups is None else np.asarray(groups)
        if gs is not None and len(gs) != len(Xt):
            raise DataError(f"groups has {len(gs)} values but X has {len(Xt)} rows")
        compare_rows, splits = self._holdout_rows(holdout, gs, len(Xt))
        sel = self._selection_rows(yv, compare_rows)
        self._groups_sel = None if gs is None else gs[sel]
        best, oof, fold_models = self._select(Xt.iloc[sel].reset_index(drop=True), yv[sel],
                                              self._groups_sel)  # fmt: skip
        self.estimator_ = self._fit_one(best, self.plan_, Xt, yv)
        pieces = self._evaluate(Xt, yv, splits, gs, sel, oof, fold_models,
                                holdout_name)  # fmt: skip
        del self._groups_sel
        self._interpret(Xt, yv, sel, pieces)
        return self

    def _check(self) -> None:
        if not hasattr(self, "estimator_"):
            raise NotFittedError(
                "this ChurnModel is not fitted yet; call fit(X, y) first (or load a saved one "
                "with crmine.churn.load_churn_model)"
            )

    def _risk_t(self, Xt: pd.DataFrame) -> np.ndarray:
        return np.asarray(self.estimator_.predict_proba(Xt)[:, 1], dtype=float)

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        """Probabilities of staying and of churning within the window: shape ``(n, 2)``,
        column 1 is the churn risk (scikit-learn's convention; ``classes_`` is ``[0, 1]``)."""
        risk = self.predict_risk(X)
        return np.column_stack([1.0 - risk, risk])

    @property
    def classes_(self) -> np.ndarray:
        return np.array([0, 1])

    def predict_risk(self, X: pd.DataFrame) -> np.ndarray:
        """Probability of churn within the window, one value per row of ``X`` (the second
        column of :meth:`predict_proba`)."""
        self._check()
        return self._risk_t(self.plan_.transform(X))

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        """1 for customers whose risk reaches ``threshold_``, else 0."""
        return (self.predict_risk(X) >= self.threshold_).astype(int)

    def explain(self, X: pd.DataFrame, *, top: int = 3, n_drivers: int = 8) -> pd.DataFrame:
        """Per-customer risk and top reasons (see :func:`~crmine.churn.customer_reasons`)."""
        self._check()
        Xt = self.plan_.transform(X)
        features = [f for f in self.drivers_["feature"].head(n_drivers)
                    if self.drivers_.set_index("feature").loc[f, "importance"] > 0]  # fmt: skip
        features = features or list(self.drivers_["feature"].head(1))
        out = customer_reasons(self._risk_t, Xt, self.reference_, features, top=top)
        out.index = X.index
        return out

    def _scorecard(self, plan: ColumnPlan) -> pd.DataFrame:
        prep = self.estimator_.named_steps["prep"]
        coef = self.estimator_.named_steps["logit"].coef_[0]
        names: list[tuple[str, str]] = []
        for name, trans, cols in prep.transformers_:
            if name == "bin":
                kb = trans.named_steps["kbinsdiscretizer"]
                for col, edges in zip(cols, kb.bin_edges_, strict=True):
                    for lo, hi in itertools.pairwise(edges):
                        lo_, hi_ = fmt_number(lo, digits=4), fmt_number(hi, digits=4)
                        names.append((col, f"[{lo_}, {hi_})"))
            elif name == "missing":
                names.extend((col, "missing") for col in cols)
            elif name == "cat":
                for col, levels in zip(cols, trans.categories_, strict=True):
                    infrequent = trans.infrequent_categories_[cols.index(col)]
                    inf = set() if infrequent is None else {str(v) for v in infrequent}
                    names.extend((col, str(lv)) for lv in levels if str(lv) not in inf)
                    if inf:
                        names.append((col, "(infrequent)"))
        if len(names) != len(coef):  # defensive: fall back to sklearn's own names
            names = [(n, "") for n in prep.get_feature_names_out()]
        frame = pd.DataFrame(names, columns=["feature", "level"])
        frame["coefficient"] = coef
        frame["odds_ratio"] = np.exp(coef)
        # Points like a credit scorecard: 20 points double the odds of churning.
        frame["points"] = np.round(coef * 20 / np.log(2)).astype(int)
        return frame

    def summary(self) -> dict[str, Any]:
        """Small JSON-able summary: method, cut-off/window, held-out metrics, top drivers."""
        self._check()
        out: dict[str, Any] = {
            "method": self.method_, "customers": self.n_customers_,
            "churn_rate": self.churn_rate_, "cutoff": None if self.cutoff_ is None
            else str(self.cutoff_), "window_days": self.window_days_,
            "features": list(self.plan_.features), "excluded": dict(self.plan_.excluded),
            "threshold": self.threshold_,
        }  # fmt: skip
        if self.evaluation_ is not None:
            out["metrics"] = dict(zip(self.evaluation_.metrics["metric"],
                                      self.evaluation_.metrics["value"], strict=True))  # fmt: skip
        out["comparison"] = self.comparison_.to_dict(orient="records")
        out["top_drivers"] = list(self.drivers_["feature"].head(5))
        out["top_rules"] = list(self.rules_["rule"].head(3))
        out["evaluated_on"] = getattr(self, "evaluated_on_", "")
        verdict = getattr(self, "verdict_", None)
        out["verdict"] = None if verdict is None else verdict.to_dict()
        return out

