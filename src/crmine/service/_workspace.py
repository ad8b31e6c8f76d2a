"""``run_service``: contact analysis, ticket topics and routing, and the churn link."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from crmine.contract import (
    SkipAnalysis,
    Verdict,
    bootstrap_interval,
    judge,
    record_verdict,
    recorded_warnings,
)
from crmine.service._agent_groups import (
    AGENT_DIFF_COLUMNS,
    AGENT_GROUP_COLUMNS,
    AgentGroups,
    agent_groups,
)
from crmine.service._churn_link import LINK_COLUMNS, ChurnLink, churn_link, subscription_months
from crmine.service._classify import ClassifierEvaluation, TicketClassifier, evaluate_classifier
from crmine.service._contacts import (
    GROUP_COLUMNS,
    PERIOD_COLUMNS,
    contact_groups,
    contact_periods,
    prepare_tickets,
    resolution_curves,
)
from crmine.service._pii import mask_pii
from crmine.service._seasonality import (
    VOLUME_COLUMNS,
    VolumeSeasonality,
    volume_seasonality,
    weekly_volume,
)
from crmine.service._spend_link import SPEND_COLUMNS, SpendLink, customer_months, spend_link
from crmine.service._topics import TicketTopics, script_of
from crmine.warehouse import Workspace

__all__ = [
    "ROUTING_COLUMNS",
    "TOPIC_COLUMNS",
    "ServiceRun",
    "TopicEvaluation",
    "fit_topics",
    "load_tickets",
    "route_texts",
    "run_service",
    "service_settings",
]

TICKETS = "core.fct_tickets"
SUBSCRIPTIONS = "core.fct_subscriptions"
MODEL_VERSION = "service-1"
TOPIC_COLUMNS = ("topic", "language", "label", "terms", "size", "share", "complaint_share",
                 "csat_mean", "churn_rate")
ROUTING_COLUMNS = ("ticket_id", "customer_id", "opened_ts", "predicted_category",
                   "probability", "text")
TOPIC_MIN_GAIN = 0.3  # adjusted Rand index with the recorded reason


def service_settings(ws: Workspace) -> dict[str, Any]:
    """The ``service.*`` settings with their defaults."""
    n_topics = ws.setting("service.n_topics", "auto")
    stop = ws.setting("service.stop_words")
    return {
        "repeat_days": int(ws.setting("service.repeat_days", 7)),
        "sla_hours": float(ws.setting("service.sla_hours", 48.0)),
        "window_days": int(ws.setting("service.churn_window_days", 90)),
        "n_topics": n_topics if str(n_topics) == "auto" else int(n_topics),
        "user_dict": ws.setting("service.jieba_user_dict"),
        "stop_words": [w.strip() for w in str(stop).split(",") if w.strip()] if stop else None,
    }


def data_end(ws: Workspace, tickets: pd.DataFrame) -> pd.Timestamp:
    """The exclusive end of the data: the day after ``observation_end`` or the last ticket."""
    setting = ws.setting("observation_end")
    if setting:
        return pd.Timestamp(setting).normalize() + pd.Timedelta(days=1)
    last = pd.concat([pd.to_datetime(tickets["opened_ts"]),
                      pd.to_datetime(tickets["closed_ts"])]).max()
    return pd.Timestamp(last).normalize() + pd.Timedelta(days=1)


def load_tickets(ws: Workspace) -> tuple[pd.DataFrame, pd.Timestamp]:
    """The workspace's tickets prepared for analysis, and the data end."""
    if not ws.has_table(TICKETS):
        raise SkipAnalysis(f"no {TICKETS} in the workspace: load tickets with `crmine ingest`")
    raw = ws.read(ws.resolved(TICKETS))  # one customer per person once resolved
    if raw.empty:
        raise SkipAnalysis(f"{TICKETS} is empty: load tickets with `crmine ingest`")
    end = data_end(ws, raw)
    s = service_settings(ws)
    return prepare_tickets(raw, end, repeat_days=s["repeat_days"], sla_hours=s["sla_hours"]), end


@dataclass(frozen=True, slots=True)
class TopicEvaluation:
    """Topics fitted on part of the tickets, judged on the rest against the recorded reason.

    ``ari`` is the adjusted Rand index between held-out tickets' topics and their recorded
    category within each language, averaged by tickets (0 for topics unrelated to it, 1 for
    a perfect match), with a bootstrap interval.
    """

    model: TicketTopics
    labels: np.ndarray  # topic of every ticket (fitted or assigned by transform)
    held_out: np.ndarray  # bool per ticket
    ari: float
    interval: tuple[float, float]
    verdict: Verdict
    # per language: held-out tickets with a reason, topics, adjusted Rand index
    by_language: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(
        columns=["language", "tickets", "topics", "ari"]))


def fit_topics(tickets: pd.DataFrame, *, n_topics: int | str = "auto",
               user_dict: str | None = None, stop_words: list[str] | None = None,
               holdout_share: float = 0.3, random_state: int = 0) -> TopicEvaluation:
    """Fit :class:`TicketTopics` on ``1 - holdout_share`` of the tickets, assign the rest with
    ``transform`` and judge the held-out agreement of topic and recorded category."""
    from sklearn.metrics import adjusted_rand_score

    texts = tickets["text"].tolist()
    rng = np.random.default_rng(random_state)
    held = rng.random(len(texts)) < holdout_share
    if held.all() or (~held).sum() < 2:
        held[:] = False
    model = TicketTopics(n_topics=n_topics, user_dict=user_dict, stop_words=stop_words,
                         random_state=random_state)
    model.fit([texts[i] for i in np.flatnonzero(~held)])
    labels = np.full(len(texts), -1, dtype=np.int64)
    labels[~held] = model.labels_
    if held.any():
        labels[held] = model.transform([texts[i] for i in np.flatnonzero(held)])
    category = tickets["category"].astype(str).to_numpy()
    known = held & (category != "(unknown)")
    if known.sum() < 20 or len(set(category[known])) < 2:
        verdict = Verdict("not_informative", "held-out adjusted Rand index (topic vs reason)",
                          None, 0.0, why="Too few held-out tickets carry a recorded reason to "
                          "check the topics against.", what_to_try="record a reason "
                          "(category) on the tickets")
        return TopicEvaluation(model, labels, held, float("nan"), (np.nan, np.nan), verdict)
    cat, lab = category[known], labels[known]
    # Topics are per language, so agreement is measured within each language and averaged
    # by its tickets: a reason written in two languages is still one reason.
    script = np.array([script_of(x) for x in np.asarray(texts, dtype=object)[known]])

    def within_languages(i: np.ndarray) -> float:
        total, n = 0.0, 0
        for language in np.unique(script[i]):
            j = i[script[i] == language]
            if len(j) >= 2:
                total += len(j) * float(adjusted_rand_score(cat[j], lab[j]))
                n += len(j)
        return total / n if n else float("nan")

    everyone = np.arange(len(cat))
    ari = within_languages(everyone)
    topics_per = model.topics_["language"].value_counts()
    by_language = pd.DataFrame([
        {"language": str(lang), "tickets": int((script == lang).sum()),
         "topics": int(topics_per.get(lang, 0)),
         "ari": float(adjusted_rand_score(cat[script == lang], lab[script == lang]))}
        for lang in np.unique(script) if (script == lang).sum() >= 2])  # fmt: skip
    per = "; ".join(f"{r.language} {r.ari:.2f} with {r.topics} topics ({r.tickets:,} tickets)"
                    for r in by_language.itertuples())
    interval = bootstrap_interval(within_languages, len(cat), repeats=50,
                                  random_state=random_state)
    verdict = judge(
        "held-out adjusted Rand index (topic vs recorded reason)", ari, 0.0, interval,
        min_gain=TOPIC_MIN_GAIN,
        why=f"{model.n_topics_} topics found in the text agree with the recorded reason of "
            f"{int(known.sum()):,} held-out tickets with adjusted Rand index {ari:.2f} (95% "
            f"interval {interval[0]:.2f}-{interval[1]:.2f}; 0 is what topics unrelated to "
            f"the reason would score). By language: {per}.",
        what_to_try="check that the text is the customer's own words; set service.n_topics, "
                    "a jieba user dictionary or stop words for your jargon",
    )
    return TopicEvaluation(model, labels, held, ari, interval, verdict, by_language)


@dataclass(frozen=True, slots=True)
class ServiceRun:
    """The result of :func:`run_service`.

    Attributes
    ----------
    groups, periods, curves : DataFrame
        Contact analysis per dimension value, per month, and resolution-time curves.
    topics : DataFrame
        One row per topic (``TOPIC_COLUMNS``); ``ticket_topics`` the topic of every ticket.
    topic_evaluation : TopicEvaluation
    reason_classifier, complaint_classifier : ClassifierEvaluation or None
    routing : DataFrame
        Tickets without a reason and the reason the classifier routes them to (empty when
        the classifier is not informative).
    link : ChurnLink or None
        The service -> churn hazard ratios (None without subscriptions).
    spend : SpendLink or None
        The service -> later spend ratios (None without orders).
    volume : VolumeSeasonality
        Weekly ticket volume split into trend and yearly season, with its test.
    agents : AgentGroups or None
        CSAT and resolution time by agent group (None without the column).
    """

    end: pd.Timestamp
    groups: pd.DataFrame
    periods: pd.DataFrame
    curves: pd.DataFrame
    topics: pd.DataFrame
    ticket_topics: pd.DataFrame
    topic_evaluation: TopicEvaluation
    reason_classifier: ClassifierEvaluation | None
    complaint_classifier: ClassifierEvaluation | None
    routing: pd.DataFrame
    link: ChurnLink | None
    spend: SpendLink | None
    volume: VolumeSeasonality
    agents: AgentGroups | None
    marts: tuple[str, ...]
    verdict: Verdict

    def summary(self) -> dict[str, Any]:
        """The run as a JSON-able dict."""
        overall = self.groups[self.groups["dimension"] == "all"].iloc[0]
        out: dict[str, Any] = {
            "data_end": f"{self.end:%Y-%m-%d}",
            "tickets": int(overall["tickets"]),
            "complaint_share": float(overall["complaint_share"]),
            "median_hours": float(overall["median_hours"]),
            "km_median_hours": float(overall["km_median_hours"]),
            "still_open": int(overall["still_open"]),
            "repeat_rate": float(overall["repeat_rate"]),
            "first_contact_resolution": float(overall["first_contact_resolution"]),
            "csat_mean": float(overall["csat_mean"]),
            "topics": len(self.topics),
            "topic_ari": self.topic_evaluation.ari,
            "topic_ari_by_language": self.topic_evaluation.by_language.to_dict("records"),
            "reason_accuracy": None if self.reason_classifier is None
            else self.reason_classifier.accuracy,
            "routed": len(self.routing),
            "churn_link": None if self.link is None
            else self.link.effects.to_dict("records"),
            **self.volume.summary(),
            "spend_link": None if self.spend is None
            else self.spend.effects.to_dict("records"),
            "marts": list(self.marts),
            "verdict": self.verdict.to_dict(),
        }
        return out

    def to_frame(self) -> pd.DataFrame:
        """The contact analysis per dimension and value."""
        return self.groups.copy()


def _empty(columns: tuple[str, ...]) -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype=object) for c in columns})


def _topic_table(t: pd.DataFrame, ev: TopicEvaluation, churned_after: np.ndarray
                 ) -> pd.DataFrame:
    topics = ev.model.topics_.copy()
    frame = pd.DataFrame({"topic": ev.labels, "complaint": t["is_complaint"].to_numpy(),
                          "csat": t["csat"].to_numpy(dtype=float), "churned": churned_after})
    stats = frame[frame["topic"] >= 0].groupby("topic").agg(
        size=("topic", "size"), complaint_share=("complaint", "mean"),
        csat_mean=("csat", "mean"), churn_rate=("churned", "mean"))
    topics = topics.drop(columns=["size", "share"]).merge(
        stats, left_on="topic", right_index=True, how="left")
    topics["size"] = topics["size"].fillna(0).astype("int64")
    topics["share"] = topics["size"] / max(len(t), 1)
    return topics[list(TOPIC_COLUMNS)]


def _churned_after(ws: Workspace, t: pd.DataFrame, window_days: int) -> np.ndarray:
    """Per ticket: did the customer's subscription end within ``window_days`` after it."""
    if not ws.has_table(SUBSCRIPTIONS):
        return np.full(len(t), np.nan)
    subs = ws.read(ws.resolved(SUBSCRIPTIONS))
    ends = pd.to_datetime(subs["end_date"]).groupby(subs["customer_id"]).max()
    end = t["customer_id"].map(ends)
    delta = (pd.to_datetime(end) - t["opened_ts"]).dt.days
    out = ((delta >= 0) & (delta <= window_days)).astype(float).to_numpy()
    out[~t["customer_id"].isin(subs["customer_id"]).to_numpy()] = np.nan
    return out


def _orders(ws: Workspace) -> pd.DataFrame:
    if not ws.has_table("core.fct_order_lines"):
        return pd.DataFrame({"order_id": [], "customer_id": [], "order_ts": pd.to_datetime([])})
    return ws.duck.execute(  # resolved: the tickets' customer ids (pseudonyms when on)
        "SELECT order_id, any_value(customer_id) AS customer_id, min(order_ts) AS order_ts "
        f"FROM {ws.resolved('core.fct_order_lines')} GROUP BY order_id"
    ).df()


def _spend_panel(ws: Workspace, t: pd.DataFrame, end: pd.Timestamp,
                 settings: dict[str, Any]) -> pd.DataFrame | None:
    """Customer-months of spend and service history (None without orders)."""
    lines = "core.fct_order_lines"
    if not ws.has_table(lines):
        return None
    source = ws.resolved(lines)
    spend = ws.duck.execute(
        f"SELECT customer_id, date_trunc('month', order_ts) AS month, sum(amount) AS spend "
        f"FROM {source} WHERE customer_id IS NOT NULL AND order_ts < ? GROUP BY ALL",
        [end.to_pydatetime()]).df()
    first = ws.duck.execute(
        f"SELECT customer_id, min(order_ts) AS first_order FROM {source} "
        "WHERE customer_id IS NOT NULL GROUP BY ALL").df().set_index("customer_id")
    return customer_months(spend, first["first_order"], t, end,
                           window_days=settings["window_days"],
                           sla_hours=settings["sla_hours"],
                           repeat_days=settings["repeat_days"])


def _segment_dimensions(ws: Workspace, t: pd.DataFrame) -> dict[str, pd.Series]:
    """Each ticket's customer's RFM segment and value tier, when segmentation has run."""
    if not ws.has_table("marts.customer_segments"):
        return {}
    seg = ws.read("marts.customer_segments").set_index("customer_id")
    return {c: t["customer_id"].map(seg[c]) for c in ("rfm_segment", "value_tier")
            if c in seg.columns}


def _routing(t: pd.DataFrame, settings: dict[str, Any]) -> pd.DataFrame:
    labelled = t["category"] != "(unknown)"
    if labelled.all() or labelled.sum() < 20:
        return _empty(ROUTING_COLUMNS)
    clf = TicketClassifier(user_dict=settings["user_dict"], stop_words=settings["stop_words"])
    clf.fit(t.loc[labelled, "text"].tolist(), t.loc[labelled, "category"].tolist())
    todo = t[~labelled]
    proba = clf.predict_proba(todo["text"].tolist())
    return pd.DataFrame({
        "ticket_id": todo["ticket_id"].to_numpy(), "customer_id": todo["customer_id"].to_numpy(),
        "opened_ts": todo["opened_ts"].to_numpy(),
        "predicted_category": clf.classes_[proba.argmax(axis=1)],
        "probability": proba.max(axis=1),
        "text": [mask_pii(str(x or "")) for x in todo["text"]],
    })  # fmt: skip


def run_service(ws: Workspace) -> ServiceRun:
    """Contact analysis, topics, routing and the churn link; writes the ``service_*`` marts."""
    settings = service_settings(ws)
    t, end = load_tickets(ws)
    # Many small fits (NMF, logistic, Cox on thousands of rows): one BLAS thread each is
    # faster than threads contending for the cores.
    with recorded_warnings() as caught, threadpool_limits(limits=1, user_api="blas"):
        agents = agent_groups(t)
        extra = _segment_dimensions(ws, t) | (
            {} if agents is None else {"agent_group": t["agent_group"]})
        groups = contact_groups(t, extra)
        periods = contact_periods(t, _orders(ws), end)
        curves = resolution_curves(t)
        volume = volume_seasonality(weekly_volume(t["opened_ts"], end))
        has_text = t["text"].notna() & (t["text"].astype(str).str.strip() != "")
        text_t = t[has_text].reset_index(drop=True)
        if len(text_t) < 20:
            raise SkipAnalysis(f"{TICKETS} holds {len(text_t)} tickets with text: too few "
                               "for topics (20 or more needed)")
        ev = fit_topics(text_t, n_topics=settings["n_topics"], user_dict=settings["user_dict"],
                        stop_words=settings["stop_words"])
        topics = _topic_table(text_t, ev, _churned_after(ws, text_t, settings["window_days"]))
        ticket_topics = pd.DataFrame({
            "ticket_id": text_t["ticket_id"].to_numpy(),
            "customer_id": text_t["customer_id"].to_numpy(),
            "opened_ts": text_t["opened_ts"].to_numpy(),
            "topic": ev.labels, "held_out": ev.held_out,
            "language": ev.model.topics_.set_index("topic")["language"]
            .reindex(ev.labels).fillna("(none)").to_numpy(),
        })  # fmt: skip
        labelled = text_t[text_t["category"] != "(unknown)"]
        reason = complaint = None
        if len(labelled) >= 30 and labelled["category"].nunique() > 1:
            reason = evaluate_classifier(labelled["text"].tolist(), labelled["category"],
                                         what="reason")
        if text_t["is_complaint"].nunique() > 1 and len(text_t) >= 30:
            complaint = evaluate_classifier(text_t["text"].tolist(), text_t["is_complaint"],
                                            what="complaint flag")
        routing = (_routing(text_t, settings) if reason is not None and reason.verdict.actionable
                   else _empty(ROUTING_COLUMNS))
        link = None
        if ws.has_table(SUBSCRIPTIONS):
            panel = subscription_months(ws.read(ws.resolved(SUBSCRIPTIONS)), t, end,
                                        window_days=settings["window_days"],
                                        sla_hours=settings["sla_hours"],
                                        repeat_days=settings["repeat_days"])
            link = churn_link(panel)
        months = _spend_panel(ws, t, end, settings)
        spend = (None if months is None
                 else spend_link(months, window_days=settings["window_days"]))
    checks = tuple(v for v in (
        ev.verdict, None if spend is None else spend.verdict,
        None if agents is None else agents.verdict,
        None if reason is None else reason.verdict,
        None if complaint is None else complaint.verdict) if v is not None)
    if link is not None:
        head = link.verdict
        verdict = Verdict(head.status, head.metric, head.value, head.baseline, head.interval,
                          head.why, head.what_to_try, checks=(*head.checks, *checks))
    else:
        head = ev.verdict
        verdict = Verdict(head.status, head.metric, head.value, head.baseline, head.interval,
                          head.why, head.what_to_try, checks=checks[1:])
    verdict = verdict.with_warnings(caught)
    trend = (ticket_topics[ticket_topics["topic"] >= 0]
             .assign(period=pd.to_datetime(ticket_topics["opened_ts"]).dt.to_period("M")
                     .astype(str))
             .groupby(["topic", "period"]).size().rename("tickets").reset_index())
    confusion = (reason.confusion if reason is not None
                 else _empty(("actual", "predicted", "tickets")))
    written = {
        "service_contacts": groups[list(GROUP_COLUMNS)],
        "service_periods": periods[list(PERIOD_COLUMNS)],
        "service_volume_weekly": volume.frame[list(VOLUME_COLUMNS)],
        "service_resolution_curves": curves,
        "service_topics": topics,
        "service_topic_trend": trend,
        "service_topic_examples": ev.model.representatives_,
        "service_ticket_topics": ticket_topics,
        "service_reason_confusion": confusion,
        "service_ticket_routing": routing if verdict.actionable else routing.iloc[:0],
        "service_churn_link": link.effects if link is not None else _empty(LINK_COLUMNS),
        "service_spend_link": spend.effects if spend is not None else _empty(SPEND_COLUMNS),
        "service_agent_groups": agents.groups if agents else _empty(AGENT_GROUP_COLUMNS),
        "service_agent_group_differences": agents.differences if agents
        else _empty(AGENT_DIFF_COLUMNS),
    }
    for name, frame in written.items():
        ws.write_mart(name, frame, model_version=MODEL_VERSION)
    record_verdict(ws, "service", verdict)
    return ServiceRun(end=end, groups=groups, periods=periods, curves=curves, topics=topics,
                      ticket_topics=ticket_topics, topic_evaluation=ev,
                      reason_classifier=reason, complaint_classifier=complaint,
                      routing=written["service_ticket_routing"], link=link, spend=spend,
                      volume=volume, agents=agents,
                      marts=tuple(f"marts.{n}" for n in written), verdict=verdict)


def route_texts(ws: Workspace, texts: list[str]) -> pd.DataFrame:
    """The reason :class:`TicketClassifier`, fitted on the workspace's labelled tickets,
    gives each of ``texts``, with its probability (texts shown PII masked)."""
    from crmine.exceptions import DataError

    t, _ = load_tickets(ws)
    labelled = t[(t["category"] != "(unknown)") & t["text"].notna()]
    if len(labelled) < 20 or labelled["category"].nunique() < 2:
        raise DataError(f"{TICKETS} has {len(labelled)} tickets with a category and text: "
                        "at least 20, in two categories or more, are needed to learn routing")
    settings = service_settings(ws)
    clf = TicketClassifier(user_dict=settings["user_dict"], stop_words=settings["stop_words"])
    clf.fit(labelled["text"].tolist(), labelled["category"].tolist())
    proba = clf.predict_proba(texts)
    return pd.DataFrame({"text": [mask_pii(x) for x in texts],
                         "predicted_category": clf.classes_[proba.argmax(axis=1)],
                         "probability": proba.max(axis=1)})
