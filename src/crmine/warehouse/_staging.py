"""Staging: typing the raw text into canonical columns and finding what breaks a rule.

For each canonical column this builds a typed SQL expression over the raw table and the checks
that send a row to quarantine, the first failing check giving the row's reason. Formats are
detected per column on the data itself (date format, thousands separators, ids exported as
floats), so one cheap scan per column decides, and the per-row expression stays simple.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import duckdb

from crmine.warehouse._core import quote
from crmine.warehouse._mapping import ROW_NUMBER
from crmine.warehouse._schema import Column, Entity

__all__ = ["Check", "StagingPlan", "plan_staging"]

# Tried in this order; the format parsing most values of a column wins (ties: first).
DATE_FORMATS = (
    "iso", "%Y%m%d", "%m/%d/%Y %H:%M", "%m/%d/%Y %H:%M:%S", "%m/%d/%Y", "%d/%m/%Y %H:%M",
    "%d/%m/%Y %H:%M:%S", "%d/%m/%Y", "%Y/%m/%d %H:%M:%S", "%Y/%m/%d %H:%M", "%Y/%m/%d",
    "%d.%m.%Y %H:%M", "%d.%m.%Y", "%d-%m-%Y %H:%M", "%d-%m-%Y", "%Y年%m月%d日 %H:%M",
    "%Y年%m月%d日", "%d %b %Y", "%b %d %Y", "%d %B %Y", "%B %d, %Y",
)  # fmt: skip

_TRUE = ("true", "t", "yes", "y", "1", "1.0", "是")
_FALSE = ("false", "f", "no", "n", "0", "0.0", "否")

# Source words recognised for accepted-value columns.
_SYNONYMS: dict[str, dict[str, tuple[str, ...]]] = {
    "status": {
        "completed": (
            "completed",
            "complete",
            "paid",
            "shipped",
            "delivered",
            "success",
            "ok",
            "done",
            "closed",
            "fulfilled",
            "已完成",
            "完成",
        ),
        "returned": ("returned", "return", "refunded", "refund", "退货", "已退货"),
        "cancelled": ("cancelled", "canceled", "cancel", "void", "voided", "取消", "已取消"),
    },
    "group": {
        "treatment": ("treatment", "test", "t", "exposed", "target", "1", "true", "yes", "实验组"),
        "control": ("control", "c", "holdout", "hold-out", "0", "false", "no", "对照组"),
    },
}


@dataclass(frozen=True, slots=True)
class Check:
    """A row-level rule: when ``failed`` (SQL) holds, the row goes to quarantine."""

    failed: str
    reason: str
    column: str
    value: str  # SQL giving the offending raw value


@dataclass(slots=True)
class StagingPlan:
    """The typed select list and the checks of one load."""

    select: dict[str, str] = field(default_factory=dict)  # output column -> SQL
    checks: list[Check] = field(default_factory=list)
    extras: dict[str, str] = field(default_factory=dict)  # warehouse column -> SQL type
    formats: dict[str, str] = field(default_factory=dict)  # canonical column -> detected format


def _lit(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _count(con: duckdb.DuckDBPyConnection, raw: str, expr: str) -> int:
    row = con.execute(f"SELECT count(*) FROM {raw} WHERE {expr}").fetchone()
    return int(row[0]) if row else 0


_PROBE_BATCH = 256  # aggregates per probe query


class _Probe:
    """Facts about the parsed columns, gathered in one scan (a scan per question cost more
    than typing the whole load).

    ``text(src)`` is the column's value as text, NULL when empty; trimmed only when some
    value is padded, since trimming every value of every column was most of the typing time.
    """

    def __init__(
        self, con: duckdb.DuckDBPyConnection, raw: str, rows: int, plan: list[tuple[str, str]]
    ):
        self.con, self.raw = con, raw
        # Dates are judged on a systematic sample of about 20,000 rows: casting is the costly
        # part, and a wrong guess costs only quarantined rows, never wrong values.
        stride = max(1, rows // 20_000)
        # Each ask is an aggregate. A CASE evaluates its THEN only where WHEN holds, whereas
        # FILTER (WHERE a AND b) evaluates b on every row.
        # Padded: starting or ending with what trim() removes, the space separators (Zs: ' ',
        # no-break, ideographic U+3000...). LIKE sees ASCII spaces cheaply; the regex runs
        # only on values with non-ASCII characters.
        asks = {
            f"pad:{src}": (
                f"count(CASE WHEN {q} LIKE ' %' OR {q} LIKE '% ' THEN 1 "
                f"WHEN strlen({q}) <> length({q}) THEN CASE WHEN "
                f"regexp_matches({q}, '^\\p{{Zs}}|\\p{{Zs}}$') THEN 1 END END)"
            )
            for q, src in ((quote(src), src) for src in dict.fromkeys(s for s, _k in plan))
        }
        # Many extra columns (a wide file) are probed in one query over their unpivoted
        # values: a column of aggregates each cost as much as the rest of the load.
        extras = list(dict.fromkeys(src for src, kind in plan if kind == "extra"))
        canonical = {src for src, kind in plan if kind != "extra"}
        by_value = (
            [c for c in extras if c not in canonical]
            if len(extras) > _PROBE_BATCH // 4 and rows * len(extras) <= 50_000_000
            else []
        )
        for src in by_value:
            del asks[f"pad:{src}"]
        for src, kind in plan:
            if kind == "extra" and src in by_value:
                continue
            q, text = quote(src), f"nullif(trim({quote(src)}), '')"
            if kind in ("number", "extra"):  # casting to a number ignores blanks around it
                asks[f"bad:{src}"] = (
                    f"count(CASE WHEN TRY_CAST({q} AS DOUBLE) IS NULL THEN {text} END)"
                )
            if kind == "extra":
                asks[f"values:{src}"] = f"count({text})"
                asks[f"nonfinite:{src}"] = (
                    f"count(CASE WHEN NOT isfinite(TRY_CAST({q} AS DOUBLE)) THEN 1 END)"
                )
            if kind == "date":
                sampled = f"CASE WHEN rowid % {stride} = 0 THEN {text} END"
                asks[f"values:{src}"] = f"count({sampled})"
                asks[f"iso:{src}"] = f"count(TRY_CAST({sampled} AS TIMESTAMP))"
                asks[f"filled:{src}"] = f"count({q})"
            if kind == "id":
                asks[f"float:{src}"] = (
                    f"count(*) FILTER (WHERE regexp_full_match({q}, ' *-?\\d+\\.0+ *'))"
                )
        self.counts: dict[str, int] = {}
        if by_value:
            self._probe_by_value(by_value)
        names = list(asks)
        # In batches: planning one query grows faster than its number of aggregates (10,000
        # columns took more than 10 minutes in one query), while a batch of a few hundred
        # plans in milliseconds; a narrow file is still one scan.
        for start in range(0, len(names), _PROBE_BATCH):
            batch = names[start : start + _PROBE_BATCH]
            row = con.execute(f"SELECT {', '.join(asks[n] for n in batch)} FROM {raw}").fetchone()
            self.counts.update({n: int(v) for n, v in zip(batch, row or (), strict=True)})

    def _probe_by_value(self, columns: list[str]) -> None:
        """The extras' counts from one scan of their values, unpivoted (NULLs drop out, as
        every count below ignores them)."""
        v = "v"
        names = ", ".join(quote(c) for c in columns)
        rows = self.con.execute(
            f"""
            SELECT name,
                   count(CASE WHEN {v} LIKE ' %' OR {v} LIKE '% ' THEN 1
                         WHEN strlen({v}) <> length({v}) THEN CASE WHEN
                         regexp_matches({v}, '^\\p{{Zs}}|\\p{{Zs}}$') THEN 1 END END),
                   count(CASE WHEN TRY_CAST({v} AS DOUBLE) IS NULL
                         THEN nullif(trim({v}), '') END),
                   count(nullif(trim({v}), '')),
                   count(CASE WHEN NOT isfinite(TRY_CAST({v} AS DOUBLE)) THEN 1 END)
            FROM (UNPIVOT (SELECT {names} FROM {self.raw}) ON {names} INTO NAME name VALUE v)
            GROUP BY name
            """
        ).fetchall()
        for src in columns:  # a column of NULLs only has no row
            for ask in ("pad", "bad", "values", "nonfinite"):
                self.counts[f"{ask}:{src}"] = 0
        for name, pad, bad, values, nonfinite in rows:
            self.counts.update({f"pad:{name}": int(pad), f"bad:{name}": int(bad),
                                f"values:{name}": int(values),
                                f"nonfinite:{name}": int(nonfinite)})  # fmt: skip

    def __getitem__(self, key: str) -> int:
        return self.counts[key]

    def text(self, src: str) -> str:
        padded = self.counts.get(f"pad:{src}", 1)
        return f"nullif(trim({quote(src)}), '')" if padded else f"nullif({quote(src)}, '')"


def _detect_date(probe: _Probe, src: str) -> str:
    """The date format parsing the most of a sample of the column's values (ISO if all do)."""
    # The common case, decided by the probe's every-n-th-row sample when it holds enough
    # values (a sparse column may have few or none there).
    seen = probe[f"values:{src}"]
    if seen >= min(1000, probe[f"filled:{src}"]) and seen and probe[f"iso:{src}"] == seen:
        return "iso"
    sample = (
        f"(SELECT v FROM (SELECT {probe.text(src)} AS v FROM {probe.raw}) WHERE v IS NOT NULL "
        "USING SAMPLE 20000 ROWS)"
    )
    counts = []
    for fmt in DATE_FORMATS:
        parsed = "TRY_CAST(v AS TIMESTAMP)" if fmt == "iso" else f"try_strptime(v, {_lit(fmt)})"
        row = probe.con.execute(f"SELECT count({parsed}) FROM {sample}").fetchone()
        counts.append(int(row[0]) if row else 0)
    best = max(range(len(DATE_FORMATS)), key=lambda i: (counts[i], -i))
    return DATE_FORMATS[best]


def _date_expr(src_text: str, fmt: str, typ: str) -> str:
    parsed = (
        f"TRY_CAST({src_text} AS TIMESTAMP)"
        if fmt == "iso"
        else f"coalesce(try_strptime({src_text}, {_lit(fmt)}), TRY_CAST({src_text} AS TIMESTAMP))"
    )
    return f"CAST({parsed} AS DATE)" if typ == "date" else parsed


def _number_expr(probe: _Probe, src: str, typ: str) -> tuple[str, str]:
    """Typed number expression; cleans currency signs and thousands separators if needed."""
    text = probe.text(src)
    target = "BIGINT" if typ == "int" else "DOUBLE"
    expr, fmt, bad = f"TRY_CAST({text} AS DOUBLE)", "plain", probe[f"bad:{src}"]
    if bad:
        stripped = f"regexp_replace({text}, '^[$€£¥￥\\s]+|\\s+$', '', 'g')"
        candidates = {
            # 1,234.50 and $80
            "cleaned": f"TRY_CAST(CASE WHEN regexp_full_match({stripped}, "
            f"'-?\\d{{1,3}}(,\\d{{3}})+(\\.\\d+)?') THEN replace({stripped}, ',', '') "
            f"ELSE {stripped} END AS DOUBLE)",
            # 1.234,50 and 99,50 (decimal comma)
            "decimal comma": f"TRY_CAST(CASE WHEN regexp_full_match({stripped}, "
            f"'-?\\d{{1,3}}(\\.\\d{{3}})+(,\\d+)?|-?\\d+,\\d+') THEN "
            f"replace(replace({stripped}, '.', ''), ',', '.') "
            f"ELSE {stripped} END AS DOUBLE)",
        }
        for name, candidate in candidates.items():
            failures = _count(probe.con, probe.raw, f"{text} IS NOT NULL AND {candidate} IS NULL")
            if failures < bad:
                expr, fmt, bad = candidate, name, failures
    if target == "BIGINT":
        expr = f"TRY_CAST(round({expr}) AS BIGINT)"
    return expr, fmt


def _id_expr(probe: _Probe, src: str) -> str:
    """Ids exported as floats (``17850.0``) become ``17850``; detected once per column."""
    text = probe.text(src)
    if probe[f"float:{src}"]:
        return f"regexp_replace({text}, '^(-?\\d+)\\.0+$', '\\1')"
    return text


def _accepted_expr(column: str, text: str) -> str:
    cases = " ".join(
        f"WHEN lower({text}) IN ({', '.join(_lit(w) for w in words)}) THEN {_lit(value)}"
        for value, words in _SYNONYMS[column].items()
    )
    return f"CASE {cases} END"


# Customer attributes written many ways by different sources, in one form each: gender as
# F/M (the form most CRMs export; other values are kept as given), "unknown" as missing.
_GENDER = {
    "F": ("f", "female", "woman", "w", "girl", "女", "女性", "femme", "weiblich", "mujer"),
    "M": ("m", "male", "man", "boy", "男", "男性", "homme", "männlich", "hombre"),
    None: ("u", "unknown", "unk", "n/a", "na", "?", "-", "未知", "不详"),
}


def _gender_expr(text: str) -> str:
    cases = " ".join(
        f"WHEN lower({text}) IN ({', '.join(_lit(w) for w in words)}) THEN "
        f"{_lit(value) if value else 'NULL'}"
        for value, words in _GENDER.items()
    )
    return f"CASE {cases} ELSE {text} END"


# Contact details normalised so that the same person from two sources matches.
_STANDARD_TEXT = {
    "gender": _gender_expr,
    "email": lambda text: f"lower({text})",
    # digits only, keeping an international "+" prefix: "+86 (21) 5555-1234" -> "+862155551234"
    "phone": lambda text: (
        f"CASE WHEN regexp_matches({text}, '[0-9]') THEN "
        f"CASE WHEN starts_with({text}, '+') THEN '+' ELSE '' END"
        f" || regexp_replace({text}, '[^0-9]', '', 'g') END"
    ),
}


def standard_text(column: str, text: str) -> str | None:
    """SQL giving the standard form of customer attribute ``column`` (gender, email, phone)
    from the text expression ``text``; None for a column kept as given."""
    fn = _STANDARD_TEXT.get(column)
    return fn(text) if fn else None


def _bool_expr(text: str) -> str:
    t = ", ".join(_lit(v) for v in _TRUE)
    f = ", ".join(_lit(v) for v in _FALSE)
    return f"CASE WHEN lower({text}) IN ({t}) THEN true WHEN lower({text}) IN ({f}) THEN false END"


def _probe_kind(col: Column) -> str:
    """What the probe must find out about a canonical column's source."""
    if col.type == "text":
        return "id" if col.name.endswith("_id") else "text"
    if col.type in ("int", "float"):
        return "number"
    return "date" if col.type in ("date", "timestamp") else "text"


def _typed(probe: _Probe, col: Column, src: str, plan: StagingPlan) -> str:
    text = probe.text(src)
    if col.type == "text":
        if col.name.endswith("_id"):
            return _id_expr(probe, src)
        if col.accepted and col.name in _SYNONYMS:
            return _accepted_expr(col.name, text)
        if col.name in _STANDARD_TEXT:
            plan.formats[col.name] = "standardised"
            return _STANDARD_TEXT[col.name](text)
        return text
    if col.type in ("int", "float"):
        expr, plan.formats[col.name] = _number_expr(probe, src, col.type)
        return expr
    if col.type in ("date", "timestamp"):
        fmt = plan.formats[col.name] = _detect_date(probe, src)
        return _date_expr(text, fmt, col.type)
    return _bool_expr(text)


_TYPE_REASON = {
    "int": "bad number",
    "float": "bad number",
    "date": "unparseable date",
    "timestamp": "unparseable date",
    "bool": "bad boolean",
}


def plan_staging(
    con: duckdb.DuckDBPyConnection,
    entity: Entity,
    raw: str,
    canonical: dict[str, str],
    extras: dict[str, str],
    *,
    rows: int,
    source_label: str,
    nullable_keys: tuple[str, ...] = (),
) -> StagingPlan:
    """Typed expressions and checks for loading ``raw`` as ``entity``.

    ``canonical`` maps canonical columns to raw columns (or ``@row``); ``extras`` maps extra
    raw columns to their warehouse names.
    """
    plan = StagingPlan()
    mapped = [
        (col, src)
        for col in entity.columns
        if (src := canonical.get(col.name)) is not None and src != ROW_NUMBER
    ]
    probe = _Probe(
        con,
        raw,
        rows,
        [(src, _probe_kind(col)) for col, src in mapped] + [(src, "extra") for src in extras],
    )
    for col in entity.columns:
        src = canonical.get(col.name)
        if src is None:
            continue
        if src == ROW_NUMBER:
            plan.select[col.name] = f"{_lit(source_label + ':')} || CAST(_row AS VARCHAR)"
            continue
        expr = _typed(probe, col, src, plan)
        plan.select[col.name] = expr
        text = probe.text(src)
        if (col.name in entity.key or col.required) and col.name not in nullable_keys:
            plan.checks.append(Check(f"{text} IS NULL", "missing key", col.name, text))
        if col.type == "float":
            # NaN, inf, Infinity and 1e309 parse as doubles, and one makes every sum NaN. (The
            # row is quarantined, so the typed value itself need not hide them.)
            plan.checks.append(
                Check(
                    f"{text} IS NOT NULL AND NOT coalesce(isfinite({expr}), false)",
                    _TYPE_REASON[col.type],
                    col.name,
                    text,
                )
            )
        elif col.type != "text":
            plan.checks.append(
                Check(
                    f"{text} IS NOT NULL AND ({expr}) IS NULL",
                    _TYPE_REASON[col.type],
                    col.name,
                    text,
                )
            )
        elif col.accepted and col.name in _SYNONYMS:
            plan.checks.append(
                Check(
                    f"{text} IS NOT NULL AND ({expr}) IS NULL", "unaccepted value", col.name, text
                )
            )
        if col.non_negative:
            reason = (
                "negative price" if col.name in ("unit_price", "unit_cost") else "negative value"
            )
            plan.checks.append(Check(f"({expr}) < 0", reason, col.name, text))
    for src, name in extras.items():
        if probe[f"bad:{src}"] == 0 and probe[f"values:{src}"] > probe[f"nonfinite:{src}"]:
            number = f"TRY_CAST({probe.text(src)} AS DOUBLE)"
            plan.select[name] = number
            plan.extras[name] = "DOUBLE"
            if probe[f"nonfinite:{src}"]:
                plan.checks.append(
                    Check(f"NOT isfinite({number})", "bad number", name, probe.text(src))
                )
        else:
            plan.select[name] = probe.text(src)
            plan.extras[name] = "VARCHAR"
    return plan
