"""PII masking, tokenising mixed English/Chinese text, topics and routing on the demo truth."""

from __future__ import annotations

import socket

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import adjusted_rand_score

from crmine.exceptions import DataError, NotFittedError
from crmine.service import (
    TicketClassifier,
    TicketTopics,
    Tokeniser,
    _tokenise,
    evaluate_classifier,
    luhn_valid,
    mask_pii,
    script_of,
)


@pytest.mark.parametrize(("text", "masked"), [
    ("mail me at li.wei@example.com now", "mail me at [email] now"),
    ("我的电话是13812345678。", "我的电话是[phone]。"),
    ("call +86 138 1234 5678 please", "call [phone] please"),
    ("call +44 20 7946 0958", "call [phone]"),
    ("card 4111 1111 1111 1111 was charged", "card [card] was charged"),
    ("card 4111-1111-1111-1112 is not a real one", "card 4111-1111-1111-1112 is not a real one"),
    ("身份证11010519491231002X", "身份证[id]"),
    ("身份证110105194912310021", "身份证110105194912310021"),  # wrong check digit
    ("order O12345678 of 299 yuan", "order O12345678 of 299 yuan"),
    ("My name is Emma Smith, refund please", "My name is [name], refund please"),
    ("我叫王芳，快递没到", "我叫[name]，快递没到"),
])  # fmt: skip
def test_mask_pii(text: str, masked: str) -> None:
    assert mask_pii(text) == masked


def test_masking_hides_what_the_privacy_scanner_finds(demo_tickets) -> None:
    """One set of rules: every planted value the scanner recalls is gone from the masked
    text, and masking finds nothing more in a masked text."""
    from crmine.demo._pii import plant_pii
    from crmine.privacy import detect

    texts, truth = plant_pii(demo_tickets["text"].head(400), share=0.5, seed=2)
    masked = [mask_pii(t) for t in texts]
    assert len(truth) > 150
    kept = [(k, v) for r, k, v in truth[["row", "kind", "value"]].itertuples(index=False)
            if v in masked[r]]
    assert len(kept) <= 0.05 * len(truth), kept[:5]
    assert all(detect(m) == [] for m in masked)


def test_luhn() -> None:
    assert luhn_valid("79927398713") and not luhn_valid("79927398710")


def test_tokeniser_mixed_languages() -> None:
    tokens = Tokeniser()("您好，订单O12345678的快递三天没到，App也打不开 and my parcel is late!")
    assert {"快递", "app", "parcel", "late"} <= set(tokens)
    assert not {"您好", "and", "my", "is", "o12345678"} & set(tokens)
    assert Tokeniser(stop_words=["parcel"])("my parcel is late") == ["late"]
    assert script_of("订单没到 parcel") == "zh" and script_of("parcel 没到 late again") == "en"


def test_english_stemming_merges_forms_and_shows_the_common_one() -> None:
    tok = Tokeniser()
    forms = tok.many(["refund please", "refunds are late", "I was refunded twice",
                      "refunding takes long", "my refund, my refund", "cancelled order",
                      "please cancel", "charges", "charged twice"]
                     )
    assert {forms[i][0] for i in range(5)} == {"refund"}
    assert forms[5][0] == forms[6][0] and forms[7][0] == forms[8][0]
    assert tok.surface(forms[7][0]) in {"charges", "charged"}
    assert tok.surface("refund") == "refund"  # written most often as itself
    assert tok.surface("快递") == "快递"
    assert Tokeniser(stop_words=["parcel"])("two parcels late") == ["two", "late"]


def test_jieba_quiet_and_cached_outside_home(monkeypatch, tmp_path, capfd) -> None:
    monkeypatch.setattr(_tokenise, "_JIEBA", {})
    monkeypatch.setenv("HOME", str(tmp_path))
    tok = _tokenise.jieba_tokenizer()
    assert "crmine-jieba" in tok.tmp_dir
    assert tok.lcut("快递没有收到") and _tokenise.jieba_tokenizer() is tok  # built once
    assert capfd.readouterr().err == ""
    assert list(tmp_path.iterdir()) == []  # nothing written in $HOME


def test_user_dictionary(tmp_path) -> None:
    words = tmp_path / "words.txt"
    words.write_text("小米手环 10 n\n", encoding="utf-8")
    assert "小米手环" in Tokeniser(user_dict=words)("我的小米手环坏了")
    with pytest.raises(Exception, match="not found"):
        Tokeniser(user_dict=tmp_path / "missing.txt")


def test_topics_without_network(monkeypatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise OSError("network disabled by the test")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(_tokenise, "_JIEBA", {})
    texts = ["快递三天没到", "包裹快递延误", "快递没有收到包裹",
             "重复扣款请退款", "账单扣款不对", "退款没有到账单"] * 10
    truth = np.array([0, 0, 0, 1, 1, 1] * 10)
    model = TicketTopics(n_topics=2).fit(texts)
    assert adjusted_rand_score(truth, model.labels_) == 1.0
    auto = TicketTopics(n_topics="auto", k_range=(2, 4)).fit(texts)
    # each topic chosen automatically lies within one planted group (it may split one)
    assert (pd.crosstab(auto.labels_, truth) > 0).sum(axis=1).max() == 1


def test_topics_api_and_errors() -> None:
    with pytest.raises(NotFittedError):
        TicketTopics().transform(["x"])
    with pytest.raises(DataError, match="at least 2"):
        TicketTopics().fit(["only one"])
    with pytest.raises(DataError, match="usable word"):
        TicketTopics(n_topics=2).fit(["the", "and", "12345", None])


@pytest.fixture(scope="module")
def demo_tickets(demo_workspace) -> pd.DataFrame:
    tickets = demo_workspace.read("core.fct_tickets")
    truth = demo_workspace.read("truth.ticket_topics")
    return tickets.merge(truth[["ticket_id", "reason", "language"]], on="ticket_id")


@pytest.fixture(scope="module")
def demo_topics(demo_tickets) -> TicketTopics:
    return TicketTopics().fit(demo_tickets["text"])


def test_topics_recover_planted_reasons_in_each_language(demo_tickets, demo_topics) -> None:
    t, model = demo_tickets, demo_topics
    assert set(t["language"]) == {"en", "zh"} and 0.25 < (t["language"] == "zh").mean() < 0.55
    for language in ("en", "zh"):
        s = (t["language"] == language).to_numpy()
        assert adjusted_rand_score(t.loc[s, "reason"], model.labels_[s]) >= 0.8, language
        # every planted reason is the main reason of some topic of that language
        main = pd.crosstab(model.labels_[s], t.loc[s, "reason"]).idxmax(axis=1)
        assert set(main) == set(t["reason"])
    topics = model.topics_
    assert list(topics.columns[:6]) == ["topic", "language", "label", "terms", "size", "share"]
    assert topics["size"].sum() == (model.labels_ >= 0).sum()
    zh_terms = " ".join(topics.loc[topics["language"] == "zh", "terms"])
    assert "快递" in zh_terms and "账户" in zh_terms  # terms in the original script
    shown = " ".join(model.representatives_["text"])
    assert "@example.com" not in shown


def test_transform_assigns_new_tickets_like_the_fit(demo_tickets, demo_topics) -> None:
    again = demo_topics.transform(demo_tickets["text"].tolist())
    assert (again == demo_topics.labels_).mean() > 0.98
    assert demo_topics.transform(["zzz qqq"]).tolist() == [-1]


def test_classifier_routes_reasons(demo_tickets) -> None:
    t = demo_tickets
    ev = evaluate_classifier(t["text"].tolist(), t["category"])
    assert ev.accuracy > ev.baseline + 0.5 and ev.interval[0] > ev.baseline
    assert ev.verdict.status == "informative"
    assert ev.confusion["tickets"].sum() == ev.n_test
    clf = TicketClassifier().fit(t["text"], t["category"])
    proba = clf.predict_proba(["快递三天没到", "I was charged twice, refund please"])
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    assert clf.predict(["快递三天没到", "I was charged twice, refund please"]).tolist() == [
        "delivery", "billing"]
    with pytest.raises(NotFittedError):
        TicketClassifier().predict(["x"])
    with pytest.raises(DataError, match="one class"):
        TicketClassifier().fit(["a b", "c d"], ["x", "x"])
