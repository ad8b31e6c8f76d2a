"""Verdicts: does an analysis beat the naive baseline a sceptical analyst would use?

Every analysis judges itself on held-out data and says so in a :class:`Verdict`:

- ``informative``: the held-out figure beats the baseline beyond its interval, by a margin
  that matters (``min_gain``);
- ``weak``: better than the baseline beyond chance, but by less than ``min_gain``: look, but
  act with care;
- ``not_informative``: not distinguishable from the baseline; the analysis writes nothing
  actionable (no retention list, target list or recommendations).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import Any, Literal

import numpy as np

__all__ = [
    "STATUSES",
    "Status",
    "Verdict",
    "auc_interval",
    "bootstrap_interval",
    "judge",
    "recorded_warnings",
    "saved_status",
]

Status = Literal["informative", "weak", "not_informative"]
STATUSES: tuple[Status, ...] = ("informative", "weak", "not_informative")


def _clean(value: Any) -> Any:
    """A JSON-friendly copy: numpy scalars to Python, non-finite floats to None."""
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


_ABOUT_CODE = ("DeprecationWarning:", "PendingDeprecationWarning:", "FutureWarning:")


@dataclass(frozen=True, slots=True)
class Verdict:
    """The held-out evidence for (or against) an analysis's result.

    Attributes
    ----------
    status : {"informative", "weak", "not_informative"}
    metric : str
        What was measured on held-out data, e.g. ``"held-out AUC"``.
    value : float or None
        The analysis's figure.
    baseline : float or None
        The naive baseline's figure on the same held-out data (0.5 for AUC, popularity's hit
        rate for recommendations...).
    interval : (float, float) or None
        A confidence interval of ``value`` (or of the gain over the baseline, as ``why`` says).
    why : str
        One or two plain sentences with the figures.
    what_to_try : str
        What might make the analysis informative (empty when it is).
    warnings : tuple of str
        Warnings raised while fitting, recorded rather than silenced.
    checks : tuple of Verdict
        Further verdicts behind the headline one (e.g. uplift next to response).
    """

    status: Status
    metric: str
    value: float | None
    baseline: float | None
    interval: tuple[float, float] | None = None
    why: str = ""
    what_to_try: str = ""
    warnings: tuple[str, ...] = ()
    checks: tuple[Verdict, ...] = ()

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError(f"verdict status {self.status!r} is not one of {STATUSES}")

    @property
    def actionable(self) -> bool:
        """False when the result must drive no action (``not_informative``)."""
        return self.status != "not_informative"

    def with_warnings(self, caught: Sequence[str]) -> Verdict:
        """The same verdict with ``caught`` fit warnings recorded (duplicates dropped).

        Warnings about how code calls a library (deprecations) say nothing about the data or
        the fit: they are shown when raised but not kept in the verdict.
        """
        about_fit = [w for w in caught if not w.startswith(_ABOUT_CODE)]
        merged = tuple(dict.fromkeys((*self.warnings, *about_fit)))
        return replace(self, warnings=merged)

    def to_dict(self) -> dict[str, Any]:
        """The JSON shape used by ``crmine run --json`` and the warehouse."""
        out: dict[str, Any] = {
            "status": self.status,
            "metric": self.metric,
            "value": self.value,
            "baseline": self.baseline,
            "interval": list(self.interval) if self.interval is not None else None,
            "why": self.why,
            "what_to_try": self.what_to_try,
            "warnings": list(self.warnings),
        }
        if self.checks:
            out["checks"] = [c.to_dict() for c in self.checks]
        return _clean(out)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Verdict:
        interval = data.get("interval")
        return cls(
            status=data["status"],
            metric=data.get("metric", ""),
            value=data.get("value"),
            baseline=data.get("baseline"),
            interval=(float(interval[0]), float(interval[1])) if interval else None,
            why=data.get("why", ""),
            what_to_try=data.get("what_to_try", ""),
            warnings=tuple(data.get("warnings", ())),
            checks=tuple(cls.from_dict(c) for c in data.get("checks", ())),
        )


def saved_status(metadata: dict[str, Any]) -> str | None:
    """The verdict status a saved model's metadata records (``metadata["verdict"]`` as a
    verdict dict or a bare status), or None for a model saved without one."""
    saved = metadata.get("verdict")
    if isinstance(saved, dict):
        return saved.get("status")
    return saved if isinstance(saved, str) else None


def judge(
    metric: str,
    value: float,
    baseline: float,
    interval: tuple[float, float] | None,
    *,
    min_gain: float,
    higher_is_better: bool = True,
    why: str = "",
    what_to_try: str = "",
) -> Verdict:
    """Grade ``value`` against ``baseline`` with the interval of ``value``.

    ``not_informative`` when the interval reaches the baseline (or ``value`` is no better);
    ``weak`` when the gain is beyond chance but smaller than ``min_gain``; else
    ``informative``. Without an interval only the point estimates are compared.

    Examples
    --------
    >>> judge("held-out AUC", 0.51, 0.5, (0.47, 0.55), min_gain=0.05).status
    'not_informative'
    >>> judge("held-out AUC", 0.58, 0.5, (0.55, 0.61), min_gain=0.1).status
    'weak'
    >>> judge("held-out AUC", 0.84, 0.5, (0.82, 0.86), min_gain=0.1).status
    'informative'
    """
    sign = 1.0 if higher_is_better else -1.0
    gain = sign * (value - baseline)
    worst = None
    if interval is not None:
        worst = interval[0] if higher_is_better else interval[1]
        if not math.isfinite(worst):  # an interval that could not be computed clears nothing
            worst = baseline
    status: Status
    if not math.isfinite(value) or gain <= 0 or (
        worst is not None and sign * (worst - baseline) <= 0
    ):
        status = "not_informative"
    elif gain < min_gain:
        status = "weak"
    else:
        status = "informative"
    return Verdict(
        status,
        metric,
        float(value),
        float(baseline),
        (float(interval[0]), float(interval[1])) if interval is not None else None,
        why,
        what_to_try if status != "informative" else "",
    )


def auc_interval(auc: float, n_pos: int, n_neg: int, level: float = 0.95) -> tuple[float, float]:
    """Hanley & McNeil (1982) confidence interval of a ROC AUC from its class counts.

    References
    ----------
    Hanley, J. A. & McNeil, B. J. (1982). The meaning and use of the area under a receiver
    operating characteristic (ROC) curve. Radiology 143(1), 29-36.

    Examples
    --------
    >>> lo, hi = auc_interval(0.8, 100, 400)
    >>> round(lo, 3), round(hi, 3)
    (0.745, 0.855)
    """
    from scipy.stats import norm

    if n_pos < 1 or n_neg < 1:
        return (0.0, 1.0)
    q1 = auc / (2 - auc)
    q2 = 2 * auc**2 / (1 + auc)
    var = (
        auc * (1 - auc) + (n_pos - 1) * (q1 - auc**2) + (n_neg - 1) * (q2 - auc**2)
    ) / (n_pos * n_neg)
    half = float(norm.ppf(0.5 + level / 2)) * math.sqrt(max(var, 0.0))
    return (max(0.0, auc - half), min(1.0, auc + half))


def bootstrap_interval(
    statistic: Callable[[np.ndarray], float],
    n: int,
    *,
    repeats: int = 200,
    level: float = 0.95,
    random_state: int = 0,
) -> tuple[float, float]:
    """Percentile bootstrap interval of ``statistic(indices)`` over ``n`` resampled units.

    ``statistic`` receives the resampled row indices (with repeats) and returns the figure;
    resample whole units (customers), not rows, when rows of one unit are correlated.

    Examples
    --------
    >>> x = np.arange(100.0)
    >>> lo, hi = bootstrap_interval(lambda i: float(x[i].mean()), len(x))
    >>> 43 < lo < 49.5 < hi < 56
    True
    """
    rng = np.random.default_rng(random_state)
    stats = np.array([statistic(rng.integers(0, n, n)) for _ in range(repeats)], dtype=float)
    stats = stats[np.isfinite(stats)]
    if not len(stats):
        return (math.nan, math.nan)
    tail = (1 - level) / 2 * 100
    lo, hi = np.percentile(stats, [tail, 100 - tail])
    return (float(lo), float(hi))


@contextmanager
def recorded_warnings() -> Iterator[list[str]]:
    """Record every warning raised inside (for the verdict) and still show each one once.

    Yields the list the messages are appended to (``"Category: message"``, de-duplicated).

    Examples
    --------
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("ignore")  # a library silencing its own warnings...
    ...     with recorded_warnings() as caught:
    ...         warnings.warn("slow convergence", RuntimeWarning)
    >>> caught  # ...cannot hide them from the verdict
    ['RuntimeWarning: slow convergence']
    """
    with warnings.catch_warnings(record=True) as raw:
        warnings.simplefilter("default")  # each distinct warning once, however often raised
        messages: list[str] = []
        try:
            yield messages
        finally:
            seen: set[str] = set()
            shown = []
            for w in raw:
                text = f"{w.category.__name__}: {w.message}"
                if text in seen:
                    continue
                seen.add(text)
                messages.append(text)
                shown.append(w)
    # Outside the recording context: let the warnings reach the caller's filters too.
    for w in shown:
        warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
