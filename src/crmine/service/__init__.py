"""Service and contact analysis: what customers contact us about, how well we answer, and
what it costs in churn.

* contact analysis (:func:`prepare_tickets`, :func:`contact_groups`, :func:`contact_periods`,
  :func:`resolution_curves`): volume by reason, channel, priority and month, resolution
  time with Kaplan-Meier curves for still-open tickets, repeat contacts and first-contact
  resolution, SLA breaches, backlog, complaints per 1,000 customers and orders, CSAT;
* topics mined from ticket text in English and Chinese, offline (:class:`TicketTopics`:
  jieba + TF-IDF + NMF, the number of topics chosen automatically), PII masked in every text
  shown (:func:`mask_pii`);
* ticket routing and complaint flagging (:class:`TicketClassifier`);
* the service -> churn link (:func:`churn_link`): Cox hazard ratios of complaints, repeat
  contacts and slow resolution on later subscription churn, time-ordered.

``run_service(ws)`` does all of it on a workspace and writes the ``service_*`` marts.
"""

from crmine.service._analysis import ANALYSIS
from crmine.service._churn_link import (
    SERVICE_COVARIATES,
    ChurnLink,
    churn_link,
    subscription_months,
)
from crmine.service._classify import ClassifierEvaluation, TicketClassifier, evaluate_classifier
from crmine.service._contacts import (
    contact_groups,
    contact_periods,
    prepare_tickets,
    resolution_curves,
)
from crmine.service._pii import luhn_valid, mask_pii, mask_texts
from crmine.service._tokenise import Tokeniser
from crmine.service._topics import TicketTopics, script_of
from crmine.service._workspace import (
    ServiceRun,
    TopicEvaluation,
    fit_topics,
    route_texts,
    run_service,
)

__all__ = [
    "ANALYSIS",

    "SERVICE_COVARIATES",
    "ChurnLink",
    "ClassifierEvaluation",
    "ServiceRun",
    "TicketClassifier",
    "TicketTopics",
    "Tokeniser",
    "TopicEvaluation",
    "churn_link",
    "contact_groups",
    "contact_periods",
    "evaluate_classifier",
    "fit_topics",
    "luhn_valid",
    "mask_pii",
    "mask_texts",
    "prepare_tickets",
    "resolution_curves",
    "route_texts",
    "run_service",
    "script_of",
    "subscription_months",
]
