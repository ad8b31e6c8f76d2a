"""``TicketClassifier``: route tickets to a reason (or flag complaints) from their text.

TF-IDF on the same tokens as the topics (jieba for Chinese, words for English) and a
multinomial logistic regression. :func:`evaluate_classifier` measures it on held-out tickets
against the majority-class baseline a sceptical analyst would use.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split

from crmine.contract import Verdict, bootstrap_interval, judge
from crmine.exceptions import DataError, NotFittedError
from crmine.service._tokenise import Tokeniser
from crmine.service._topics import tokens_identity

__all__ = ["ClassifierEvaluation", "TicketClassifier", "evaluate_classifier"]


class TicketClassifier(BaseEstimator):  # get_params/clone: works in sklearn's tools
    """A text classifier for tickets (TF-IDF + logistic regression).

    Parameters
    ----------
    C : float
        Inverse regularisation strength of the logistic regression.
    min_df, max_features : int
        Vocabulary limits of the TF-IDF.
    user_dict, stop_words
        As for :class:`crmine.service.TicketTopics`.

    Attributes
    ----------
    classes_ : ndarray
        The labels, in the column order of :meth:`predict_proba`.

    Examples
    --------
    >>> texts = ["parcel late", "late delivery", "refund charge", "charged twice"] * 5
    >>> labels = ["delivery", "delivery", "billing", "billing"] * 5
    >>> clf = TicketClassifier(min_df=1).fit(texts, labels)
    >>> clf.predict(["my parcel is late"]).tolist()
    ['delivery']
    """

    def __init__(self, *, C: float = 10.0, min_df: int = 2, max_features: int = 50_000,
                 user_dict: str | Path | None = None,
                 stop_words: Iterable[str] | None = None) -> None:
        self.C = C
        self.min_df = min_df
        self.max_features = max_features
        self.user_dict = user_dict
        self.stop_words = stop_words

    def fit(self, texts: Sequence[str | None], labels: Sequence[object]) -> TicketClassifier:
        """Learn to predict ``labels`` (one per text; missing labels are not allowed)."""
        texts, y = list(texts), pd.Series(list(labels), dtype=object)
        if len(texts) != len(y):
            raise DataError(f"{len(texts)} texts but {len(y)} labels: give one label per text")
        if y.isna().any():
            raise DataError(f"{int(y.isna().sum())} labels are missing: fit on labelled "
                            "tickets only and predict the others")
        if y.nunique() < 2:
            raise DataError(f"the labels hold one class only ({y.iloc[0]!r}): nothing to learn")
        self.tokeniser_ = Tokeniser.shared(user_dict=self.user_dict, stop_words=self.stop_words)
        min_df = self.min_df if len(texts) >= 10 * self.min_df else 1
        self.vectorizer_ = TfidfVectorizer(analyzer=tokens_identity, min_df=min_df,
                                           max_features=self.max_features, sublinear_tf=True)
        x = self.vectorizer_.fit_transform(self.tokeniser_.many(texts))
        self.model_ = LogisticRegression(C=self.C, max_iter=2_000).fit(x, y.astype(str))
        self.classes_ = self.model_.classes_
        return self

    def _x(self, texts: Sequence[str | None]):
        if not hasattr(self, "model_"):
            raise NotFittedError("TicketClassifier is not fitted: call fit(texts, labels) first")
        return self.vectorizer_.transform(self.tokeniser_.many(list(texts)))

    def predict(self, texts: Sequence[str | None]) -> np.ndarray:
        """The most probable label of each text."""
        x = self._x(texts)
        return np.asarray(self.model_.predict(x)) if len(texts) else np.array([], dtype=object)

    def predict_proba(self, texts: Sequence[str | None]) -> np.ndarray:
        """(texts x classes_) probabilities."""
        x = self._x(texts)  # first: says "not fitted" before model_ is looked up
        return np.asarray(self.model_.predict_proba(x))


@dataclass(frozen=True, slots=True)
class ClassifierEvaluation:
    """The held-out test of a :class:`TicketClassifier`.

    Attributes
    ----------
    accuracy, baseline : float
        Held-out accuracy, and the majority class's share of the held-out tickets.
    interval : (float, float)
        Bootstrap 95% interval of the accuracy.
    confusion : DataFrame
        ``actual``, ``predicted``, ``tickets`` for every pair seen.
    n_train, n_test : int
    verdict : Verdict
    """

    accuracy: float
    baseline: float
    interval: tuple[float, float]
    confusion: pd.DataFrame
    n_train: int
    n_test: int
    verdict: Verdict


def evaluate_classifier(texts: Sequence[str | None], labels: Sequence[object], *,
                        what: str = "reason", test_size: float = 0.3, random_state: int = 0,
                        min_gain: float = 0.05) -> ClassifierEvaluation:
    """Fit on a stratified part of the tickets and measure accuracy on the rest."""
    texts, y = list(texts), np.asarray([str(v) for v in labels], dtype=object)
    counts = pd.Series(y).value_counts()
    stratify = y if counts.min() >= 2 else None
    idx_train, idx_test = train_test_split(np.arange(len(y)), test_size=test_size,
                                           random_state=random_state, stratify=stratify)
    clf = TicketClassifier().fit([texts[i] for i in idx_train], y[idx_train])
    predicted = clf.predict([texts[i] for i in idx_test])
    actual = y[idx_test]
    hit = (predicted == actual).astype(float)
    majority = pd.Series(y[idx_train]).value_counts().index[0]
    base_hit = (actual == majority).astype(float)
    accuracy, baseline = float(hit.mean()), float(base_hit.mean())
    interval = bootstrap_interval(lambda i: float(hit[i].mean()), len(hit))
    confusion = (pd.DataFrame({"actual": actual, "predicted": predicted})
                 .groupby(["actual", "predicted"]).size().rename("tickets").reset_index())
    verdict = judge(
        f"held-out accuracy ({what})", accuracy, baseline, interval, min_gain=min_gain,
        why=f"The text classifier predicts the {what} of {accuracy:.0%} of {len(hit):,} "
            f"held-out tickets (95% interval {interval[0]:.0%}-{interval[1]:.0%}); always "
            f"answering the most common {what} ({majority}) is right for {baseline:.0%}.",
        what_to_try=f"label more tickets with their {what}, or check that the text is the "
                    "customer's own words (not a form code)",
    )
    return ClassifierEvaluation(accuracy, baseline, interval, confusion, len(idx_train),
                                len(idx_test), verdict)
