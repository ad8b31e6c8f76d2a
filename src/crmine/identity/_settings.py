"""The ``[identity]`` table of ``crmine.toml``: thresholds, blocking rules, rules to use.

Example::

    [identity]
    match_threshold = 0.8            # merge pairs Splink scores at least this probable
    deterministic = ["email", "phone"]
    max_shared = 10                  # an e-mail/phone on more records is a shared one: ignored
    crosswalk = "data/crosswalk.csv" # source_id,customer_id lines the user vouches for
    priority = ["crm", "shop"]       # whose id names a merged customer
    blocking = [["name", "birth_date"], ["birth_date", "city"], ["email"], ["phone"]]
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from crmine.exceptions import ConfigError

__all__ = ["BLOCKING_KEYS", "DEFAULT_BLOCKING", "IdentitySettings", "identity_settings"]

# Names users write in blocking rules -> the normalised column they compare.
BLOCKING_KEYS: dict[str, str] = {
    "name": "name_key",
    "email": "email_key",
    "phone": "phone_key",
    "birth_date": "birth_str",
    "birth_year": "birth_year",
    "city": "city_key",
    "address": "address_key",
    "name_initial": "name_initial",
    "phone_prefix": "phone_prefix",
}
DEFAULT_BLOCKING: tuple[tuple[str, ...], ...] = (
    ("name", "birth_date"),
    ("birth_date", "city"),
    ("email",),
    ("phone",),
    ("name", "address"),
    ("phone_prefix", "name_initial"),
)
DETERMINISTIC = ("email", "phone")


@dataclass(frozen=True, slots=True)
class IdentitySettings:
    """How customer records of different sources are resolved to one customer.

    Parameters
    ----------
    match_threshold : float, default 0.8
        Pairs the probabilistic model scores at least this likely are merged (0 < t < 1).
    deterministic : tuple of str, default ("email", "phone")
        Exact rules applied first: records sharing a normalised e-mail or phone are one
        customer unless their names clearly differ (``name_guard``).
    max_shared : int, default 10
        An e-mail or phone held by more records than this (``info@…``, ``13800000000``) is
        a shared one and links nothing.
    name_guard : float, default 0.8
        Every link needs a name similarity (word by word, Jaro-Winkler) of at least this,
        or the same birth date, or a missing name: a household sharing a phone and an
        address is several people.
    crosswalk : str or None
        A CSV file (relative to the workspace) of ``source_id,customer_id`` lines: records
        given the same ``customer_id`` there are one customer, whatever their data says.
    priority : tuple of str
        Sources in order of authority: a merged customer keeps the id of the record from the
        first of them (then the earliest loaded).
    blocking : tuple of tuple of str
        Which record pairs are compared at all (Splink's blocking rules): pairs agreeing on
        every key of at least one rule. Keys: see :data:`BLOCKING_KEYS`.
    backend : {"duckdb", "spark"}
        Splink's engine for the pairwise scoring: DuckDB in-process (default), or Spark
        (local, or the session given to ``resolve_records``) for more records than one
        machine compares in time.
    """

    match_threshold: float = 0.8
    deterministic: tuple[str, ...] = DETERMINISTIC
    max_shared: int = 10
    name_guard: float = 0.8
    crosswalk: str | None = None
    priority: tuple[str, ...] = ()
    blocking: tuple[tuple[str, ...], ...] = DEFAULT_BLOCKING
    backend: str = "duckdb"
    seed: int = field(default=0)


def _fail(where: str, key: str, value: Any, expected: str) -> ConfigError:
    return ConfigError(f"{where}: [identity] {key} = {value!r} {expected}")


def identity_settings(raw: Any, where: str = "crmine.toml") -> IdentitySettings:
    """Check the ``[identity]`` table ``raw`` and return the settings it gives.

    Raises
    ------
    ConfigError
        For an unknown key (naming the valid ones) or a value of the wrong type or range.

    Examples
    --------
    >>> identity_settings({"match_threshold": 0.8}).match_threshold
    0.8
    >>> identity_settings({"match_threshold": "high"})  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    crmine.exceptions.ConfigError: crmine.toml: [identity] match_threshold = 'high' must be ...
    """
    if raw is None:
        return IdentitySettings()
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: [identity] must be a table of key = value lines, not "
                          f"{raw!r}; e.g. [identity]\\nmatch_threshold = 0.9")  # fmt: skip
    known = set(IdentitySettings.__dataclass_fields__) - {"seed"}
    unknown = sorted(set(raw) - known)
    if unknown:
        raise ConfigError(f"{where}: [identity] has unknown key(s) {unknown}; valid keys: "
                          f"{', '.join(sorted(known))}")  # fmt: skip
    out: dict[str, Any] = {}
    if "match_threshold" in raw:
        t = raw["match_threshold"]
        if isinstance(t, bool) or not isinstance(t, (int, float)) or not 0 < t < 1:
            raise _fail(where, "match_threshold", t, "must be a number between 0 and 1 "
                        "(exclusive), e.g. match_threshold = 0.9")  # fmt: skip
        out["match_threshold"] = float(t)
    if "name_guard" in raw:
        g = raw["name_guard"]
        if isinstance(g, bool) or not isinstance(g, (int, float)) or not 0 <= g <= 1:
            raise _fail(where, "name_guard", g, "must be a number from 0 to 1, e.g. 0.8")
        out["name_guard"] = float(g)
    if "max_shared" in raw:
        m = raw["max_shared"]
        if isinstance(m, bool) or not isinstance(m, int) or m < 2:
            raise _fail(where, "max_shared", m, "must be a whole number of at least 2, e.g. 10")
        out["max_shared"] = m
    if "deterministic" in raw:
        d = raw["deterministic"]
        if not isinstance(d, list) or not all(isinstance(x, str) and x in DETERMINISTIC
                                              for x in d):  # fmt: skip
            raise _fail(where, "deterministic", d, f"must be a list drawn from "
                        f"{list(DETERMINISTIC)}, e.g. deterministic = [\"email\"]")  # fmt: skip
        out["deterministic"] = tuple(d)
    for key in ("crosswalk",):
        if key in raw:
            v = raw[key]
            if not isinstance(v, str) or not v.strip():
                raise _fail(where, key, v, 'must be a file name in quotes, e.g. '
                            'crosswalk = "crosswalk.csv"')  # fmt: skip
            out[key] = v
    if "priority" in raw:
        p = raw["priority"]
        if not isinstance(p, list) or not all(isinstance(x, str) for x in p):
            raise _fail(where, "priority", p, 'must be a list of source names, e.g. '
                        'priority = ["crm", "shop"]')  # fmt: skip
        out["priority"] = tuple(p)
    if "blocking" in raw:
        b = raw["blocking"]
        ok = isinstance(b, list) and b and all(
            isinstance(rule, list) and rule and all(k in BLOCKING_KEYS for k in rule)
            for rule in b
        )
        if not ok:
            raise _fail(where, "blocking", b, "must be a list of rules, each a list of keys "
                        f"from {sorted(BLOCKING_KEYS)}, e.g. blocking = [[\"name\", "
                        "\"birth_date\"], [\"email\"]]")  # fmt: skip
        out["blocking"] = tuple(tuple(rule) for rule in b)
    if "backend" in raw:
        e = raw["backend"]
        if e not in ("duckdb", "spark"):
            raise _fail(where, "backend", e, 'must be "duckdb" or "spark"')
        out["backend"] = e
    return IdentitySettings(**out)
