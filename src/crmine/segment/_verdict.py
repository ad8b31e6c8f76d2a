"""Are the clusters natural segments? Stability across bootstrap refits and separation against
structureless data with the same spread.

K-means cuts any cloud of points into k pieces, and a single elongated cloud is cut the same way
on every resample: neither a neat profile nor a stable partition shows that the customers fall
into groups. What does is separation beyond what the same procedure finds where there are no
groups. The reference is the one SigClust uses (Liu, Hayes, Nobel & Marron 2008): a single
Gaussian with the data's own mean and covariance (in the segmenter's transformed, standardised
feature space), clustered with the same method and k. A column permutation would be no
reference: it destroys the correlations between features, and correlated features with no
groups would then always look clustered.

Discrete columns need more: one process of counts and shares (most customers with one order,
so an online share of exactly 0 or 1) piles the customers onto a few lattice points, and k-means
cuts those atoms far more tightly than any Gaussian, or a Gaussian copula, whose dependence
cannot reproduce how a share's lattice narrows with the order count. Where two or more columns
are discrete, a third reference keeps the discrete columns' joint distribution as it is (whole
rows resampled) and draws the continuous columns from the Gaussian copula conditional on them:
one population with the data's marginals, lattice and dependence. The price: groups that show
only in the discrete columns' joint distribution look like that reference, so they count only
where the continuous columns separate them too.

- separation: the share of the variance left within the clusters (``W / T``, the cluster index
  of SigClust; 1 - R²) of the found clusters, against its mean over structureless samples;
  the interval is that of the same figure for partitions refitted on bootstrap resamples of
  the customers;
- stability: the adjusted Rand index (Hubert & Arabie 1985) between the found clusters and
  those refitted on each bootstrap resample, on the same customers (Hennig 2007); 0 for a
  random partition.

Both run on a sample (at most 2,000 customers) with a few refits, single-threaded.

References
----------
Liu, Y., Hayes, D. N., Nobel, A. & Marron, J. S. (2008). Statistical significance of clustering
for high-dimension, low-sample size data. *JASA* 103(483), 1281-1293.
Hennig, C. (2007). Cluster-wise assessment of cluster stability. *CSDA* 52(1), 258-271.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from sklearn.metrics import adjusted_rand_score
from threadpoolctl import threadpool_limits

from crmine._progress import check_cancelled
from crmine.contract import Verdict, judge

if TYPE_CHECKING:
    from crmine.segment._cluster import CustomerSegmenter

__all__ = [
    "DISCRETE_MAX_LEVELS",
    "MIN_SEPARATION_GAIN",
    "MIN_STABILITY",
    "SELECTION_ALLOWANCE",
    "SegmentEvidence",
    "discrete_columns",
    "evidence",
    "judge_segmentation",
    "within_share",
]

# The clusters must leave at least this share less variance within them than the same number
# of clusters cut from structureless data (a fifth: clear groups, not a skewed cloud).
MIN_SEPARATION_GAIN = 0.20
# Below this gain the clusters are no better than structureless data: k and the features were
# chosen on the data itself (the reference gets no such choice), which alone buys a few per
# cent; skewed or discrete columns with no groups buy some more.
SELECTION_ALLOWANCE = 0.10
# A column with at most this many distinct values (and at most a tenth of the customers' count)
# is a lattice (counts, shares of a few orders, flags): its atoms are kept in the reference.
DISCRETE_MAX_LEVELS = 50
# Mean bootstrap ARI above which clusters are reproducible (Hennig 2007 calls below ~0.6
# "patterns" at best).
MIN_STABILITY = 0.6
_NO_SEGMENTS = ("no natural segments: use the RFM score segments and value tiers, which are "
                "rules, not findings")


@dataclass(frozen=True, slots=True)
class SegmentEvidence:
    """The figures behind the segmentation verdict (all on the evaluation sample)."""

    customers: int
    k: int
    within_share: float  # W/T of the found clusters
    null_within_share: float  # mean W/T of the same method and k on structureless data
    null_within_sd: float
    bootstrap_within_share: tuple[float, ...]  # W/T of each bootstrap refit
    stability: tuple[float, ...]  # ARI of each bootstrap refit with the found clusters
    gaussian_within_share: float = float("nan")  # mean W/T on the Gaussian reference
    copula_within_share: float = float("nan")  # mean W/T on the Gaussian-copula reference
    # mean W/T on the reference keeping the discrete columns' joint distribution (NaN when
    # fewer than two columns are discrete)
    lattice_within_share: float = float("nan")
    null: str = "gaussian"  # the hardest reference, judged against: gaussian, copula or lattice

    @property
    def separation_gain(self) -> float:
        """Relative reduction of the within-cluster variance against the structureless data."""
        if not self.null_within_share > 0:
            return float("nan")
        return 1.0 - self.within_share / self.null_within_share

    @property
    def mean_stability(self) -> float:
        return float(np.mean(self.stability)) if self.stability else float("nan")

    def to_dict(self) -> dict[str, Any]:
        return {
            "customers": self.customers, "k": self.k,
            "within_share": round(self.within_share, 4),
            "null_within_share": round(self.null_within_share, 4),
            "null": self.null,
            "gaussian_within_share": round(self.gaussian_within_share, 4),
            "copula_within_share": round(self.copula_within_share, 4),
            "lattice_within_share": round(self.lattice_within_share, 4),
            "separation_gain": round(self.separation_gain, 4),
            "stability_ari": round(self.mean_stability, 4),
            "stability_interval": [round(float(x), 4) for x in _interval(self.stability)],
        }  # fmt: skip


def _interval(values: tuple[float, ...] | np.ndarray) -> tuple[float, float]:
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    if not len(v):
        return (float("nan"), float("nan"))
    lo, hi = np.percentile(v, [2.5, 97.5])
    return (float(lo), float(hi))


def within_share(Z: np.ndarray, labels: np.ndarray) -> float:
    """Share of the total sum of squares left within the clusters (``W / T``)."""
    ok = labels >= 0
    Z, labels = Z[ok], labels[ok]
    total = float(((Z - Z.mean(axis=0)) ** 2).sum())
    if total <= 0:
        return float("nan")
    within = 0.0
    for c in np.unique(labels):
        part = Z[labels == c]
        within += float(((part - part.mean(axis=0)) ** 2).sum())
    return within / total


def _structureless(Z: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A sample of one Gaussian with ``Z``'s mean and covariance."""
    mean = Z.mean(axis=0)
    cov = np.atleast_2d(np.cov(Z, rowvar=False))
    return rng.multivariate_normal(mean, cov, size=len(Z), method="eigh")


def _normal_scores(Z: np.ndarray) -> np.ndarray:
    """Van der Waerden scores of each column (tied values share their mean rank)."""
    from scipy.special import ndtri
    from scipy.stats import rankdata

    n = len(Z)
    return np.asarray(ndtri(rankdata(Z, axis=0) / (n + 1)))


def _copula(Z: np.ndarray, rng: np.random.Generator,
            corr: np.ndarray | None = None) -> np.ndarray:
    """A sample of one Gaussian copula with ``Z``'s marginals and rank correlation.

    Each column keeps its own empirical distribution (so counts stay on their lattice and a
    share that is exactly 0 or 1 for many customers stays so), joined by the correlation of
    the columns' normal scores: one population with the data's marginals and dependence, and
    no groups.
    """
    from scipy.special import ndtr

    n, p = Z.shape
    if corr is None:
        corr = np.atleast_2d(np.corrcoef(_normal_scores(Z), rowvar=False))
    corr = np.nan_to_num(corr, nan=0.0)
    np.fill_diagonal(corr, 1.0)
    g = rng.multivariate_normal(np.zeros(p), corr, size=n, method="eigh")
    pos = np.minimum((ndtr(g) * n).astype(int), n - 1)
    ordered = np.sort(Z, axis=0)
    return np.take_along_axis(ordered, pos, axis=0)


def discrete_columns(Z: np.ndarray) -> list[int]:
    """Indices of the columns of ``Z`` that are lattices (see :data:`DISCRETE_MAX_LEVELS`)."""
    limit = min(DISCRETE_MAX_LEVELS, len(Z) / 10)
    return [j for j in range(Z.shape[1]) if len(np.unique(Z[:, j])) <= limit]


def _lattice(Z: np.ndarray, rng: np.random.Generator, corr: np.ndarray,
             discrete: list[int]) -> np.ndarray:
    """A sample keeping the discrete columns' joint distribution, the rest a conditional copula.

    The discrete columns are whole rows drawn with replacement (their atoms and how they
    depend on each other stay as they are); each continuous column keeps its empirical
    marginal, its latent normal score drawn from the Gaussian copula of :func:`_copula`
    given the drawn rows' (standardised) normal scores of the discrete columns.
    """
    from scipy.special import ndtr

    n, p = Z.shape
    d = np.asarray(discrete)
    c = np.setdiff1d(np.arange(p), d)
    rows = rng.integers(0, n, size=n)
    out = np.empty_like(Z)
    out[:, d] = Z[rows][:, d]
    if not len(c):
        return out
    S = np.nan_to_num(corr, nan=0.0).copy()
    np.fill_diagonal(S, 1.0)
    scores = _normal_scores(Z[:, d])
    sd = scores.std(axis=0)
    scores = (scores - scores.mean(axis=0)) / np.where(sd > 0, sd, 1.0)
    s_dd, s_dc, s_cc = S[np.ix_(d, d)], S[np.ix_(d, c)], S[np.ix_(c, c)]
    coef = np.linalg.lstsq(s_dd, s_dc, rcond=None)[0]
    g = scores[rows] @ coef + rng.multivariate_normal(
        np.zeros(len(c)), s_cc - s_dc.T @ coef, size=n, method="eigh")
    pos = np.minimum((ndtr(g) * n).astype(int), n - 1)
    out[:, c] = np.take_along_axis(np.sort(Z[:, c], axis=0), pos, axis=0)
    return out


def evidence(seg: CustomerSegmenter, X: pd.DataFrame, *, sample_size: int = 2_000,
             repeats: int = 10, random_state: int = 0) -> SegmentEvidence:
    """Bootstrap stability and separation against structureless data of a fitted segmenter.

    ``X`` is the table the segmenter was fitted on (its ``labels_`` are those rows').
    """
    rng = np.random.default_rng(random_state)
    n = len(X)
    idx = np.sort(rng.choice(n, size=min(n, sample_size), replace=False))
    Z = seg._prep.matrix(X.iloc[idx], seg.features_used_)
    labels = np.asarray(seg.labels_)[idx]
    k = int(seg.n_clusters_)
    method = seg.method_
    if method == "hdbscan":  # it finds its own k: compare with k-means of the same k
        method = "kmeans"
    found = within_share(Z, labels)
    boot_w: list[float] = []
    aris: list[float] = []
    nulls: dict[str, list[float]] = {"gaussian": [], "copula": [], "lattice": []}
    corr = np.atleast_2d(np.corrcoef(_normal_scores(Z), rowvar=False)) if len(Z) > 2 else None
    discrete = discrete_columns(Z)

    def copula(Z: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        return _copula(Z, rng, corr)

    def lattice(Z: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        assert corr is not None  # drawn only when the correlation exists
        return _lattice(Z, rng, corr, discrete)

    draws: list[tuple[str, Any]] = [("gaussian", _structureless), ("copula", copula)]
    # One discrete column: the copula keeps its marginal already. All discrete: the
    # reference would be the data themselves, in which no group could ever show.
    if corr is not None and 2 <= len(discrete) < Z.shape[1]:
        draws.append(("lattice", lattice))

    if k >= 2 and len(Z) > k:
        with threadpool_limits(limits=seg.n_threads):
            for b in range(repeats):
                check_cancelled(f"segment verdict bootstrap ({b + 1} of {repeats})")
                boot = rng.integers(0, len(Z), size=len(Z))
                _, assign, _ = seg._fit_assign(method, Z[boot], k, random_state + 1 + b,
                                               n_init=2)
                refit = np.asarray(assign(Z))
                aris.append(float(adjusted_rand_score(labels, refit)))
                boot_w.append(within_share(Z, refit))
                for name, draw in draws:
                    noise = draw(Z, rng)
                    null_labels, _, _ = seg._fit_assign(method, noise, k,
                                                        random_state + 101 + b, n_init=2)
                    nulls[name].append(within_share(noise, np.asarray(null_labels)))
    means = {name: float(np.mean(v)) if v else float("nan") for name, v in nulls.items()}
    # The hardest reference: the structureless data that the same k cuts most tightly.
    harder = min(means, key=lambda m: means[m] if np.isfinite(means[m]) else np.inf)
    return SegmentEvidence(
        customers=len(Z), k=k, within_share=found,
        null_within_share=means[harder],
        null_within_sd=float(np.std(nulls[harder])) if nulls[harder] else float("nan"),
        bootstrap_within_share=tuple(boot_w), stability=tuple(aris),
        gaussian_within_share=means["gaussian"], copula_within_share=means["copula"],
        lattice_within_share=means["lattice"], null=harder)  # fmt: skip


def judge_segmentation(ev: SegmentEvidence) -> Verdict:
    """The verdict on the clusters from their :class:`SegmentEvidence`.

    ``informative`` when the clusters leave at least :data:`MIN_SEPARATION_GAIN` less
    variance within them than structureless data (beyond the bootstrap interval) and are
    stable (mean ARI >= :data:`MIN_STABILITY`); ``weak`` when they beat the structureless
    data by less, or are unstable; ``not_informative`` when they do not beat it at all.
    """
    if ev.k < 2 or not np.isfinite(ev.null_within_share):
        return Verdict(
            "not_informative", "within-cluster share of variance vs structureless data",
            None, None, None,
            f"a single cluster was found among {ev.customers:,} customers: {_NO_SEGMENTS}.",
            "add behaviour columns (channel, category, discount shares) to the customer "
            "features, or load more customers")
    null = ev.null_within_share
    boot = _interval(ev.bootstrap_within_share)
    interval = (min(boot[0], ev.within_share), max(boot[1], ev.within_share)) \
        if np.isfinite(boot[0]) else None
    gain = ev.separation_gain
    why = (f"{ev.k} clusters leave {ev.within_share:.1%} of the variance within them "
           f"(bootstrap refits {interval[0]:.1%}-{interval[1]:.1%}); the same number of "
           f"clusters cut from structureless data of the same spread leaves {null:.1%}, so "
           f"the clusters are {gain:.0%} tighter (clear segments: "
           f"{MIN_SEPARATION_GAIN:.0%} or more; below {SELECTION_ALLOWANCE:.0%}, what "
           f"choosing k on the data alone buys)"
           if interval else f"{ev.k} clusters leave {ev.within_share:.1%} of the variance "
           f"within them against {null:.1%} for structureless data")
    # Judged against the reference less the selection allowance: a gain within it is none.
    sep = judge("within-cluster share of variance vs structureless data", ev.within_share,
                (1 - SELECTION_ALLOWANCE) * null, interval,
                min_gain=(MIN_SEPARATION_GAIN - SELECTION_ALLOWANCE) * null,
                higher_is_better=False, why=why + ".",
                what_to_try=("use the RFM score segments and value tiers (rules, not findings) "
                             "to group customers; or add behaviour columns that may separate "
                             "them (channel, category, discount shares)"))
    sep = replace(sep, baseline=float(null))
    ari = ev.mean_stability
    ari_int = _interval(ev.stability)
    stab = judge("bootstrap stability (mean adjusted Rand index)", ari, 0.0,
                 ari_int if np.isfinite(ari_int[0]) else None, min_gain=MIN_STABILITY,
                 why=(f"Refitted on {len(ev.stability)} bootstrap resamples of "
                      f"{ev.customers:,} customers, the clusters agree with the found ones at "
                      f"a mean adjusted Rand index of {ari:.2f} "
                      f"({ari_int[0]:.2f}-{ari_int[1]:.2f}); 0 is a random partition."),
                 what_to_try="the clusters change from sample to sample: fix a smaller k "
                             "(--k), or use the RFM score segments and value tiers")
    order = {"informative": 0, "weak": 1, "not_informative": 2}
    worst = max((sep, stab), key=lambda v: order[v.status])
    status = worst.status if sep.status != "not_informative" else "not_informative"
    if status == "not_informative":
        why_all = f"{sep.why} {stab.why} {_NO_SEGMENTS[0].upper()}{_NO_SEGMENTS[1:]}."
        advice = sep.what_to_try if sep.status == "not_informative" else stab.what_to_try
    elif status == "weak":
        why_all = f"{sep.why} {stab.why}"
        advice = " ".join(v.what_to_try for v in (sep, stab) if v.status != "informative")
    else:
        why_all, advice = f"{sep.why} {stab.why}", ""
    return Verdict(status, sep.metric, sep.value, sep.baseline, sep.interval, why_all, advice,
                   checks=(sep, stab))
