"""One customer across sources: identity resolution (the "unification" step of a CDP).

When the CRM, the shop and the help desk identify people differently (CRM id, account id,
e-mail, phone), :func:`resolve_identities` resolves their records to one ``customer_id``:
exact rules first (normalised e-mail and phone, guarded against shared values and
households; a crosswalk file the user vouches for), then probabilistic matching on name,
e-mail, phone, birth date, address and city with Splink (Fellegi-Sunter; DuckDB backend,
or Spark with ``[identity] backend = "spark"``).
Chinese names match in characters and in pinyin (pypinyin's offline dictionary), nicknames
match their formal names (Bob/Robert).

The result is the crosswalk ``core.customer_identity`` (source, source_id, customer_id,
rule, match_probability, run); every merge is explained (:func:`explain_customer`),
reversible (:func:`split_customer`) and kept in ``core.identity_history``. Facts keep the
id their source gave; :func:`resolved_table` shows them by resolved customer.

Examples
--------
>>> import pandas as pd
>>> from crmine.identity import IdentitySettings, resolve_records
>>> recs = pd.DataFrame({"source": ["crm", "shop"], "source_id": ["C1", "A1"],
...                      "name": ["张伟", "Wei Zhang"], "phone": ["+86 138 0013 8000",
...                      "13800138000"]})
>>> crm_first = IdentitySettings(priority=("crm",))  # the CRM's id names the customer
>>> resolve_records(recs, crm_first, probabilistic=False).identity["customer_id"].tolist()
['C1', 'C1']
"""

from __future__ import annotations

from crmine.identity._normalise import address_key, email_key, name_key, phone_key, to_pinyin
from crmine.identity._resolve import Resolution, prepare_records, resolve_records, spark_session
from crmine.identity._settings import BLOCKING_KEYS, IdentitySettings, identity_settings
from crmine.identity._workspace import (
    IdentityRun,
    explain_customer,
    identity_records,
    resolve_identities,
    resolved_table,
    split_customer,
    workspace_identity_settings,
)

__all__ = [
    "BLOCKING_KEYS",
    "IdentityRun",
    "IdentitySettings",
    "Resolution",
    "address_key",
    "email_key",
    "explain_customer",
    "identity_records",
    "identity_settings",
    "name_key",
    "phone_key",
    "prepare_records",
    "resolve_identities",
    "resolve_records",
    "resolved_table",
    "spark_session",
    "split_customer",
    "to_pinyin",
    "workspace_identity_settings",
]
