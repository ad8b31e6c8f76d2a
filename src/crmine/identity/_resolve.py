"""Resolving customer records of many sources to customers: exact rules, then Splink.

The function twin :func:`resolve_records` takes a DataFrame of records (one row per record
of a source: ``source``, ``source_id`` and whatever of name, e-mail, phone, birth date,
address and city the source has) and returns the crosswalk and the links behind it. The
workspace layer (:mod:`crmine.identity._workspace`) reads the records from
``core.dim_customer`` and keeps the result in ``core.customer_identity``.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any

import duckdb
import numpy as np
import pandas as pd

from crmine._format import fmt_number
from crmine._progress import stage
from crmine.exceptions import ConfigError, MissingColumnError, SchemaError
from crmine.identity._normalise import address_key, email_key, name_key, phone_key, text_key
from crmine.identity._settings import BLOCKING_KEYS, IdentitySettings

__all__ = ["COMPARED", "Resolution", "prepare_records", "resolve_records", "spark_session"]

# The attributes compared, and the normalised column each becomes.
COMPARED = ("name", "email", "phone", "birth_date", "address", "city")
_COMPARISON_COLUMNS = ("name_key", "email_key", "phone_key", "birth_str", "address_key",
                       "city_key")  # fmt: skip
DETERMINISTIC_COLUMNS = {"email": "email_key", "phone": "phone_key"}
# Below this the model's parameters cannot be estimated (u from random pairs, m by EM).
MIN_MODEL_RECORDS = 50


@dataclass(frozen=True, slots=True)
class Resolution:
    """What resolving a set of records found.

    Attributes
    ----------
    identity : DataFrame
        The crosswalk: one row per record - ``source``, ``source_id``, ``customer_id`` (the
        resolved customer), ``rule`` (``email``, ``phone``, ``crosswalk``, ``probabilistic``
        or ``none`` for a record merged with nothing), ``match_probability`` (of the strongest
        link attaching it; 1 for exact rules), ``is_canonical`` (the record whose id names the
        customer).
    links : DataFrame
        Every pair that was merged: ``source_id_l``, ``source_id_r``, ``rule``,
        ``match_probability``, ``match_weight`` and ``details`` (JSON: per compared
        attribute the agreement level and its match weight, log2 of its Bayes factor).
    timings : dict
        Seconds per step.
    settings : IdentitySettings
    """

    identity: pd.DataFrame
    links: pd.DataFrame
    timings: dict[str, float]
    settings: IdentitySettings
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def n_records(self) -> int:
        return len(self.identity)

    @property
    def n_customers(self) -> int:
        return int(self.identity["customer_id"].nunique())

    def summary(self) -> dict[str, Any]:
        """Counts: records, customers, records merged, links by rule, records by source."""
        merged = int((~self.identity["is_canonical"] & (self.identity["rule"] != "none")).sum())
        return {
            "records": self.n_records,
            "customers": self.n_customers,
            "records_merged": merged,
            "links_by_rule": {str(k): int(v) for k, v in
                              self.links["rule"].value_counts().sort_index().items()},
            "records_by_source": {str(k): int(v) for k, v in
                                  self.identity["source"].value_counts().sort_index().items()},
            "match_threshold": self.settings.match_threshold,
            "seconds": {k: round(v, 2) for k, v in self.timings.items()},
            "notes": list(self.notes),
        }  # fmt: skip

    def to_frame(self) -> pd.DataFrame:
        return self.identity

    def __str__(self) -> str:
        s = self.summary()
        return (f"{fmt_number(s['records'])} records -> {fmt_number(s['customers'])} customers "
                f"({fmt_number(s['records_merged'])} records merged)")  # fmt: skip


def prepare_records(records: pd.DataFrame) -> pd.DataFrame:
    """The records with their normalised comparison keys (``name_key``, ``email_key``...).

    Raises
    ------
    MissingColumnError
        Without ``source`` and ``source_id``.
    SchemaError
        When a ``source_id`` appears twice (each record needs its own id).
    """
    missing = [c for c in ("source", "source_id") if c not in records.columns]
    if missing:
        raise MissingColumnError(f"identity records need columns {missing}; columns found: "
                                 f"{list(records.columns)[:20]}")  # fmt: skip
    df = pd.DataFrame({"source": records["source"].astype(str),
                       "source_id": records["source_id"].astype(str)})  # fmt: skip
    dup = df["source_id"].duplicated()
    if dup.any():
        first = df.loc[dup, "source_id"].iloc[0]
        raise SchemaError(f"identity records: source_id {first!r} appears "
                          f"{int((df['source_id'] == first).sum())} times; each record needs "
                          "its own id (prefix ids by source when sources share numbers)")
    empty = pd.Series(pd.NA, index=records.index, dtype="string")

    def col(name: str) -> pd.Series:
        return records[name] if name in records.columns else empty

    df["name_key"] = name_key(col("name")).to_numpy()
    df["email_key"] = email_key(col("email")).to_numpy()
    df["phone_key"] = phone_key(col("phone")).to_numpy()
    birth = pd.to_datetime(col("birth_date"), errors="coerce")
    df["birth_str"] = birth.dt.strftime("%Y-%m-%d").astype("string").to_numpy()
    df["birth_year"] = birth.dt.year.astype("Int64").astype("string").to_numpy()
    df["address_key"] = address_key(col("address")).to_numpy()
    df["city_key"] = text_key(col("city")).to_numpy()
    df["name_initial"] = df["name_key"].str[:1]
    df["phone_prefix"] = df["phone_key"].str[:6]
    for c in BLOCKING_KEYS.values():  # text even when a source has none (all missing)
        df[c] = df[c].astype("string")
    first_seen = col("first_seen") if "first_seen" in records.columns else None
    df["first_seen"] = (pd.to_datetime(first_seen, errors="coerce").to_numpy()
                        if first_seen is not None else pd.NaT)  # fmt: skip
    df.insert(0, "record_id", np.arange(len(df), dtype=np.int64))
    return df


def _deterministic_links(con: duckdb.DuckDBPyConnection, rules: tuple[str, ...],
                         settings: IdentitySettings) -> pd.DataFrame:  # fmt: skip
    """Pairs sharing a normalised e-mail or phone (not a shared one), names compatible."""
    frames = []
    for rule in rules:
        key = DETERMINISTIC_COLUMNS[rule]
        frames.append(con.execute(f"""
            WITH keys AS (
                SELECT {key} AS k FROM recs WHERE {key} IS NOT NULL
                GROUP BY 1 HAVING count(*) BETWEEN 2 AND {int(settings.max_shared)}
            ), members AS (SELECT * FROM recs WHERE {key} IN (SELECT k FROM keys))
            SELECT l.record_id AS id_l, r.record_id AS id_r, '{rule}' AS rule,
                   1.0 AS match_probability, CAST(NULL AS DOUBLE) AS match_weight,
                   to_json({{'{rule}': l.{key},
                             'name_similarity': round(crmine_name_sim(
                                 coalesce(l.name_key, ''), coalesce(r.name_key, '')), 3)}}
                   )::VARCHAR AS details
            FROM members l JOIN members r ON l.{key} = r.{key} AND l.record_id < r.record_id
            WHERE {_name_guard_sql("l.name_key", "r.name_key", "l.birth_str", "r.birth_str",
                                   settings.name_guard)}
        """).df())  # fmt: skip
    return pd.concat(frames, ignore_index=True) if frames else _empty_links()


_MACROS = """
CREATE OR REPLACE MACRO crmine_token_sim(a, b) AS list_min(list_transform(
    string_split(a, ' '), lambda t: list_max(list_transform(
        string_split(b, ' '), lambda u: jaro_winkler_similarity(t, u)))));
CREATE OR REPLACE MACRO crmine_name_sim(a, b) AS CASE
    WHEN a = b THEN 1.0
    WHEN len(string_split(a, ' ')) < len(string_split(b, ' ')) THEN crmine_token_sim(a, b)
    WHEN len(string_split(a, ' ')) > len(string_split(b, ' ')) THEN crmine_token_sim(b, a)
    ELSE least(crmine_token_sim(a, b), crmine_token_sim(b, a)) END;
"""


def _name_guard_sql(name_l: str, name_r: str, birth_l: str, birth_r: str, guard: float) -> str:
    """SQL true unless two records' names clearly differ and their birth dates do not agree:
    a household sharing a phone and an address is several people. Names are compared word
    by word (each word of the shorter name against its best match in the other, Jaro-Winkler),
    so a missing middle name or a typo passes and another given name does not."""
    return (f"({name_l} IS NULL OR {name_r} IS NULL OR {birth_l} = {birth_r} "
            f"OR crmine_name_sim({name_l}, {name_r}) >= {float(guard)})")


def _empty_links() -> pd.DataFrame:
    return pd.DataFrame({"id_l": pd.Series(dtype="int64"), "id_r": pd.Series(dtype="int64"),
                         "rule": pd.Series(dtype="str"),
                         "match_probability": pd.Series(dtype="float64"),
                         "match_weight": pd.Series(dtype="float64"),
                         "details": pd.Series(dtype="str")})  # fmt: skip


def spark_session(master: str = "local[2]") -> Any:
    """A local Spark session able to run Splink: its string-similarity UDFs (a jar shipped
    inside the splink package, nothing downloaded) on the driver's class path."""
    try:
        from pyspark.sql import SparkSession
    except ImportError as exc:  # depends on the install
        raise ConfigError('[identity] backend = "spark" needs pyspark: '
                          "pip install 'crmine[spark]' (and Java 17)") from exc  # fmt: skip
    from splink.backends.spark import similarity_jar_location

    return (SparkSession.builder.master(master).appName("crmine-identity")
            .config("spark.ui.enabled", "false")
            .config("spark.sql.shuffle.partitions", "4")
            .config("spark.jars", similarity_jar_location())
            .getOrCreate())  # fmt: skip


def _splink_api(settings: IdentitySettings, con: duckdb.DuckDBPyConnection,
                spark: Any) -> Any:  # fmt: skip
    """Splink's database API for ``settings.backend``: DuckDB in-process, or Spark."""
    if settings.backend != "spark":
        from splink import DuckDBAPI

        return DuckDBAPI(con)
    from splink import SparkAPI

    session = spark or spark_session()
    # Splink breaks long lineages by checkpointing, which needs a checkpoint directory the
    # session may not have; caching does the same in memory
    lineage = None if session.sparkContext.getCheckpointDir() else "persist"
    try:
        return SparkAPI(spark_session=session, break_lineage_method=lineage)
    except Exception as exc:  # the session lacks the UDF jar (a Py4J error)
        raise ConfigError(
            "Splink's Spark backend could not register its similarity functions "
            f"({type(exc).__name__}: {str(exc)[:120]}); start Spark with "
            "spark.jars = splink.backends.spark.similarity_jar_location(), or pass no session "
            "and crmine starts one (crmine.identity.spark_session())") from exc  # fmt: skip


def _comparisons() -> list[Any]:
    """Splink's comparisons of the normalised keys (fresh creators: configuring one with
    trained probabilities must not change another linker's)."""
    import splink.comparison_library as cl

    return [
        cl.JaroWinklerAtThresholds("name_key", [0.95, 0.88]).configure(
            term_frequency_adjustments=True),
        cl.DamerauLevenshteinAtThresholds("email_key", [1, 2]),
        cl.DamerauLevenshteinAtThresholds("phone_key", [1, 2]),
        cl.DamerauLevenshteinAtThresholds("birth_str", [1, 2]),
        cl.JaroWinklerAtThresholds("address_key", [0.95, 0.85]),
        cl.ExactMatch("city_key"),
    ]


def _model_settings(settings: IdentitySettings, comparisons: list[Any], **trained: Any) -> Any:
    from splink import SettingsCreator, block_on

    rules: list[Any] = [block_on(*(BLOCKING_KEYS[k] for k in rule)) for rule in settings.blocking]
    return SettingsCreator(
        link_type="dedupe_only",
        unique_id_column_name="record_id",
        comparisons=comparisons,
        blocking_rules_to_generate_predictions=rules,
        retain_intermediate_calculation_columns=True,
        retain_matching_columns=True,
        max_iterations=20,
        **trained,
    )


def _trained_model_settings(settings: IdentitySettings, linker: Any) -> Any:
    """The settings of a fresh linker carrying ``linker``'s trained parameters (prior match
    probability, m and u per comparison level), for another engine to score pairs with.
    The comparisons are built again, not copied: their SQL is written in each engine's
    dialect."""
    trained = {c.output_column_name: c for c in linker._settings_obj.comparisons}
    comparisons = _comparisons()
    for creator in comparisons:
        levels = trained[creator.get_comparison("duckdb").output_column_name]
        levels = levels._comparison_levels_excluding_null
        creator.configure(m_probabilities=[lv._m_probability for lv in levels],
                          u_probabilities=[lv._u_probability for lv in levels])  # fmt: skip
    prior = linker._settings_obj._probability_two_random_records_match
    return _model_settings(settings, comparisons, probability_two_random_records_match=prior)


def _splink_links(con: duckdb.DuckDBPyConnection, prepared: pd.DataFrame,
                  settings: IdentitySettings,
                  spark: Any = None) -> tuple[pd.DataFrame, list[str]]:  # fmt: skip
    """Pairs Splink scores at least ``match_threshold`` probable (Fellegi-Sunter model,
    u from random pairs, m by expectation maximisation on three blocking rules), on DuckDB
    or on Spark (``settings.backend``). The model is trained in DuckDB on either engine:
    training reads bounded samples (at most 2e6 random pairs for u, 300,000 records for
    EM) in some sixty small queries, which Spark pays seconds of scheduling each for
    (minutes on the demo) for no gain; Spark scores every blocked pair, the work that grows.
    The scored pairs above the threshold come back to DuckDB for the name guard and the
    evidence, the same SQL for both engines."""
    from splink import DuckDBAPI, Linker, block_on

    notes: list[str] = []
    for name in ("splink", "splink.internals"):
        logging.getLogger(name).setLevel(logging.ERROR)
    n = len(prepared)
    cols = ["record_id", *BLOCKING_KEYS.values()]
    data = prepared[list(dict.fromkeys(cols))]
    creator = _model_settings(settings, _comparisons())
    # the Spark session is checked before any training: a broken one fails at once
    scoring_api = _splink_api(settings, con, spark) if settings.backend == "spark" else None
    linker = Linker(DuckDBAPI(con).register(data), creator, log_level=logging.ERROR)
    training = linker.training
    try:
        training.estimate_probability_two_random_records_match(
            [block_on("email_key"), block_on("phone_key")], recall=0.7)
    except Exception as exc:
        notes.append(f"prior match probability not estimated ({type(exc).__name__})")
    training.estimate_u_using_random_sampling(max_pairs=min(2e6, max(1e5, n * 5.0)),
                                              seed=settings.seed)  # fmt: skip
    sample = min(1.0, 300_000 / max(n, 1))
    for rule in (block_on("name_key", "birth_str"), block_on("email_key"),
                 block_on("phone_key")):
        try:
            training.estimate_parameters_using_expectation_maximisation(
                rule, record_sample_proportion=sample)
        except Exception as exc:
            notes.append(f"EM on {rule.get_blocking_rule('duckdb').blocking_rule_sql} skipped "
                         f"({type(exc).__name__})")  # fmt: skip
    if scoring_api is not None:
        linker = Linker(scoring_api.register(data), _trained_model_settings(settings, linker),
                        log_level=logging.ERROR)  # fmt: skip
    pred = linker.inference.predict(threshold_match_probability=settings.match_threshold)
    if settings.backend == "spark":
        con.register("_splink_spark_pred", pred.as_pandas_dataframe())
        table = "_splink_spark_pred"
    else:
        table = pred.physical_name
    present = {str(r[0]) for r in con.execute(f"DESCRIBE {table}").fetchall()}

    def column(name: str, default: str = "NULL") -> str:
        # Splink leaves out what it cannot use (a comparison on a column that is always
        # missing, a term-frequency adjustment with no repeated value)
        return name if name in present else default

    parts = []
    for c in _COMPARISON_COLUMNS:
        label = c.removesuffix("_key").removesuffix("_str")
        mw = column(f"mw_{c}") + (f" + coalesce({column(f'mw_tf_adj_{c}')}, 0)"
                                  if c == "name_key" else "")  # fmt: skip
        parts.append(f"'{label}': {{'level': {column(f'gamma_{c}', '-1')}, "
                     f"'match_weight': round({mw}, 3)}}")
    guard = _name_guard_sql(column("name_key_l"), column("name_key_r"), column("birth_str_l"),
                            column("birth_str_r"), settings.name_guard)
    links = con.execute(f"""
        SELECT record_id_l AS id_l, record_id_r AS id_r, 'probabilistic' AS rule,
               match_probability, match_weight,
               to_json({{{', '.join(parts)}}})::VARCHAR AS details
        FROM {table} WHERE {guard}
    """).df()  # fmt: skip
    pred.drop_table_from_database_and_remove_from_cache()
    if settings.backend == "spark":
        con.unregister(table)
    return links, notes


def resolve_records(
    records: pd.DataFrame,
    settings: IdentitySettings | None = None,
    *,
    crosswalk: pd.DataFrame | None = None,
    keep_apart: pd.DataFrame | None = None,
    probabilistic: bool = True,
    threads: int | None = None,
    spark: Any = None,
) -> Resolution:
    """Resolve records of several sources to customers.

    Exact rules first (normalised e-mail, normalised phone; a shared value or clearly
    different names link nothing), then the user's crosswalk, then a probabilistic model
    (Splink, Fellegi-Sunter) on name, e-mail, phone, birth date, address and city; linked
    records are one customer (connected components), named by the id of its most
    authoritative record (``settings.priority``, then the earliest seen, then the smallest
    id).

    Parameters
    ----------
    records : DataFrame
        ``source``, ``source_id`` (unique) and any of name, email, phone, birth_date,
        address, city, first_seen.
    settings : IdentitySettings, optional
    crosswalk : DataFrame, optional
        ``source_id`` and ``customer_id``: records given one customer_id are one customer.
    keep_apart : DataFrame, optional
        ``source_id_l``, ``source_id_r``: pairs never to link (earlier splits).
    probabilistic : bool, default True
        False applies only the exact rules and the crosswalk.
    threads : int, optional
        DuckDB threads for the matching (default: every core).
    spark : SparkSession, optional
        With ``settings.backend == "spark"``: the session Splink scores pairs on (default:
        :func:`spark_session`, local). Exact rules and clustering stay in DuckDB: they are
        linear in the records; the pairwise comparisons are what grows.

    Returns
    -------
    Resolution

    References
    ----------
    Fellegi, I. P., & Sunter, A. B. (1969). A theory for record linkage. Journal of the
    American Statistical Association, 64(328), 1183-1210.

    Linacre, R., Lindsay, S., Manassis, T., Slade, Z., Hepworth, T., Kennedy, R., & Bond, A.
    (2022). Splink: Free software for probabilistic record linkage at scale. International
    Journal of Population Data Science, 7(3).

    Examples
    --------
    >>> recs = pd.DataFrame({"source": ["crm", "shop", "shop"],
    ...                      "source_id": ["C1", "A1", "A2"],
    ...                      "name": ["张伟", "Wei Zhang", "Li Na"],
    ...                      "email": ["wei@x.cn", "WEI@x.cn", "na@y.cn"]})
    >>> res = resolve_records(recs, IdentitySettings(priority=("crm",)), probabilistic=False)
    >>> res.identity[["source_id", "customer_id", "rule"]].values.tolist()
    [['C1', 'C1', 'email'], ['A1', 'C1', 'email'], ['A2', 'A2', 'none']]
    """
    settings = settings or IdentitySettings()
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    with stage(f"identity: normalising {len(records):,} records"):
        prepared = prepare_records(records)
    timings["normalise"] = time.perf_counter() - t0
    notes: list[str] = []
    con = duckdb.connect()
    con.execute("SET enable_progress_bar = false")
    con.execute(_MACROS)
    if threads is not None:
        con.execute(f"SET threads = {int(threads)}")
    try:
        con.register("recs_df", prepared)
        con.execute("CREATE TABLE recs AS SELECT * FROM recs_df")
        con.unregister("recs_df")
        t0 = time.perf_counter()
        with stage("identity: exact rules (e-mail, phone)"):
            links = [_deterministic_links(con, settings.deterministic, settings)]
        timings["exact_rules"] = time.perf_counter() - t0
        if crosswalk is not None and len(crosswalk):
            links.append(_crosswalk_links(prepared, crosswalk))
        if probabilistic and len(prepared) < MIN_MODEL_RECORDS:
            notes.append(f"{len(prepared)} records: too few to fit the probabilistic model "
                         f"(at least {MIN_MODEL_RECORDS}); exact rules only")
        elif probabilistic:
            t0 = time.perf_counter()
            with stage("identity: probabilistic matching (Splink)"):
                try:
                    found, splink_notes = _splink_links(con, prepared, settings, spark)
                except ConfigError:
                    raise  # the engine cannot run at all: the user must fix it
                except Exception as exc:  # a model that cannot be fitted
                    # (degenerate data) leaves the exact rules' result, said out loud
                    found, splink_notes = _empty_links(), [
                        f"probabilistic matching failed ({type(exc).__name__}: "
                        f"{str(exc)[:150]}); exact rules and crosswalk only"]
            notes += splink_notes
            links.append(found)
            timings["probabilistic"] = time.perf_counter() - t0
    finally:
        con.close()
    t0 = time.perf_counter()
    edges = _best_per_pair(pd.concat([f for f in links if len(f)] or [_empty_links()],
                                     ignore_index=True))  # fmt: skip
    ids = prepared["source_id"].to_numpy()
    if keep_apart is not None and len(keep_apart):
        edges = _drop_kept_apart(edges, ids, keep_apart)
    identity = _clusters(prepared, edges, settings)
    out_links = pd.DataFrame({
        "source_id_l": ids[edges["id_l"].to_numpy()],
        "source_id_r": ids[edges["id_r"].to_numpy()],
        "rule": edges["rule"].to_numpy(),
        "match_probability": edges["match_probability"].to_numpy(),
        "match_weight": edges["match_weight"].to_numpy(),
        "details": edges["details"].to_numpy(),
    })  # fmt: skip
    timings["cluster"] = time.perf_counter() - t0
    return Resolution(identity=identity, links=out_links, timings=timings, settings=settings,
                      notes=tuple(notes))


_RULE_RANK = {"crosswalk": 0, "email": 1, "phone": 2, "probabilistic": 3}


def _best_per_pair(links: pd.DataFrame) -> pd.DataFrame:
    """One link per pair: the most certain rule (crosswalk, e-mail, phone, then model)."""
    if links.empty:
        return links
    lo = np.minimum(links["id_l"].to_numpy(), links["id_r"].to_numpy())
    hi = np.maximum(links["id_l"].to_numpy(), links["id_r"].to_numpy())
    links = links.assign(id_l=lo, id_r=hi, _rank=links["rule"].map(_RULE_RANK))
    links = links.sort_values(["id_l", "id_r", "_rank"], kind="stable")
    return links.drop_duplicates(["id_l", "id_r"]).drop(columns="_rank").reset_index(drop=True)


def _crosswalk_links(prepared: pd.DataFrame, crosswalk: pd.DataFrame) -> pd.DataFrame:
    """Records the user's crosswalk gives one customer_id, linked in a star to the first."""
    missing = [c for c in ("source_id", "customer_id") if c not in crosswalk.columns]
    if missing:
        raise MissingColumnError(f"the crosswalk needs columns source_id and customer_id; "
                                 f"columns found: {list(crosswalk.columns)[:20]}")  # fmt: skip
    index = pd.Series(prepared["record_id"].to_numpy(), index=prepared["source_id"].to_numpy())
    cw = crosswalk.assign(source_id=crosswalk["source_id"].astype(str),
                          customer_id=crosswalk["customer_id"].astype(str))  # fmt: skip
    cw = cw[cw["source_id"].isin(index.index)]
    cw = cw.assign(rid=index.reindex(cw["source_id"]).to_numpy()).sort_values("rid")
    head = cw.groupby("customer_id")["rid"].transform("first")
    pairs = cw[cw["rid"] != head]
    return pd.DataFrame({"id_l": head[pairs.index].to_numpy(), "id_r": pairs["rid"].to_numpy(),
                         "rule": "crosswalk", "match_probability": 1.0, "match_weight": np.nan,
                         "details": [f'{{"crosswalk": "{c}"}}' for c in pairs["customer_id"]]})


def _drop_kept_apart(edges: pd.DataFrame, ids: np.ndarray, keep_apart: pd.DataFrame
                     ) -> pd.DataFrame:  # fmt: skip
    index = {v: i for i, v in enumerate(ids)}
    blocked = set()
    for a, b in zip(keep_apart["source_id_l"].astype(str), keep_apart["source_id_r"].astype(str),
                    strict=True):
        if a in index and b in index:
            blocked.add((min(index[a], index[b]), max(index[a], index[b])))
    if not blocked:
        return edges
    keep = [(lo, hi) not in blocked for lo, hi in zip(edges["id_l"], edges["id_r"], strict=True)]
    return edges[keep].reset_index(drop=True)


def _clusters(prepared: pd.DataFrame, edges: pd.DataFrame, settings: IdentitySettings
              ) -> pd.DataFrame:  # fmt: skip
    """Connected components of the links; each named by its most authoritative record."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    n = len(prepared)
    lo, hi = edges["id_l"].to_numpy(), edges["id_r"].to_numpy()
    graph = coo_matrix((np.ones(len(lo)), (lo, hi)), shape=(n, n))
    _, comp = connected_components(graph, directed=False)
    rank = {s: i for i, s in enumerate(settings.priority)}
    frame = pd.DataFrame({
        "record_id": prepared["record_id"].to_numpy(),
        "comp": comp,
        "prank": prepared["source"].map(rank).fillna(len(rank)).to_numpy(),
        "first_seen": prepared["first_seen"].to_numpy(),
        "source_id": prepared["source_id"].to_numpy(),
    })  # fmt: skip
    head = frame.sort_values(["comp", "prank", "first_seen", "source_id"], kind="stable",
                             na_position="last").drop_duplicates("comp")  # fmt: skip
    name_of = pd.Series(head["source_id"].to_numpy(), index=head["comp"].to_numpy())
    customer_id = name_of.reindex(comp).to_numpy()
    # each record's strongest link: its rule and probability
    both = pd.concat([edges[["id_l", "rule", "match_probability"]].rename(columns={"id_l": "rid"}),
                      edges[["id_r", "rule", "match_probability"]].rename(columns={"id_r": "rid"})],
                     ignore_index=True)  # fmt: skip
    both["_rank"] = both["rule"].map(_RULE_RANK)
    best = both.sort_values(["rid", "_rank", "match_probability"], ascending=[True, True, False],
                            kind="stable").drop_duplicates("rid").set_index("rid")  # fmt: skip
    rule = best["rule"].reindex(np.arange(n)).fillna("none").to_numpy()
    prob = best["match_probability"].reindex(np.arange(n)).to_numpy()
    return pd.DataFrame({
        "source": prepared["source"].to_numpy(),
        "source_id": prepared["source_id"].to_numpy(),
        "customer_id": customer_id,
        "rule": rule,
        "match_probability": prob,
        "is_canonical": customer_id == prepared["source_id"].to_numpy(),
    })  # fmt: skip
