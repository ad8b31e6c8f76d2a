"""``TicketTopics``: topics of ticket text (English, Chinese, mixed) by TF-IDF + NMF, offline.

A topic model cannot tie a Chinese word to its English translation, so a mixed corpus is
split by script (a ticket is Chinese when at least ``CJK_SHARE`` of its letters are CJK;
English words inside Chinese tickets stay with them) and each language gets its own TF-IDF
+ NMF; topic numbers run on across languages and ``topics_`` names each topic's language.

The number of topics per language is chosen on a sample of at most ``sample_size`` tickets
(the final fit uses them all, so choosing costs a bounded amount whatever the corpus size):
NMF is fitted for every k in ``k_range`` and each ticket assigned to its heaviest topic; the
cosine silhouette of that assignment (Rousseeuw 1987) rises while k merges real topics, dips
or stalls at the first k that splits one, and on templated ticket text then climbs again as
topics split into their stock phrases. So k is the *first* local peak: the fewest topics
whose silhouette the next k does not beat by ``min_rise``, among those reaching ``plateau``
of the best so far (which keeps a blip at two or three topics from stopping the climb
early); k above the peak are not fitted. Each candidate k is fitted from the SVD start and
``restarts`` random ones, keeping the best silhouette, because NMF's answer depends on its
start; the final fit on all tickets starts from the chosen sample topics.

Taking the fewest topics reaching 85 % of the best silhouette (the earlier rule) followed
the later climb: on the demo's tickets it chose 5 to 7 topics per language for 6 planted
reasons depending on the corpus size (14 in all, ARI 0.69, on the 10,000-customer demo).
The first peak is 5 on the demo's tickets at 3k, 12k and 100k tickets in both languages:
NMF at 6 topics splits the largest reason (delivery) rather than isolating the smallest
(cancellation, 3 %), so 5 is also the best ARI any k reaches.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.sparse import csr_matrix
from sklearn.base import BaseEstimator
from sklearn.decomposition import NMF
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.utils.extmath import randomized_svd
from threadpoolctl import threadpool_limits

from crmine.exceptions import DataError, NotFittedError
from crmine.service._pii import mask_pii
from crmine.service._tokenise import Tokeniser

__all__ = ["CJK_SHARE", "TicketTopics", "cosine_silhouette", "first_peak", "script_of",
           "tokens_identity"]

CJK_SHARE = 0.2
MIN_LANGUAGE_TICKETS = 30  # fewer tickets in a script join the largest language's model
_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_LETTER = re.compile(r"[^\W\d_]")


def tokens_identity(tokens: list[str]) -> list[str]:
    """The analyser of pre-tokenised documents (module level so fitted models pickle)."""
    return tokens


def script_of(text: str | None) -> str:
    """``"zh"`` when at least ``CJK_SHARE`` of a text's letters are CJK, else ``"en"``.

    Examples
    --------
    >>> script_of("App每次付款都闪退"), script_of("The app crashes at checkout")
    ('zh', 'en')
    """
    if not isinstance(text, str) or not text:
        return "en"
    letters = len(_LETTER.findall(text))
    return "zh" if letters and len(_CJK.findall(text)) / letters >= CJK_SHARE else "en"


def _top_terms(components: np.ndarray, vocabulary: np.ndarray, n: int) -> list[list[str]]:
    order = np.argsort(-components, axis=1)[:, :n]
    return [[str(vocabulary[j]) for j in row if components[i, j] > 0]
            for i, row in enumerate(order)]


def nndsvda_start(u: np.ndarray, sv: np.ndarray, vt: np.ndarray, k: int, mean: float
                  ) -> tuple[np.ndarray, np.ndarray]:
    """NMF starting factors for k topics from one truncated SVD (NNDSVDa, Boutsidis &
    Gallopoulos 2008): the SVD is computed once for the largest k tried and every smaller
    k reuses its leading components, instead of one SVD per candidate."""
    w = np.zeros((u.shape[0], k))
    h = np.zeros((k, vt.shape[1]))
    w[:, 0] = np.sqrt(sv[0]) * np.abs(u[:, 0])
    h[0, :] = np.sqrt(sv[0]) * np.abs(vt[0, :])
    for j in range(1, k):
        x, y = u[:, j], vt[j, :]
        xp, xn, yp, yn = np.maximum(x, 0), np.maximum(-x, 0), np.maximum(y, 0), np.maximum(-y, 0)
        mp = np.linalg.norm(xp) * np.linalg.norm(yp)
        mn = np.linalg.norm(xn) * np.linalg.norm(yn)
        a, b, m = (xp, yp, mp) if mp > mn else (xn, yn, mn)
        if m <= 0:
            continue
        scale = np.sqrt(sv[j] * m)
        w[:, j] = scale * a / np.linalg.norm(a)
        h[j, :] = scale * b / np.linalg.norm(b)
    w[w < 1e-6] = mean
    h[h < 1e-6] = mean
    return w, h


def cosine_silhouette(x: csr_matrix, labels: np.ndarray) -> float:
    """The mean silhouette of ``labels`` under cosine distance (``silhouette_score(x,
    labels, metric="cosine")``), from cluster sums instead of all pairwise distances.

    With unit rows the mean cosine distance from a row to a cluster is one minus its dot
    product with the cluster's sum over the cluster's size, so the cost is one sparse
    product (rows x clusters) rather than rows x rows: 30 x faster on 3,000 tickets.
    Rows of zero norm must have been removed.
    """
    from sklearn.preprocessing import normalize

    x = normalize(x)
    n = x.shape[0]
    _, cluster = np.unique(labels, return_inverse=True)
    size = np.bincount(cluster).astype(float)
    if len(size) < 2:
        return -1.0
    member = csr_matrix((np.ones(n), (np.arange(n), cluster)), shape=(n, len(size)))
    sims = x @ (member.T @ x).T  # row . cluster sum
    sim = sims.toarray() if hasattr(sims, "toarray") else np.asarray(sims)
    rows = np.arange(n)
    own_size = size[cluster]
    a = 1.0 - (sim[rows, cluster] - 1.0) / np.maximum(own_size - 1.0, 1.0)
    other = 1.0 - sim / size
    other[rows, cluster] = np.inf
    b = other.min(axis=1)
    a, b = np.maximum(a, 0.0), np.maximum(b, 0.0)  # as cosine_distances clips rounding
    with np.errstate(invalid="ignore", divide="ignore"):
        score = np.where(own_size > 1, (b - a) / np.maximum(a, b), 0.0)
    return float(np.nan_to_num(score).mean())


def _weights_for(x: csr_matrix, h: np.ndarray) -> np.ndarray:
    """Starting document weights for topics ``h``: each row's projection on each topic."""
    w = np.maximum(np.asarray(x @ h.T), 0.0) / np.maximum((h * h).sum(axis=1), 1e-12)
    return w + 1e-6


def _seeded_start(x: csr_matrix, k: int, seed: int) -> np.ndarray:
    """k rows of ``x`` chosen by k-means++ seeding (Arthur & Vassilvitskii 2007) as topics."""
    from sklearn.cluster import kmeans_plusplus

    centers, _ = kmeans_plusplus(x, k, random_state=seed)
    h = centers.toarray() if hasattr(centers, "toarray") else np.asarray(centers)
    return np.maximum(h, 0.0) + 1e-6


def first_peak(ks: Sequence[int], scores: Sequence[float], *, plateau: float = 0.5,
               min_rise: float = 0.01) -> int:
    """The fewest ``ks`` whose score reaches ``plateau`` of the best and is not beaten by
    the next k's by more than ``min_rise`` (the last k when the scores keep rising).

    Examples
    --------
    >>> first_peak([2, 3, 4, 5, 6, 7], [0.12, 0.21, 0.26, 0.31, 0.28, 0.35])
    5
    >>> first_peak([2, 3, 4, 5], [0.15, 0.10, 0.20, 0.40])  # 2 is below half the best
    5
    """
    best = max(scores)
    for i, (k, score) in enumerate(zip(ks, scores, strict=True)):
        if score < plateau * best:
            continue
        if i + 1 == len(ks) or scores[i + 1] <= score + min_rise:
            return int(k)
    return int(ks[-1])


@dataclass(frozen=True, slots=True)
class _LanguageModel:
    language: str
    vectorizer: TfidfVectorizer
    nmf: NMF
    offset: int  # global number of this language's first topic


class TicketTopics(BaseEstimator):  # get_params/clone: works in sklearn's tools
    """Topics of ticket texts, per language, with the number of topics chosen automatically.

    Parameters
    ----------
    n_topics : int or "auto"
        Topics per language, or ``"auto"`` to choose them within ``k_range``.
    k_range : (int, int)
        Fewest and most topics per language tried by ``"auto"``.
    plateau : float
        ``"auto"`` considers only numbers of topics whose silhouette reaches this share of
        the best.
    min_rise : float
        ``"auto"`` stops at the first number of topics whose silhouette the next one does
        not beat by more than this.
    restarts : int
        Starts of each candidate NMF besides the SVD one, alternately random and k-means++
        seeded tickets (``"auto"``; the start giving the best silhouette is kept and
        starts the final fit on all tickets).
    n_terms : int
        Top terms kept per topic.
    max_features, min_df : int
        Vocabulary size limit and the fewest tickets a term must appear in.
    user_dict : path, optional
        A jieba user dictionary; ``stop_words`` extra stop words (see :class:`Tokeniser`).
    sample_size : int
        Tickets per language the number of topics is chosen on.
    random_state : int

    Attributes
    ----------
    labels_ : ndarray of int
        Topic of each fitted ticket (-1 for a ticket with no usable word).
    languages_ : ndarray of str
        The script each fitted ticket was modelled in.
    topics_ : DataFrame
        One row per topic: ``topic``, ``language``, ``label`` (its top three terms),
        ``terms`` (top terms in their original script, comma separated), ``size``, ``share``.
    representatives_ : DataFrame
        ``topic``, ``rank``, ``text``: the tickets most typical of each topic, PII masked.
    selection_ : DataFrame
        ``language``, ``k``, ``silhouette`` of every candidate fitted (up to one past the
        chosen k; empty for a fixed n_topics).
    n_topics_ : int
        Topics in all languages.

    References
    ----------
    Rousseeuw, P. J. (1987). Silhouettes: a graphical aid to the interpretation and
    validation of cluster analysis. J. Comput. Appl. Math. 20, 53-65.
    Boutsidis, C. & Gallopoulos, E. (2008). SVD based initialization: a head start for
    nonnegative matrix factorization. Pattern Recognition 41(4), 1350-1362.
    Lee, D. D. & Seung, H. S. (1999). Learning the parts of objects by non-negative matrix
    factorization. Nature 401, 788-791.

    Examples
    --------
    >>> texts = ["my parcel is late", "late delivery again", "parcel never arrived",
    ...          "refund my payment", "charged twice refund", "payment charged wrong"] * 5
    >>> model = TicketTopics(n_topics=2, min_df=1).fit(texts)
    >>> sorted(model.topics_["size"].tolist())
    [15, 15]
    """

    def __init__(self, *, n_topics: int | str = "auto", k_range: tuple[int, int] = (2, 14),
                 plateau: float = 0.5, min_rise: float = 0.01, restarts: int = 4,
                 n_terms: int = 10,
                 max_features: int = 20_000,
                 min_df: int = 2, user_dict: str | Path | None = None,
                 stop_words: Iterable[str] | None = None, sample_size: int = 3_000,
                 random_state: int = 0) -> None:
        self.n_topics = n_topics
        self.k_range = k_range
        self.plateau = plateau
        self.min_rise = min_rise
        self.restarts = restarts
        self.n_terms = n_terms
        self.max_features = max_features
        self.min_df = min_df
        self.user_dict = user_dict
        self.stop_words = stop_words
        self.sample_size = sample_size
        self.random_state = random_state

    # -- fitting -----------------------------------------------------------------------

    def _nmf(self, k: int) -> NMF:
        return NMF(n_components=k, init="nndsvda", max_iter=300, tol=1e-4,
                   random_state=self.random_state)

    def _choose_k(self, x: csr_matrix, language: str
                  ) -> tuple[int, list[dict[str, object]], np.ndarray | None]:
        rng = np.random.default_rng(self.random_state)
        xs = x[np.asarray(x.sum(axis=1)).ravel() > 0]
        if xs.shape[0] > self.sample_size:
            xs = xs[np.sort(rng.choice(xs.shape[0], size=self.sample_size, replace=False))]
        lo, hi = max(self.k_range[0], 2), min(self.k_range[1], xs.shape[0] - 1, xs.shape[1])
        rows: list[dict[str, object]] = []
        if hi < lo:
            return 1, rows, None
        u, sv, vt = randomized_svd(xs, hi, random_state=self.random_state)
        mean = float(xs.mean())
        starts: dict[int, np.ndarray] = {}
        for k in range(lo, hi + 1):
            # NMF's answer depends on where it starts (on a demo sample, 6 topics either
            # found the 6 reasons or split one and merged two): the SVD start and
            # ``restarts`` random ones, keeping the assignment with the best silhouette.
            best_score, best_h = -2.0, None
            for r in range(1 + self.restarts):
                if r == 0:
                    w0, h0 = nndsvda_start(u, sv, vt, k, mean)
                    nmf = NMF(n_components=k, init="custom", max_iter=300, tol=1e-4,
                              random_state=self.random_state)
                    w = nmf.fit_transform(xs, W=w0, H=h0)
                elif r % 2:
                    nmf = NMF(n_components=k, init="random", max_iter=300, tol=1e-4,
                              random_state=self.random_state + r)
                    w = nmf.fit_transform(xs)
                else:
                    # tickets far apart (k-means++ seeding) as the starting topics: a
                    # small reason is as likely a seed as a large one
                    h0 = _seeded_start(xs, k, self.random_state + r)
                    nmf = NMF(n_components=k, init="custom", max_iter=300, tol=1e-4,
                              random_state=self.random_state + r)
                    w = nmf.fit_transform(xs, W=_weights_for(xs, h0), H=h0)
                labels = np.argmax(w, axis=1)
                score = cosine_silhouette(xs, labels)
                if score > best_score:
                    best_score, best_h = score, nmf.components_
            assert best_h is not None
            starts[k] = best_h
            rows.append({"language": language, "k": k, "silhouette": best_score})
            # the first peak is known once the next k is scored: larger k are not fitted
            scores = [float(r["silhouette"]) for r in rows]  # type: ignore[arg-type]
            if (len(scores) >= 2 and scores[-2] >= self.plateau * max(scores)
                    and scores[-1] <= scores[-2] + self.min_rise):
                return k - 1, rows, starts[k - 1]
        if not rows:
            return 1, rows, None
        k = first_peak([int(r["k"]) for r in rows],  # type: ignore[call-overload]
                       [float(r["silhouette"]) for r in rows],  # type: ignore[arg-type]
                       plateau=self.plateau, min_rise=self.min_rise)
        return k, rows, starts[k]

    def _fit_language(self, tokens: list[list[str]], language: str, offset: int
                      ) -> tuple[_LanguageModel, np.ndarray, list[dict[str, object]]]:
        min_df = self.min_df if len(tokens) >= 10 * self.min_df else 1
        vectorizer = TfidfVectorizer(analyzer=tokens_identity, min_df=min_df,
                                     max_features=self.max_features, sublinear_tf=True)
        try:
            x = vectorizer.fit_transform(tokens)
        except ValueError:
            raise DataError(
                f"no {language} ticket text holds a usable word (after removing stop words, "
                "numbers and masked personal data): check the text column"
            ) from None
        rows: list[dict[str, object]] = []
        start = None
        if self.n_topics == "auto":
            k, rows, start = self._choose_k(x, language)
        else:
            k = int(self.n_topics)
            if k < 1:
                raise DataError(f"n_topics must be a whole number >= 1 or 'auto', got {k}")
        k = max(1, min(k, x.shape[1], x.shape[0]))
        nmf = self._nmf(k)
        if start is not None and start.shape[0] == k:
            # all tickets, from the topics chosen on the sample
            h0 = start + 1e-6
            nmf = NMF(n_components=k, init="custom", max_iter=300, tol=1e-4,
                      random_state=self.random_state)
            w = nmf.fit_transform(x, W=_weights_for(x, h0), H=h0)
        else:
            w = nmf.fit_transform(x)
        return _LanguageModel(language, vectorizer, nmf, offset), w, rows

    def fit(self, texts: Sequence[str | None]) -> TicketTopics:
        """Learn topics from ``texts`` (a list or Series of strings; missing are empty)."""
        texts = list(texts)
        if len(texts) < 2:
            raise DataError(f"topics need at least 2 ticket texts, got {len(texts)}")
        # Many small factorisations: one BLAS thread each is faster than threads contending.
        with threadpool_limits(limits=1, user_api="blas"):
            return self._fit(texts)

    def _fit(self, texts: list[str | None]) -> TicketTopics:
        self.tokeniser_ = Tokeniser.shared(user_dict=self.user_dict, stop_words=self.stop_words)
        tokens = self.tokeniser_.many(texts)
        languages = np.array([script_of(t) for t in texts], dtype=object)
        counts = pd.Series(languages).value_counts()
        main = str(counts.index[0])
        languages[np.isin(languages, counts.index[counts < MIN_LANGUAGE_TICKETS])] = main
        self.languages_ = languages.astype(str)
        self.models_: list[_LanguageModel] = []
        labels = np.full(len(texts), -1, dtype=np.int64)
        weights = np.zeros(len(texts))
        selection: list[dict[str, object]] = []
        terms: list[list[str]] = []
        topic_language: list[str] = []
        offset = 0
        for language in sorted(set(self.languages_)):
            idx = np.flatnonzero(self.languages_ == language)
            model, w, rows = self._fit_language([tokens[i] for i in idx], language, offset)
            self.models_.append(model)
            selection += rows
            labels[idx] = self._labels(w) + np.where(w.max(axis=1) > 0, offset, 0)
            weights[idx] = w.max(axis=1)
            vocab = model.vectorizer.get_feature_names_out()
            # stems shown as the word customers wrote most often ("charged", not "charg")
            terms += [[self.tokeniser_.surface(w) for w in row]
                      for row in _top_terms(model.nmf.components_, vocab, self.n_terms)]
            topic_language += [language] * model.nmf.n_components
            offset += model.nmf.n_components
        self.n_topics_ = offset
        self.labels_ = labels
        self.selection_ = pd.DataFrame(selection, columns=["language", "k", "silhouette"])
        sizes = np.bincount(labels[labels >= 0], minlength=offset)
        self.topics_ = pd.DataFrame({
            "topic": np.arange(offset, dtype=np.int64),
            "language": topic_language,
            "label": [" / ".join(t[:3]) for t in terms],
            "terms": [", ".join(t) for t in terms],
            "size": sizes.astype(np.int64),
            "share": sizes / max(len(labels), 1),
        })  # fmt: skip
        self.representatives_ = self._representatives(weights, texts)
        return self

    @staticmethod
    def _labels(w: np.ndarray) -> np.ndarray:
        labels = np.argmax(w, axis=1).astype(np.int64)
        labels[w.max(axis=1) <= 0] = -1
        return labels

    def _representatives(self, weight: np.ndarray, texts: list[str | None], n: int = 3
                         ) -> pd.DataFrame:
        rows = []
        for topic in range(self.n_topics_):
            members = np.flatnonzero(self.labels_ == topic)
            shown: list[str] = []
            for i in members[np.argsort(-weight[members], kind="stable")]:
                text = mask_pii(str(texts[i] or ""))
                if text not in shown:
                    shown.append(text)
                if len(shown) == n:
                    break
            rows += [{"topic": topic, "rank": r + 1, "text": t} for r, t in enumerate(shown)]
        return pd.DataFrame(rows, columns=["topic", "rank", "text"])

    # -- using -------------------------------------------------------------------------

    def transform(self, texts: Sequence[str | None]) -> np.ndarray:
        """The topic of each new text (-1 when it holds no word the model knows)."""
        if not hasattr(self, "models_"):
            raise NotFittedError("TicketTopics is not fitted: call fit(texts) first")
        texts = list(texts)
        tokens = self.tokeniser_.many(texts)
        by_language = {m.language: m for m in self.models_}
        main = max(self.models_, key=lambda m: int((self.languages_ == m.language).sum()))
        routed = np.array([by_language.get(script_of(t), main).language for t in texts])
        labels = np.full(len(texts), -1, dtype=np.int64)
        for model in self.models_:
            idx = np.flatnonzero(routed == model.language)
            if not len(idx):
                continue
            w = model.nmf.transform(model.vectorizer.transform([tokens[i] for i in idx]))
            local = self._labels(np.asarray(w))
            labels[idx] = np.where(local >= 0, local + model.offset, -1)
        return labels
