"""Clustering customers on any feature table: ``CustomerSegmenter``.

The estimator does for the user what a careful analyst would do by hand: drop identifiers,
constants and text, impute, log-transform skewed amounts, standardise, choose the number of
clusters from several criteria over a range (shown in ``k_scores_``), and screen out columns
that carry no cluster structure so that they cannot steer the choice of k. Model selection runs
on a sample; every customer is then assigned, so a million customers take seconds.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator
from sklearn.cluster import HDBSCAN, AgglomerativeClustering, KMeans
from sklearn.metrics import (
    adjusted_rand_score,
    calinski_harabasz_score,
    davies_bouldin_score,
    silhouette_score,
)
from sklearn.mixture import GaussianMixture
from sklearn.neighbors import KNeighborsClassifier
from threadpoolctl import threadpool_limits

from crmine._progress import track
from crmine.exceptions import ConfigError, DataError, NotFittedError, SchemaError

__all__ = ["METHODS", "CustomerSegmenter"]

METHODS = ("auto", "kmeans", "gmm", "ward", "hdbscan")
CRITERIA = ("vote", "silhouette", "calinski_harabasz", "davies_bouldin", "bic")
_VOTERS = ("silhouette", "calinski_harabasz", "davies_bouldin")
Assign = Callable[[np.ndarray], np.ndarray]

# Ward and HDBSCAN are quadratic in memory/time: they are fitted on at most this many rows and
# the rest are assigned to the nearest fitted cluster.
_QUADRATIC_MAX = 8_000
_SILHOUETTE_MAX = 4_000


@dataclass(slots=True)
class _Prep:
    """How each raw column becomes a standardised clustering input."""

    columns: list[str] = field(default_factory=list)
    median: dict[str, float] = field(default_factory=dict)
    log: dict[str, str] = field(default_factory=dict)  # column -> "log1p" | "signed"
    mean: dict[str, float] = field(default_factory=dict)
    std: dict[str, float] = field(default_factory=dict)

    def matrix(self, X: pd.DataFrame, columns: Sequence[str] | None = None) -> np.ndarray:
        cols = list(columns if columns is not None else self.columns)
        out = np.empty((len(X), len(cols)), dtype=np.float64)
        for j, c in enumerate(cols):
            v = pd.to_numeric(X[c], errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
            v = np.where(np.isfinite(v), v, self.median[c])  # NaN and ±inf: the median
            kind = self.log.get(c)
            if kind == "log1p":
                v = np.log1p(np.clip(v, 0, None))
            elif kind == "signed":
                v = np.sign(v) * np.log1p(np.abs(v))
            out[:, j] = (v - self.mean[c]) / self.std[c]
        return out


def _numeric_view(X: pd.DataFrame, id_column: str | None,
                  features: Sequence[str] | None) -> tuple[list[str], dict[str, str]]:
    """Columns usable as numbers, and why each other column was left out."""
    dropped: dict[str, str] = {}
    usable: list[str] = []
    names = list(features) if features is not None else list(X.columns)
    if features is not None:
        missing = [c for c in names if c not in X.columns]
        if missing:
            raise SchemaError(
                f"feature column(s) {missing} are not in the table; "
                f"columns found: {list(X.columns)}"
            )
    n = len(X)
    for c in names:
        if c == id_column:
            continue
        s = X[c]
        if pd.api.types.is_bool_dtype(s) or pd.api.types.is_numeric_dtype(s):
            if pd.api.types.is_integer_dtype(s) and n > 50 and s.nunique() == n and \
                    s.is_monotonic_increasing:
                dropped[c] = "identifier (unique, increasing integers)"
                continue
            usable.append(c)
        elif pd.api.types.is_datetime64_any_dtype(s):
            dropped[c] = "date/time (derive a number such as tenure_days to use it)"
        else:
            dropped[c] = "text/categorical (cluster on numbers; one-hot encode it to use it)"
    return usable, dropped


def _fit_prep(X: pd.DataFrame, cols: list[str], log_skewed: bool,
              dropped: dict[str, str]) -> _Prep:
    prep = _Prep()
    for c in cols:
        v = pd.to_numeric(X[c], errors="coerce").astype(float)
        v = v.where(np.isfinite(v))
        if v.notna().sum() == 0:
            dropped[c] = "all values missing"
            continue
        med = float(v.median())
        v = v.fillna(med)
        if v.nunique() <= 1:
            dropped[c] = "constant"
            continue
        kind = None
        if log_skewed and v.nunique() > 2 and abs(float(v.skew())) > 1.0:
            kind = "log1p" if v.min() >= 0 else "signed"
            v = np.log1p(v) if kind == "log1p" else np.sign(v) * np.log1p(v.abs())
        std = float(v.std())
        if not np.isfinite(std) or std == 0:
            dropped[c] = "constant"
            continue
        prep.columns.append(c)
        prep.median[c] = med
        if kind:
            prep.log[c] = kind
        prep.mean[c] = float(v.mean())
        prep.std[c] = std
    return prep


def _eta_squared(Z: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Share of each column's variance explained by the clusters (between / total SS)."""
    total = ((Z - Z.mean(axis=0)) ** 2).sum(axis=0)
    between = np.zeros(Z.shape[1])
    grand = Z.mean(axis=0)
    for k in np.unique(labels):
        m = labels == k
        between += m.sum() * (Z[m].mean(axis=0) - grand) ** 2
    return np.divide(between, total, out=np.zeros_like(between), where=total > 0)


class CustomerSegmenter(BaseEstimator):
    """Segment customers by clustering a customer feature table.

    Parameters
    ----------
    method : {"auto", "kmeans", "gmm", "ward", "hdbscan"}
        "auto" and "kmeans": K-means (Lloyd 1982, k-means++ seeding) with k chosen by
        ``criterion``. "gmm": Gaussian mixture with k chosen by BIC (Schwarz 1978).
        "ward": Ward (1963) hierarchical clustering on a sample, the rest assigned to the nearest
        centroid. "hdbscan": HDBSCAN (Campello, Moulavi & Sander 2013) finds its own number of
        clusters and labels outlier customers -1.
    n_clusters : int, optional
        Fix k instead of choosing it.
    k_range : (int, int)
        Smallest and largest k tried when choosing automatically.
    criterion : {"vote", "silhouette", "calinski_harabasz", "davies_bouldin", "bic"}, optional
        How k is chosen. Default "vote": silhouette (Rousseeuw 1987), Calinski-Harabasz (1974)
        and Davies-Bouldin (1979) each vote for their best k, the majority wins (silhouette
        breaks ties); "bic" for "gmm". Every criterion is shown in ``k_scores_``.
    features : sequence of str, optional
        Columns to cluster on (default: every numeric/boolean column but ``id_column``).
    id_column : str
        Customer identifier column (kept out of the features; default "customer_id").
    log_skewed : bool
        Log-transform columns with |skewness| > 1 (amounts, counts) before standardising.
    screen_features : bool
        Drop columns the clusters do not separate (eta² below ``min_feature_signal``) and
        choose k again without them, so uninformative columns cannot steer k.
    min_feature_signal : float
        Threshold of the screening on eta² (share of a column's variance between clusters).
    max_correlation : float or None
        Of columns correlated beyond this (after transformation), only the first is kept, so
        one fact recorded several ways is not weighted several times. None keeps all.
    sample_size : int
        Rows used for model selection; every row is assigned at the end.
    n_bootstrap : int
        Bootstrap refits used for the stability (adjusted Rand index) estimate; 0 to skip.
    min_cluster_size : int, optional
        HDBSCAN's minimum cluster size (default 1% of the sample, at least 15).
    n_threads : int
        BLAS/OpenMP threads. One by default: on a shared machine OpenMP's spinning threads
        made K-means 70x slower under contention than a single thread.
    random_state : int
        Seed of every random step.

    Attributes
    ----------
    labels_ : ndarray of int
        Cluster of each row of the fitted table (0 = largest; -1 = HDBSCAN outlier).
    n_clusters_ : int
    k_scores_ : DataFrame
        One row per k tried: silhouette, calinski_harabasz, davies_bouldin, inertia, bic and
        ``chosen``.
    profiles_ : DataFrame
        One row per cluster: customers, share and the mean of every feature in its own units.
    features_used_ : list of str
    dropped_features_ : dict of str to str
        Every column left out and why.
    feature_signal_ : Series
        eta² of every screened feature in the final clustering.
    stability_ : float
        Mean bootstrap adjusted Rand index (Hennig 2007); above 0.75 is usually called stable.
    stability_scores_ : ndarray

    References
    ----------
    Rousseeuw, P. J. (1987). Silhouettes. *J. Comput. Appl. Math.* 20, 53-65.
    Hennig, C. (2007). Cluster-wise assessment of cluster stability. *CSDA* 52(1), 258-271.
    Witten, D. M. & Tibshirani, R. (2010). A framework for feature selection in clustering.
    *JASA* 105(490), 713-726 (why uninformative columns must be screened out).

    Examples
    --------
    Three groups of customers (few cheap orders, many dear ones, in between):

    >>> rng = np.random.default_rng(0)
    >>> centres = np.repeat([[1.0, 50.0], [12.0, 900.0], [4.0, 200.0]], 100, axis=0)
    >>> features = pd.DataFrame(centres * rng.lognormal(0, 0.15, (300, 2)),
    ...                         columns=["orders", "spend"])
    >>> seg = CustomerSegmenter(k_range=(2, 6)).fit(features)
    >>> seg.n_clusters_, int(seg.profiles_["customers"].sum())
    (3, 300)
    """

    def __init__(
        self,
        *,
        method: str = "auto",
        n_clusters: int | None = None,
        k_range: tuple[int, int] = (2, 10),
        criterion: str | None = None,
        features: Sequence[str] | None = None,
        id_column: str | None = "customer_id",
        log_skewed: bool = True,
        screen_features: bool = True,
        min_feature_signal: float = 0.05,
        max_correlation: float | None = 0.9,
        sample_size: int = 20_000,
        n_bootstrap: int = 10,
        min_cluster_size: int | None = None,
        n_threads: int = 1,
        random_state: int = 0,
    ) -> None:
        self.method = method
        self.n_clusters = n_clusters
        self.k_range = k_range
        self.criterion = criterion
        self.features = features
        self.id_column = id_column
        self.log_skewed = log_skewed
        self.screen_features = screen_features
        self.min_feature_signal = min_feature_signal
        self.max_correlation = max_correlation
        self.sample_size = sample_size
        self.n_bootstrap = n_bootstrap
        self.min_cluster_size = min_cluster_size
        self.n_threads = n_threads
        self.random_state = random_state

    # -- validation ---------------------------------------------------------------------------
    def _check_params(self) -> tuple[str, str]:
        if self.method not in METHODS:
            raise ConfigError(f"method must be one of {METHODS}, not {self.method!r}")
        method = "kmeans" if self.method == "auto" else self.method
        criterion = self.criterion or ("bic" if method == "gmm" else "vote")
        if criterion not in CRITERIA:
            raise ConfigError(f"criterion must be one of {CRITERIA}, not {criterion!r}")
        if criterion == "bic" and method != "gmm":
            raise ConfigError("criterion='bic' needs method='gmm'")
        lo, hi = self.k_range
        if not (2 <= lo <= hi):
            raise ConfigError(f"k_range must be (lo, hi) with 2 <= lo <= hi, got {self.k_range}")
        if self.n_clusters is not None and self.n_clusters < 1:
            raise ConfigError(f"n_clusters must be a positive integer, got {self.n_clusters}")
        return method, criterion

    # -- the models ---------------------------------------------------------------------------
    def _fit_assign(self, method: str, Z: np.ndarray, k: int, seed: int,
                    n_init: int = 4) -> tuple[np.ndarray, Assign, Any]:
        """Fit on ``Z``; return its labels, a function assigning new rows, and the model."""
        if method == "kmeans":
            km = KMeans(n_clusters=k, n_init=n_init, random_state=seed).fit(Z)
            return km.labels_, km.predict, km
        if method == "gmm":
            gm = GaussianMixture(n_components=k, covariance_type="full", n_init=2,
                                 random_state=seed, reg_covar=1e-4).fit(Z)
            return gm.predict(Z), gm.predict, gm
        if method == "ward":
            labels = AgglomerativeClustering(n_clusters=k, linkage="ward").fit_predict(Z)
            centres = np.vstack([Z[labels == c].mean(axis=0) for c in range(k)])
            return labels, _chunked(_NearestCentre(centres)), centres
        # hdbscan
        mcs = self.min_cluster_size or max(15, len(Z) // 100)
        hd = HDBSCAN(min_cluster_size=mcs, copy=True).fit(Z)
        labels = hd.labels_
        knn = KNeighborsClassifier(n_neighbors=1).fit(Z, labels)
        return labels, _chunked(knn.predict), hd

    def _score_k(self, method: str, Z: np.ndarray, ks: list[int],
                 rng: np.random.Generator) -> pd.DataFrame:
        sil_idx = rng.choice(len(Z), size=min(len(Z), _SILHOUETTE_MAX), replace=False)
        rows = []
        for k in track(ks, f"choosing k ({method})", total=len(ks)):
            labels, _, model = self._fit_assign(method, Z, k, self.random_state)
            row: dict[str, float] = {"k": k}
            if len(np.unique(labels)) < 2:
                row.update(silhouette=np.nan, calinski_harabasz=np.nan, davies_bouldin=np.nan)
            else:
                sl = labels[sil_idx]
                row["silhouette"] = (float(silhouette_score(Z[sil_idx], sl))
                                     if len(np.unique(sl)) > 1 else np.nan)
                row["calinski_harabasz"] = float(calinski_harabasz_score(Z, labels))
                row["davies_bouldin"] = float(davies_bouldin_score(Z, labels))
            row["inertia"] = float(model.inertia_) if method == "kmeans" else np.nan
            row["bic"] = float(model.bic(Z)) if method == "gmm" else np.nan
            rows.append(row)
        return pd.DataFrame(rows)

    @staticmethod
    def _choose(scores: pd.DataFrame, criterion: str) -> int:
        if criterion == "vote":
            # Each criterion votes for its best k; the most voted k wins, silhouette breaks
            # ties. One index alone is easily swayed (silhouette favours few well-separated
            # groups, Calinski-Harabasz many), their agreement much less.
            votes = [CustomerSegmenter._choose(scores, c) for c in _VOTERS]
            counts = pd.Series(votes).value_counts()
            top = counts[counts == counts.max()].index
            return votes[0] if votes[0] in top else int(top[0])
        col = scores[criterion]
        if col.isna().all():
            return int(scores["k"].iloc[0])
        best = col.idxmin() if criterion in ("davies_bouldin", "bic") else col.idxmax()
        return int(scores.loc[best, "k"])

    def _drop_redundant(self, prep: _Prep, Z: np.ndarray, dropped: dict[str, str]) -> np.ndarray:
        """Keep one of each group of near-duplicate columns (|r| > ``max_correlation``).

        Customer tables repeat one fact many ways (frequency/orders/lines, T/tenure,
        average basket/monetary value); left in, each copy adds the same variance again and
        that one aspect outweighs everything else in the distances.
        """
        if self.max_correlation is None or Z.shape[1] < 2:
            return Z
        with np.errstate(invalid="ignore", divide="ignore"):
            corr = np.nan_to_num(np.corrcoef(Z, rowvar=False))
        keep: list[int] = []
        for j in range(Z.shape[1]):
            twin = next((i for i in keep if abs(corr[i, j]) > self.max_correlation), None)
            if twin is None:
                keep.append(j)
            else:
                dropped[prep.columns[j]] = (f"redundant: r = {corr[twin, j]:.2f} with "
                                            f"{prep.columns[twin]}")
        prep.columns = [prep.columns[j] for j in keep]
        return Z[:, keep]

    # -- fit ------------------------------------------------------------------------------------
    def fit(self, X: pd.DataFrame, y: object = None) -> CustomerSegmenter:
        """Fit on a customer feature table (one row per customer)."""
        with threadpool_limits(limits=self.n_threads):
            return self._fit(X)

    def _fit(self, X: pd.DataFrame) -> CustomerSegmenter:
        method, criterion = self._check_params()
        if not isinstance(X, pd.DataFrame):
            X = pd.DataFrame(np.asarray(X)).add_prefix("x")
        if len(X) < 3:
            raise DataError(f"clustering needs at least 3 customers; the table has {len(X)} rows")
        id_col = self.id_column if self.id_column in X.columns else None
        if id_col is not None and X[id_col].duplicated().any():
            dup = X.loc[X[id_col].duplicated(), id_col].iloc[0]
            raise DataError(f"customer {dup!r} appears more than once in column {id_col!r}; "
                            "a feature table has one row per customer")
        rng = np.random.default_rng(self.random_state)
        cols, dropped = _numeric_view(X, id_col, self.features)
        n = len(X)
        sample_idx = np.sort(rng.choice(n, size=min(n, self.sample_size), replace=False))
        sample = X.iloc[sample_idx]
        prep = _fit_prep(sample, cols, self.log_skewed, dropped)
        if not prep.columns:
            raise SchemaError(
                "no usable numeric feature to cluster on; columns left out: "
                + "; ".join(f"{c}: {why}" for c, why in dropped.items())
            )
        Zs_all = prep.matrix(sample)
        Zs_all = self._drop_redundant(prep, Zs_all, dropped)
        if method in ("ward", "hdbscan") and len(Zs_all) > _QUADRATIC_MAX:
            Zs_all = Zs_all[rng.choice(len(Zs_all), size=_QUADRATIC_MAX, replace=False)]

        lo, hi = self.k_range
        hi = min(hi, len(Zs_all) - 1)
        ks = [self.n_clusters] if self.n_clusters else list(range(lo, max(lo, hi) + 1))
        active = np.arange(len(prep.columns))
        signal = np.ones(len(prep.columns))
        scores = pd.DataFrame()
        k = ks[0]
        labels_s = np.zeros(len(Zs_all), dtype=np.int64)
        for _round in range(4):
            Zs = Zs_all[:, active]
            if method == "hdbscan":
                labels_s, _, _ = self._fit_assign(method, Zs, 0, self.random_state)
                k = int(labels_s.max()) + 1
                scores = pd.DataFrame()
            else:
                scores = self._score_k(method, Zs, ks, rng)
                k = self._choose(scores, criterion)
                labels_s, _, _ = self._fit_assign(method, Zs, k, self.random_state)
            if not self.screen_features or len(np.unique(labels_s[labels_s >= 0])) < 2:
                break
            ok = labels_s >= 0
            signal = _eta_squared(Zs[ok], labels_s[ok])
            keep = signal >= self.min_feature_signal
            if keep.all() or keep.sum() == 0:
                break
            for j, eta in zip(active[~keep], signal[~keep], strict=True):
                dropped[prep.columns[j]] = (
                    f"uninformative: the clusters explain {eta:.1%} of its variance "
                    f"(< {self.min_feature_signal:.0%})")
            active = active[keep]

        used = [prep.columns[j] for j in active]
        Zs = Zs_all[:, active]
        if not scores.empty:
            scores["chosen"] = scores["k"] == k
        # Final model on the sample (more starts), then every customer assigned.
        labels_fit, assign, model = self._fit_assign(method, Zs, k, self.random_state, n_init=8)
        labels = _chunked(assign)(prep.matrix(X, used))
        self._perm = _size_order(labels)
        self.labels_ = _apply_perm(labels, self._perm)
        self.n_clusters_ = len(self._perm)
        self.k_scores_ = scores
        self.features_used_ = used
        self.dropped_features_ = dropped
        self.feature_signal_ = pd.Series(
            _eta_squared(Zs[labels_fit >= 0], labels_fit[labels_fit >= 0])
            if len(np.unique(labels_fit[labels_fit >= 0])) > 1 else np.zeros(len(used)),
            index=used, name="eta_squared").sort_values(ascending=False)
        self.method_ = method
        self.criterion_ = criterion if method != "hdbscan" else None
        self.model_ = model
        self._prep = prep
        self._assign = assign
        self.customer_ids_ = X[id_col].to_numpy() if id_col else np.arange(n)
        self.n_outliers_ = int((self.labels_ < 0).sum())
        self.profiles_ = self._profiles(X, used)
        self.stability_scores_ = self._stability(method, Zs, k, labels_fit, rng)
        self.stability_ = (float(np.mean(self.stability_scores_))
                           if len(self.stability_scores_) else float("nan"))
        return self

    def _profiles(self, X: pd.DataFrame, used: list[str]) -> pd.DataFrame:
        frame = X[used].apply(pd.to_numeric, errors="coerce").astype(float)
        frame["cluster"] = self.labels_
        prof = frame.groupby("cluster").mean()
        prof.insert(0, "customers", frame.groupby("cluster").size())
        prof.insert(1, "share", prof["customers"] / len(frame))
        return prof.reset_index()

    def _stability(self, method: str, Z: np.ndarray, k: int, ref: np.ndarray,
                   rng: np.random.Generator) -> np.ndarray:
        if self.n_bootstrap <= 0 or len(np.unique(ref)) < 2:
            return np.array([])
        m = min(len(Z), 3_000)
        idx = rng.choice(len(Z), size=m, replace=False)
        Zm, ref_m = Z[idx], ref[idx]
        out = []
        for b in track(range(self.n_bootstrap), "bootstrap stability", total=self.n_bootstrap):
            boot = rng.integers(0, m, size=m)
            # Refits on resamples with repeated customers may warn (fewer distinct points
            # than clusters): the warnings reach the caller, who records them.
            _, assign, _ = self._fit_assign(method, Zm[boot], k, self.random_state + 1 + b,
                                            n_init=2)
            out.append(adjusted_rand_score(ref_m, assign(Zm)))
        return np.asarray(out)

    # -- use ------------------------------------------------------------------------------------
    def _check_fitted(self) -> None:
        if not hasattr(self, "labels_"):
            raise NotFittedError(
                "this CustomerSegmenter is not fitted yet; call fit(features) first")

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        """Cluster of each row of a new feature table (same columns as the fitted one)."""
        self._check_fitted()
        missing = [c for c in self.features_used_ if c not in X.columns]
        if missing:
            raise SchemaError(f"the table lacks feature column(s) {missing} used by the fitted "
                              f"segmenter; columns found: {list(X.columns)}")
        with threadpool_limits(limits=self.n_threads):
            labels = _chunked(self._assign)(self._prep.matrix(X, self.features_used_))
        return _apply_perm(labels, self._perm)

    def fit_predict(self, X: pd.DataFrame, y: object = None) -> np.ndarray:
        return self.fit(X).labels_

    def to_frame(self) -> pd.DataFrame:
        """``customer_id`` and ``cluster`` of every fitted customer."""
        self._check_fitted()
        return pd.DataFrame({"customer_id": self.customer_ids_, "cluster": self.labels_})


class _NearestCentre:
    """Assign rows to the nearest centre (a class, not a closure, so a fitted segmenter can be
    saved)."""

    def __init__(self, centres: np.ndarray) -> None:
        self.centres = centres

    def __call__(self, Y: np.ndarray) -> np.ndarray:
        d = ((Y[:, None, :] - self.centres[None, :, :]) ** 2).sum(axis=2)
        return np.asarray(d.argmin(axis=1))


class _Chunked:
    """Apply an assignment in chunks of ``size`` rows, bounding memory on large tables."""

    def __init__(self, fn: Assign, size: int = 200_000) -> None:
        self.fn, self.size = fn, size

    def __call__(self, Y: np.ndarray) -> np.ndarray:
        if len(Y) <= self.size:
            return np.asarray(self.fn(Y))
        step = self.size
        return np.concatenate([np.asarray(self.fn(Y[i:i + step])) for i in range(0, len(Y), step)])


def _chunked(fn: Assign, size: int = 200_000) -> Assign:
    return _Chunked(fn, size)


def _size_order(labels: np.ndarray) -> dict[int, int]:
    ids, counts = np.unique(labels[labels >= 0], return_counts=True)
    order = ids[np.lexsort((ids, -counts))]
    return {int(old): new for new, old in enumerate(order)}


def _apply_perm(labels: np.ndarray, perm: dict[int, int]) -> np.ndarray:
    lut = np.full(int(max(perm, default=0)) + 2, -1, dtype=np.int64)
    for old, new in perm.items():
        lut[old] = new
    safe = np.where((labels >= 0) & (labels <= max(perm, default=0)), labels, -1)
    return lut[safe]
