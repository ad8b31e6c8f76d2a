"""The service analysis's declaration (read by the pipeline, registry, checks, report, CLI)."""

from __future__ import annotations

from crmine.contract import Analysis, Mart, Setting, not_null, unique
from crmine.service._agent_groups import AGENT_DIFF_COLUMNS, AGENT_GROUP_COLUMNS
from crmine.service._churn_link import LINK_COLUMNS
from crmine.service._contacts import GROUP_COLUMNS, PERIOD_COLUMNS
from crmine.service._seasonality import VOLUME_COLUMNS
from crmine.service._spend_link import SPEND_COLUMNS
from crmine.service._workspace import ROUTING_COLUMNS, TOPIC_COLUMNS, run_service

__all__ = ["ANALYSIS"]

_STAMP = ("model_version", "scored_at")


def _positive(value: float) -> str | None:
    return None if float(value) > 0 else "a number > 0"


def _days(value: int) -> str | None:
    return None if int(value) >= 1 else "a whole number of days >= 1"


def _n_topics(value: object) -> str | None:
    if str(value) == "auto":
        return None
    try:
        return None if int(str(value)) >= 1 else "'auto' or a whole number >= 1"
    except ValueError:
        return "'auto' or a whole number >= 1"


_MARTS: tuple[Mart, ...] = (
    Mart("service_contacts", "one row per dimension (all, category, channel, priority, "
         "rfm_segment, value_tier, agent_group) and value",
         (*GROUP_COLUMNS, *_STAMP),
         (unique("dimension", "value"), not_null("dimension", "value", "tickets"))),
    Mart("service_periods", "one row per calendar month", (*PERIOD_COLUMNS, *_STAMP),
         (unique("period"), not_null("period", "tickets"))),
    Mart("service_volume_weekly", "one row per whole week (tickets = trend + seasonal + "
         "remainder)", (*VOLUME_COLUMNS, *_STAMP), (unique("week"), not_null("week", "tickets"))),
    Mart("service_resolution_curves", "one row per ticket group and hour since opening",
         ("group", "hours", "share_open", "tickets", *_STAMP),
         (unique("group", "hours"), not_null("group", "hours", "share_open"))),
    Mart("service_topics", "one row per topic mined from ticket text",
         (*TOPIC_COLUMNS, *_STAMP), (unique("topic"), not_null("topic", "label", "terms"))),
    Mart("service_topic_trend", "one row per topic and calendar month",
         ("topic", "period", "tickets", *_STAMP),
         (unique("topic", "period"), not_null("topic", "period", "tickets"))),
    Mart("service_topic_examples", "one row per topic and rank (PII masked)",
         ("topic", "rank", "text", *_STAMP), (unique("topic", "rank"), not_null("text"))),
    Mart("service_ticket_topics", "one row per ticket with text",
         ("ticket_id", "customer_id", "opened_ts", "topic", "held_out", "language", *_STAMP),
         (unique("ticket_id"), not_null("ticket_id", "topic"))),
    Mart("service_reason_confusion", "one row per recorded and predicted reason (held out)",
         ("actual", "predicted", "tickets", *_STAMP), (unique("actual", "predicted"),)),
    Mart("service_ticket_routing", "one row per ticket without a recorded reason",
         (*ROUTING_COLUMNS, *_STAMP),
         (unique("ticket_id"), not_null("ticket_id", "predicted_category")), actionable=True),
    Mart("service_churn_link", "one row per covariate of the service -> churn Cox model",
         (*LINK_COLUMNS, *_STAMP), (unique("covariate"), not_null("covariate"))),
    Mart("service_spend_link", "one row per covariate of the service -> spend fixed-effects "
         "Poisson model", (*SPEND_COLUMNS, *_STAMP),
         (unique("covariate"), not_null("covariate"))),
    Mart("service_agent_groups", "one row per agent group (where tickets record one)",
         (*AGENT_GROUP_COLUMNS, *_STAMP), (unique("agent_group"), not_null("agent_group"))),
    Mart("service_agent_group_differences", "one row per metric and pair of agent groups "
         "(Holm-corrected)", (*AGENT_DIFF_COLUMNS, *_STAMP),
         (unique("metric", "group_a", "group_b"), not_null("metric", "p_holm"))),
)  # fmt: skip

_SETTINGS: tuple[Setting, ...] = (
    Setting("service.repeat_days", int, 7,
            "a contact within this many days of the customer's previous one is a repeat",
            check=_days),
    Setting("service.sla_hours", float, 48.0,
            "hours within which a ticket should be closed (longer is an SLA breach)",
            check=_positive),
    Setting("service.churn_window_days", int, 90,
            "days of service history counted before each month (churn and spend links)",
            check=_days),
    Setting("service.n_topics", (str, int), "auto",
            "topics per language, or 'auto' to choose them from the text", check=_n_topics),
    Setting("service.jieba_user_dict", str, None,
            "a jieba user dictionary (one word per line) for product names and jargon"),
    Setting("service.stop_words", str, None,
            "extra stop words for topics and routing, comma separated (any language)"),
)  # fmt: skip

ANALYSIS = Analysis(
    name="service",
    title="Service and contacts: volume, resolution, topics and the churn link",
    run=run_service,
    requires=("core.fct_tickets",),
    uses=("segment",),  # contacts per RFM segment and value tier when segments exist
    marts=_MARTS,
    settings=_SETTINGS,
)
