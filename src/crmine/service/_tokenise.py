"""Tokenising mixed English / Chinese ticket text, offline.

Chinese runs are segmented with jieba's own dictionary (shipped inside the package, so
nothing is downloaded), optionally with a user dictionary; everything else is split into
lower-cased words, stemmed lightly (:func:`crmine.service._stem.stem`: "refunds", "refunded"
and "refunding" are one term; :meth:`Tokeniser.surface` gives back the word most often
written for a stem, for showing). Numbers, placeholders of masked PII and stop words
(English and Chinese, extendable) are dropped. jieba is initialised once per dictionary,
quietly, with its cache in a crmine folder of the system temp directory (never in $HOME).
"""

from __future__ import annotations

import logging
import re
import tempfile
import threading
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from crmine.exceptions import ConfigError
from crmine.service._pii import EMAIL_PATTERN
from crmine.service._stem import stem

__all__ = ["CHINESE_STOP_WORDS", "Tokeniser", "jieba_tokenizer"]

_CJK_RUN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+")
_WORD = re.compile(r"[a-z][a-z']+")
_PLACEHOLDER = re.compile(r"\[(?:email|phone|card|id|name)\]")

# Function words and ticket boilerplate that say nothing about the reason for contact.
_ZH_STOP_TEXT = """
    的 了 是 我 你 您 他 她 它 我们 你们 在 有 和 就 都 也 还 又 很 太
    吗 呢 吧 啊 呀 这 那 这个 那个 什么 怎么 为什么 一下 一个 已经 没有 不
    没 要 会 能 可以 请 请问 帮 帮我 谢谢 您好 你好 麻烦 客服 一直 突然
    根本 完全 以后 之后 时候 现在 马上 被 把 给 让 从 对 到 与 及 或者
    还是 但是 因为 所以 如果 非常 多 少 次 个 天 元 上 下 里 中 后 前 着
    过 得 地 之 为 于 以 其 而 且 么 啥 哪 谁 自己 尽快 处理
"""
_EN_STOP_TEXT = """
    a about above after again against all am an and any are as at be because been before
    being below between both but by can could did do does doing down during each few for
    from further had has have having he her here hers herself him himself his how i if in
    into is it its itself just me more most my myself no nor not now of off on once only or
    other our ours out over own same she should so some such than that the their them then
    there these they this those through to too under until up very was we were what when
    where which while who whom why will with would you your yours yourself hi hello dear
    thanks thank please help team customer service me also still ve ll don t s
"""
CHINESE_STOP_WORDS = frozenset(_ZH_STOP_TEXT.split())
_EN_STOP = frozenset(_EN_STOP_TEXT.split())

_LOCK = threading.Lock()
_JIEBA: dict[str | None, Any] = {}
_SHARED: dict[tuple[str | None, frozenset[str]], Tokeniser] = {}
MEMO_SIZE = 500_000


def _cache_dir() -> Path:
    folder = Path(tempfile.gettempdir()) / "crmine-jieba"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def jieba_tokenizer(user_dict: str | Path | None = None) -> Any:
    """One initialised ``jieba.Tokenizer`` per user dictionary (built once, quietly).

    Its dictionary cache goes to ``<tmp>/crmine-jieba``; jieba's start-up messages are not
    printed (they go to its logger, set to warnings only).
    """
    key = None if user_dict is None else str(Path(user_dict).resolve())
    with _LOCK:
        if key in _JIEBA:
            return _JIEBA[key]
        import jieba

        jieba.setLogLevel(logging.WARNING)
        logging.getLogger("jieba").setLevel(logging.WARNING)
        tok = jieba.Tokenizer()
        tok.tmp_dir = str(_cache_dir())
        tok.initialize()
        if key is not None:
            path = Path(key)
            if not path.is_file():
                raise ConfigError(
                    f"jieba user dictionary {user_dict} not found: give a UTF-8 text file "
                    "with one word per line (word [frequency] [part of speech])"
                )
            tok.load_userdict(str(path))
        _JIEBA[key] = tok
        return tok


class Tokeniser:
    """Callable turning one ticket text into its tokens (picklable, no global state).

    Parameters
    ----------
    user_dict : path, optional
        A jieba user dictionary (one word per line) for product names and company jargon.
    stop_words : iterable of str, optional
        Extra stop words (either language) on top of the built-in lists.
    """

    def __init__(self, *, user_dict: str | Path | None = None,
                 stop_words: Iterable[str] | None = None) -> None:
        self.user_dict = user_dict
        self.stop_words = frozenset(stop_words or ())
        self._stop = _EN_STOP | CHINESE_STOP_WORDS | {w.lower() for w in self.stop_words}
        self._cut = jieba_tokenizer(user_dict).lcut_for_search
        self._memo: dict[str, list[str]] = {}
        self._runs: dict[str, list[str]] = {}
        self._stems: dict[str, str] = {}
        self._surfaces: dict[str, dict[str, int]] = {}  # stem -> word -> times written

    def __getstate__(self) -> dict[str, Any]:
        return {"user_dict": self.user_dict, "stop_words": self.stop_words}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(**state)  # type: ignore[misc]

    def __call__(self, text: str) -> list[str]:
        # Numbers (phones, cards, IDs) never become tokens; e-mail addresses would (names),
        # so only they are removed here: a third of the time of a full mask_pii.
        if "@" in text:
            text = EMAIL_PATTERN.sub(" ", text)
        text = _PLACEHOLDER.sub(" ", text).lower()
        out: list[str] = []
        pos = 0
        for run in _CJK_RUN.finditer(text):
            out.extend(self._english(_WORD.findall(text, pos, run.start())))
            out.extend(self._segment(run.group(0)))
            pos = run.end()
        out.extend(self._english(_WORD.findall(text, pos)))
        return out

    def _english(self, words: list[str]) -> list[str]:
        """Stems of the words that are not stop words (as written or once stemmed)."""
        stop, stems, surfaces = self._stop, self._stems, self._surfaces
        out = []
        for w in words:
            if w in stop:
                continue
            s = stems.get(w)
            if s is None:
                s = stems[w] = stem(w)
            if s in stop:
                continue
            seen = surfaces.setdefault(s, {})
            seen[w] = seen.get(w, 0) + 1
            out.append(s)
        return out

    def surface(self, term: str) -> str:
        """The word most often written for the stem ``term`` in the texts tokenised so far
        (``term`` itself for a Chinese word or a stem never seen)."""
        seen = self._surfaces.get(term)
        return max(seen.items(), key=lambda kv: (kv[1], -len(kv[0])))[0] if seen else term

    def _segment(self, run: str) -> list[str]:
        """jieba's words of one run of CJK characters, stop words dropped; runs recur across
        tickets far more than whole texts do, so each is segmented once."""
        words = self._runs.get(run)
        if words is None:
            words = [w for w in self._cut(run, HMM=False) if len(w) > 1 and w not in self._stop]
            if len(self._runs) < MEMO_SIZE:
                self._runs[run] = words
        return words

    def many(self, texts: Sequence[str | None]) -> list[list[str]]:
        """Tokens of every text; identical texts are tokenised once (remembered across calls
        up to ``MEMO_SIZE`` texts, so fitting topics and classifiers on the same tickets
        segments them once)."""
        seen = self._memo
        out = []
        for t in texts:
            t = t if isinstance(t, str) else ""
            toks = seen.get(t)
            if toks is None:
                toks = self(t)
                if len(seen) < MEMO_SIZE:
                    seen[t] = toks
            out.append(toks)
        return out

    @classmethod
    def shared(cls, *, user_dict: str | Path | None = None,
               stop_words: Iterable[str] | None = None) -> Tokeniser:
        """One tokeniser (and its memory of texts) per configuration in this process."""
        key = (None if user_dict is None else str(user_dict), frozenset(stop_words or ()))
        with _LOCK:
            found = _SHARED.get(key)
        if found is None:
            found = cls(user_dict=user_dict, stop_words=stop_words)
            with _LOCK:
                _SHARED[key] = found
        return found
