"""A synthetic CRM company with known ground truth, for demos and for testing the analyses.

``generate(n_customers, seed)`` returns a :class:`DemoCompany`: canonical tables (customers,
products, orders, events, campaigns, campaign_assignments, tickets, subscriptions, surveys)
and the truth planted in them. ``build_demo_workspace`` loads one into a workspace (tables
through the normal ingest, truth into schema ``truth``).

What is planted, and the truth table to check an analysis against:

* segments (premium, discount_seeker, occasional, loyal_regular; 25/25/35/15%) that differ
  in frequency, prices, discount share, category and channel mix — ``customers``
  (``segment`` and every latent value drawn per customer), ``segments``;
* BG/NBD purchasing, rate per day (``bgnbd_params``) and Gamma-Gamma spend per order
  (``gamma_gamma_params``) per segment; they hold for completed orders with a customer id;
  ``customers.repeat_purchases`` counts orders, ``repeat_purchase_days`` distinct days;
* co-purchases (phone → case and screen protector, shampoo → conditioner, …) —
  ``product_affinities`` (antecedent, consequent product ids, probability);
* randomised campaigns with heterogeneous uplift — ``uplift`` (per campaign: true_ate,
  true_control_rate, true_treatment_rate, …) and ``customer_uplift``;
* channels with a best ROI (email) and a best conversion rate (search), a diminishing
  returns curve ``a * (1 - exp(-b * spend))`` per channel — ``channels``;
* funnel stage rates per channel with one leak (social: click → visit) — ``funnel``;
* subscription churn by a proportional hazard — ``churn_drivers`` (contract_type,
  n_complaints, monthly_charge, tenure_months; gender and payment_method have no effect);
* NPS lowered by complaints — ``nps_drivers``; returns and their original orders —
  ``returns``;
* ticket texts in English and Chinese (40% of customers write in Chinese) written from the
  ticket's reason, with greetings, typos, phone numbers and e-mails — ``ticket_topics``
  (reason, language per ticket; without signal the text is unrelated to the category).

``generate(..., signal=False)`` (``crmine demo --no-signal``) is the same company with nothing
to find: one Poisson purchase rate for everyone, spend, churn and campaign response independent
of every attribute and of treatment, basket lines drawn independently from one product
popularity (``truth["product_popularity"]``), no segments (``segment`` is ``"none"``). Every
analysis should say it is not informative there.

Campaign response revenue lives in ``campaign_assignments.revenue`` only: it is not added to
the order lines, so the BG/NBD truth stays exact.

Examples
--------
>>> from crmine.demo import generate
>>> company = generate(n_customers=2_000, seed=0)
>>> company.truth["bgnbd_params"].columns.tolist()
['segment', 'r', 'alpha', 'a', 'b', 'time_unit']
"""

from __future__ import annotations

from crmine.demo._generate import DemoCompany, generate
from crmine.demo._workspace import build_demo_workspace

__all__ = ["DemoCompany", "build_demo_workspace", "generate"]
