"""``generate()``: a synthetic CRM company with known ground truth.

The company sells electronics, fashion, beauty, home, grocery, sports and books in China (and
a few cities abroad) through web, app, store and phone, runs campaigns on email, sms, social,
search and display, answers service tickets and sells a subscription plan. Everything an
analysis should find is planted from a written-down design (``crmine.demo._spec``) and
returned next to the data in ``DemoCompany.truth``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from crmine._progress import stage
from crmine.demo._calendars import make_holidays, make_promotion_calendar
from crmine.demo._campaigns import make_campaigns
from crmine.demo._consent import plant_opt_outs
from crmine.demo._customers import CustomerLatent, make_customers, make_neutral_customers
from crmine.demo._identities import make_identity_sources
from crmine.demo._marketing_spend import make_marketing_spend
from crmine.demo._orders import OrderResult, expected_order_value, make_orders
from crmine.demo._pricing import flat_price_truth, make_price_calendar
from crmine.demo._products import make_products, product_popularity
from crmine.demo._reactivations import plant_reactivations
from crmine.demo._service import (
    cancellation_tickets,
    make_surveys,
    make_tickets,
    plant_agent_groups,
    plant_complaint_spend,
    ticket_frame,
    ticket_topic_truth,
)
from crmine.demo._spec import (
    CATEGORIES,
    CHANNELS_ORDER,
    NO_SIGNAL,
    OBSERVATION_END,
    SEGMENTS,
    START,
)
from crmine.demo._subscriptions import churn_driver_truth, make_subscriptions
from crmine.demo._surveys import plant_survey_factors
from crmine.exceptions import ConfigError
from crmine.warehouse import ENTITIES

__all__ = ["DemoCompany", "generate"]

MIN_CUSTOMERS = 100
CANCEL_TICKET_SHARE = 0.5


@dataclass(frozen=True, slots=True)
class DemoCompany:
    """A generated company: canonical tables plus the truth that was planted in them.

    Attributes
    ----------
    tables : dict of str to DataFrame
        Keyed by canonical entity name (``customers``, ``products``, ``orders``, ``events``,
        ``campaigns``, ``campaign_assignments``, ``tickets``, ``subscriptions``,
        ``surveys``); columns are the canonical columns of ``crmine.warehouse.ENTITIES`` in
        their declared order.
    truth : dict of str to DataFrame
        What the analyses should find: ``customers`` (planted ``segment`` and latent
        values), ``segments``, ``bgnbd_params`` (rate per day), ``gamma_gamma_params``,
        ``product_affinities``, ``uplift``, ``customer_uplift``, ``channels``, ``funnel``,
        ``churn_drivers``, ``nps_drivers``, ``returns``, ``lifecycle_reactivations``
        (``crmine.demo._reactivations``; empty without signal), ``sales_elasticity`` and
        ``sales_price_calendar`` (``crmine.demo._pricing``; flat without signal).
    observation_end : Timestamp
        End of the data: every timestamp is strictly earlier.
    seed, n_customers : int
        The arguments the company was generated with.
    signal : bool
        False for the company with nothing to find (see :func:`generate`).
    """

    tables: dict[str, pd.DataFrame]
    truth: dict[str, pd.DataFrame]
    observation_end: pd.Timestamp
    seed: int
    n_customers: int
    start: pd.Timestamp = field(default=START)
    signal: bool = True

    def summary(self) -> pd.DataFrame:
        """Row and column counts of every table (data and truth)."""
        rows = [{"kind": "table", "name": k, "rows": len(v), "columns": v.shape[1]}
                for k, v in self.tables.items()]
        rows += [{"kind": "truth", "name": k, "rows": len(v), "columns": v.shape[1]}
                 for k, v in self.truth.items()]
        return pd.DataFrame(rows)


def generate(n_customers: int = 10_000, seed: int = 0, *, signal: bool = True,
             identity_sources: bool = False) -> DemoCompany:
    """Generate the demo company.

    Parameters
    ----------
    n_customers : int, default 10_000
        Number of customers (at least 100). About 21 order lines per customer result.
    seed : int, default 0
        Random seed; the same seed always gives the same company.
    signal : bool, default True
        False generates the same tables with nothing to find (``crmine demo --no-signal``):
        every customer buys at one Poisson rate for life with spend independent of who buys,
        basket lines are independent draws from one product popularity (no co-purchases),
        subscriptions end at one constant hazard, campaigns convert treated and control
        customers at one rate (zero uplift), no segments (``truth["customers"].segment`` is
        ``"none"``). Any analysis that beats its naive baseline on it is overfitting.
    identity_sources : bool, default False
        Add two more customer sources naming the same people differently (a web shop's
        accounts and a help desk's contacts: ``tables["customers:shop"]``,
        ``tables["customers:helpdesk"]``) and the truth ``truth["identity"]`` (see
        ``crmine.demo._identities``). Every other table is the same as without them.

    Returns
    -------
    DemoCompany

    Notes
    -----
    Purchases follow the BG/NBD buy-till-you-die process with a rate per *day* and spend per
    the Gamma-Gamma model, both with per-segment parameters (``truth["bgnbd_params"]``,
    ``truth["gamma_gamma_params"]``); the truth holds for completed orders with a customer id
    (returns, cancelled orders and anonymous lines are added on top). Campaign responses have
    a heterogeneous true uplift, channels a diminishing-returns spend curve and a funnel with
    one planted leak, subscriptions churn by a proportional hazard with known drivers.

    References
    ----------
    Fader, P. S., Hardie, B. G. S., & Lee, K. L. (2005). "Counting your customers" the easy
    way: An alternative to the Pareto/NBD model. Marketing Science, 24(2), 275-284.

    Fader, P. S., Hardie, B. G. S., & Lee, K. L. (2005). RFM and CLV: Using iso-value curves
    for customer base analysis. Journal of Marketing Research, 42(4), 415-430.

    Examples
    --------
    >>> from crmine.demo import generate
    >>> company = generate(n_customers=200, seed=1)
    >>> sorted(company.tables)[:3]
    ['campaign_assignments', 'campaigns', 'customers']
    >>> flat = generate(n_customers=200, seed=1, signal=False)
    >>> flat.truth["segments"]["segment"].tolist(), len(flat.truth["product_affinities"])
    (['none'], 0)
    """
    if isinstance(n_customers, bool) or not isinstance(n_customers, (int, np.integer)):
        raise ConfigError(f"n_customers must be an integer, got {n_customers!r}")
    if n_customers < MIN_CUSTOMERS:
        raise ConfigError(
            f"n_customers={n_customers} is too small: use at least {MIN_CUSTOMERS} so that "
            "every segment and campaign has customers"
        )
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ConfigError(f"seed must be a non-negative integer, got {seed!r}")
    n = int(n_customers)
    # One independent stream per part, so changing one part never reshuffles the others.
    streams = [np.random.default_rng(s) for s in np.random.SeedSequence(int(seed)).spawn(8)]

    with stage(f"demo: {n:,} customers" + ("" if signal else " (no signal)")):
        if signal:
            customers, lat = make_customers(streams[0], n)
        else:
            customers, lat = make_neutral_customers(streams[0], n)
        products, affinities = make_products(streams[1])
        popularity = None if signal else product_popularity(streams[1], products)
        if popularity is not None:
            affinities = affinities.iloc[:0]  # no co-purchases: nothing to find
    with stage("demo: orders (buy-till-you-die)"):
        # Planted prices and promotions: the 13th child of the seed (none without signal).
        pricing = make_price_calendar(np.random.default_rng(
            np.random.SeedSequence(int(seed), spawn_key=(12,)))) if signal else None
        orders = make_orders(streams[2], customers, lat, products, affinities,
                             None if popularity is None else popularity["probability"].to_numpy(),
                             pricing=pricing)
        # Lapses and comebacks, moved into the lines afterwards: the 11th child of the seed.
        lines, order_truth, reactivations = plant_reactivations(
            np.random.default_rng(np.random.SeedSequence(int(seed), spawn_key=(10,))),
            orders.orders, orders.customer_truth, signal=signal)
        orders = OrderResult(lines, order_truth, orders.returns)
    with stage("demo: campaigns, uplift and funnel"):
        camp = make_campaigns(streams[3], customers, lat, signal=signal)
    with stage("demo: tickets, subscriptions, surveys"):
        tickets_internal = make_tickets(streams[4], customers, lat, products, signal=signal)
        subs, churn_cust, churn_t = make_subscriptions(streams[5], customers, lat,
                                                       tickets_internal, signal=signal)
        rng = streams[6]
        # Churners who ask to cancel first; not in the no-signal company, where a ticket just
        # before the end would tell the churn model who is leaving.
        asks = (rng.random(len(churn_cust)) < CANCEL_TICKET_SHARE) & signal
        cancel = cancellation_tickets(
            rng, churn_cust[asks],
            np.maximum(churn_t[asks] - rng.uniform(0.0, 3.0, int(asks.sum())),
                       lat.t0[churn_cust[asks]]),
            products,
        )
        all_tickets = pd.concat([tickets_internal, cancel], ignore_index=True)
        tickets = ticket_frame(all_tickets, customers)
        # which team answered (a slow one planted): child 15 of the seed, for issue 14
        tickets, agent_groups = plant_agent_groups(
            np.random.default_rng(np.random.SeedSequence(int(seed), spawn_key=(14,))),
            tickets, OBSERVATION_END, signal=signal)
        # complaints lower later spend (deterministic: no stream's draws change)
        spent, service_spend = plant_complaint_spend(orders.orders, tickets, signal=signal)
        orders = OrderResult(spent, orders.customer_truth, orders.returns)
        surveys, nps_drivers = make_surveys(streams[7], customers, lat, tickets_internal,
                                            signal=signal)
        # its own stream (child 11 of the seed; 9 is the media's, 10 the reactivations'), so
        # nothing above changes and no two plantings share random numbers
        surveys, survey_factors = plant_survey_factors(
            np.random.default_rng(np.random.SeedSequence(int(seed), spawn_key=(11,))),
            surveys, orders.customer_truth, signal=signal)

    tables = {
        "customers": customers,
        "products": products,
        "orders": orders.orders,
        "events": camp.events,
        "campaigns": camp.campaigns,
        "campaign_assignments": camp.assignments,
        "tickets": tickets,
        "subscriptions": subs,
        "surveys": surveys,
    }
    tables["customers"] = plant_opt_outs(seed, customers)  # consent (crmine.demo._consent)
    tables = {name: _canonical(name, df) for name, df in tables.items()}

    if signal:
        truth = {
            "customers": _customer_truth(orders.customer_truth, lat),
            "segments": _segment_truth(orders.customer_truth),
            "bgnbd_params": pd.DataFrame(
                [{"segment": s.name, "r": s.r, "alpha": s.alpha, "a": s.a, "b": s.b,
                  "time_unit": "D"} for s in SEGMENTS]
            ),
            "gamma_gamma_params": pd.DataFrame(
                [{"segment": s.name, "p": s.gg_p, "q": s.gg_q, "v": s.gg_v,
                  "mean_order_value": s.gg_p * s.gg_v / (s.gg_q - 1.0)} for s in SEGMENTS]
            ),
            "product_affinities": affinities,
        }
    else:
        assert popularity is not None
        truth = _no_signal_truth(orders.customer_truth, lat, products, popularity,
                                 affinities)
    truth |= {
        **camp.truth,
        "churn_drivers": churn_driver_truth(signal),
        "nps_drivers": nps_drivers,
        "survey_factors": survey_factors,
        "returns": orders.returns,
        "ticket_topics": ticket_topic_truth(all_tickets, tickets),
        "service_spend": service_spend,
        "service_agent_groups": agent_groups,
        "lifecycle_reactivations": reactivations,
    }
    truth |= pricing.truth() if pricing is not None else flat_price_truth()
    # Paid media and weekly sales (crmine.demo._marketing_spend): the 10th child of the seed.
    media = make_marketing_spend(
        np.random.default_rng(np.random.SeedSequence(int(seed), spawn_key=(9,))), signal=signal)
    tables |= {"marketing_spend": _canonical("marketing_spend", media.spend),
               "marketing_outcomes": _canonical("marketing_outcomes", media.outcomes)}
    truth |= media.truth
    # The promotion plan (past and planned: child 17 of the seed) and the festival days.
    tables |= {"promotion_calendar": _canonical("promotion_calendar", make_promotion_calendar(
        truth["sales_price_calendar"] if signal else None,
        np.random.default_rng(np.random.SeedSequence(int(seed), spawn_key=(16,))))),
               "holidays": _canonical("holidays", make_holidays())}
    if identity_sources:
        # its own stream (the 9th child of the seed), so nothing above changes
        rng_id = np.random.default_rng(np.random.SeedSequence(int(seed), spawn_key=(8,)))
        sources, identity = make_identity_sources(rng_id, tables["customers"])
        tables |= {f"customers:{name}": frame for name, frame in sources.items()}
        truth["identity"] = identity
    return DemoCompany(tables=tables, truth=truth, observation_end=OBSERVATION_END,
                       seed=int(seed), n_customers=n, signal=signal)


def _no_signal_truth(customer_truth: pd.DataFrame, lat: CustomerLatent,
                     products: pd.DataFrame, popularity: pd.DataFrame,
                     affinities: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """The no-signal company's truth tables: one segment "none", the Poisson limit of
    BG/NBD (r and alpha infinite with r / alpha the one rate, no dropout: a = 0) and of
    Gamma-Gamma (q and v infinite: the same spend distribution for everyone)."""
    spec = NO_SIGNAL
    value = expected_order_value(products, popularity["probability"].to_numpy())
    mix = np.array(spec.channel_mix) / sum(spec.channel_mix)
    segment = {
        "segment": "none", "planned_share": 1.0, "n_customers": len(customer_truth),
        "description": "no segments: every customer drawn from the same distributions",
        "mean_lambda_per_day": spec.lambda_per_day, "mean_p_dropout": 0.0,
        "mean_order_value": value, "discount_rate": spec.discount_rate,
        **{f"category_{c}": 1.0 / len(CATEGORIES) for c in CATEGORIES},
        **{f"channel_{c}": float(w) for c, w in zip(CHANNELS_ORDER, mix, strict=True)},
    }  # fmt: skip
    return {
        "customers": _customer_truth(customer_truth, lat),
        "segments": pd.DataFrame([segment]),
        "bgnbd_params": pd.DataFrame([{
            "segment": "none", "r": np.inf, "alpha": np.inf, "a": 0.0, "b": 1.0,
            "time_unit": "D", "lambda_per_day": spec.lambda_per_day,
        }]),
        "gamma_gamma_params": pd.DataFrame([{
            "segment": "none", "p": np.nan, "q": np.inf, "v": np.inf,
            "mean_order_value": value,
        }]),
        "product_affinities": affinities.astype({c: "string" for c in affinities.columns
                                                 if c != "probability"}),
        "product_popularity": popularity,
    }


def _canonical(name: str, df: pd.DataFrame) -> pd.DataFrame:
    """Columns in the entity's declared order; canonical columns we do not fill are absent."""
    cols = [c for c in ENTITIES[name].column_names if c in df.columns]
    extra = [c for c in df.columns if c not in cols]
    if extra:  # a generator bug, not a user error
        raise AssertionError(f"demo table {name} has non-canonical columns {extra}")
    return df[cols].reset_index(drop=True)


def _customer_truth(base: pd.DataFrame, lat: CustomerLatent) -> pd.DataFrame:
    out = base.copy()
    out.insert(2, "segment_index", lat.segment)
    out["response_base"] = lat.response_base
    out["response_uplift"] = lat.response_uplift
    out["ticket_frailty"] = lat.ticket_frailty
    return out


def _segment_truth(customer_truth: pd.DataFrame) -> pd.DataFrame:
    rows = []
    counts = customer_truth["segment"].value_counts()
    for s in SEGMENTS:
        rows.append({
            "segment": s.name, "planned_share": s.share,
            "n_customers": int(counts.get(s.name, 0)), "description": s.description,
            "mean_lambda_per_day": s.r / s.alpha, "mean_p_dropout": s.a / (s.a + s.b),
            "mean_order_value": s.gg_p * s.gg_v / (s.gg_q - 1.0),
            "discount_rate": s.discount_rate,
            **{f"category_{c}": w / sum(s.category_mix)
               for c, w in zip(CATEGORIES, s.category_mix, strict=True)},
            **{f"channel_{c}": w / sum(s.channel_mix)
               for c, w in zip(CHANNELS_ORDER, s.channel_mix, strict=True)},
        })  # fmt: skip
    return pd.DataFrame(rows)
