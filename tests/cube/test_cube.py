"""The customer cube: counts equal an independent pandas count, validation, listing, export."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crmine.cube import DEFAULT_BANDS, Filter, cube_columns, parse_where, pivot, query
from crmine.exceptions import DataError, MissingColumnError
from crmine.segment import run_segment
from crmine.warehouse import Workspace
from tests.segment._synth import load_company, simple_rfm


@pytest.fixture(scope="module")
def ws(tmp_path_factory):
    w = Workspace.init(tmp_path_factory.mktemp("cube") / "ws")
    load_company(w, 300, seed=2)
    simple_rfm(w)
    run_segment(w)
    yield w
    w.close()


@pytest.fixture(scope="module")
def reference(ws):
    """The cube rebuilt independently in pandas."""
    cust = ws.read("core.dim_customer")
    seg = ws.read("marts.customer_segments")
    rfm = ws.read("marts.customer_rfm")
    df = cust.merge(seg[["customer_id", "rfm_segment", "cluster", "value_tier"]],
                    on="customer_id", how="left")
    df = df.merge(rfm[["customer_id", "total_spend", "orders"]], on="customer_id", how="left")
    edges = DEFAULT_BANDS["age"]
    labels = ["<18"] + [f"{lo}-{hi}" for lo, hi in itertools.pairwise(edges)] + ["65+"]
    df["age_band"] = pd.cut(df["age"], [-np.inf, *edges, np.inf], right=False, labels=labels
                            ).astype(str)
    return df


VALUES = {
    "gender": ["F", "M"],
    "city": ["Shanghai", "Beijing", "Shenzhen", "Chengdu"],
    "region": ["East", "North", "South", "West"],
    "age_band": ["18-25", "25-35", "35-45", "45-55", "55-65", "65+"],
    "value_tier": ["A", "B", "C"],
}


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(choice=st.dictionaries(st.sampled_from(sorted(VALUES)), st.data(), max_size=3),
       min_age=st.one_of(st.none(), st.integers(18, 80)))
def test_random_filters_equal_independent_count(ws, reference, choice, min_age):
    where, mask = [], pd.Series(True, index=reference.index)
    for col, data in choice.items():
        vals = data.draw(st.lists(st.sampled_from(VALUES[col]), min_size=1, max_size=2,
                                  unique=True))
        present = [v for v in vals if v in set(reference[col])]
        if not present:
            continue
        where.append(f"{col}={','.join(present)}")
        mask &= reference[col].isin(present)
    if min_age is not None:
        where.append(f"age>={min_age}")
        mask &= reference["age"] >= min_age
    res = query(ws, where=where, by="region")
    assert res.count == int(mask.sum())
    expected = reference[mask].groupby("region").agg(customers=("customer_id", "size"),
                                                      revenue=("total_spend", "sum"))
    got = res.groups.set_index("region")
    assert got["customers"].to_dict() == expected["customers"].to_dict()
    assert np.allclose(got["revenue"].reindex(expected.index).fillna(0),
                       expected["revenue"].fillna(0))


def test_dimensions_and_bands(ws):
    cols = cube_columns(ws)
    for c in ("gender", "city", "region", "age_band", "income_band", "rfm_segment", "segment",
              "cluster", "value_tier", "channel", "occupation", "revenue"):
        assert c in cols, c
    res = query(ws, by="age_band", bands={"age": [30, 60]})
    assert set(res.groups["age_band"]) == {"<30", "30-60", "60+"}
    assert res.groups["customers"].sum() == res.count == 300


def test_list_page_and_export(ws, tmp_path, reference):
    res = query(ws, where=["gender=F"], list_customers=True, page=2, page_size=10,
                columns=["city", "value_tier"])
    expected_ids = sorted(reference.loc[reference.gender == "F", "customer_id"])
    assert res.customers["customer_id"].tolist() == expected_ids[10:20]
    assert list(res.customers.columns) == ["customer_id", "city", "value_tier"]
    assert res.pages == -(-len(expected_ids) // 10)
    out = query(ws, where={"gender": "F", "city": ["Shanghai"]}, export=tmp_path / "f.parquet")
    back = pd.read_parquet(out.exported)
    assert len(back) == out.count
    assert set(back["city"]) == {"Shanghai"}
    csv = query(ws, where=["gender=M"], export=tmp_path / "m.csv")
    assert len(pd.read_csv(csv.exported)) == csv.count
    assert csv.to_dict()["count"] == csv.count


def test_pivot_and_measures(ws, reference):
    res = query(ws, by=["region", "gender"], measures=["customers", "aov", "avg:age"])
    p = pivot(res, rows="region", columns="gender")
    assert p.to_numpy().sum() == 300
    east_f = reference[(reference.region == "East") & (reference.gender == "F")]
    row = res.groups.set_index(["region", "gender"]).loc[("East", "F")]
    assert row["avg:age"] == pytest.approx(east_f["age"].mean())
    assert row["aov"] == pytest.approx(east_f["total_spend"].sum() / east_f["orders"].sum())


def test_errors_list_what_is_valid(ws):
    with pytest.raises(MissingColumnError, match=r"unknown cube dimension 'colour'.*city"):
        query(ws, where=["colour=red"])
    with pytest.raises(DataError, match="valid values of city: Beijing, Chengdu"):
        query(ws, where=["city=Paris"])
    with pytest.raises(DataError, match="not a number"):
        query(ws, where=["age>=old"])
    with pytest.raises(DataError, match="column=value"):
        parse_where(["just text"])
    with pytest.raises(MissingColumnError, match="unknown measure"):
        query(ws, by="region", measures=["profit"])
    with pytest.raises(DataError, match=r"\.csv or \.parquet"):
        query(ws, export="x.xlsx")
    with pytest.raises(DataError, match="'not-a-date' is not a date"):
        query(ws, where=["signup_date>not-a-date"])


def test_values_are_literals_not_sql(ws, reference):
    # A value that would break out of a pasted SQL string is just a value that matches nobody.
    with pytest.raises(DataError, match="no customer has city"):
        query(ws, where=["city=x' OR '1'='1"])
    assert parse_where(["city=a,b"]) == [Filter("city", "=", ("a", "b"))]
    # Comparisons on text are not checked against the values: the quote stays inside the
    # literal, and the count is the plain string comparison's.
    evil = "Chengdu' OR '1'='1"
    res = query(ws, where=[f"city>{evil}"])
    assert res.count == int((reference["city"] > evil).sum()) < 300
    assert query(ws, where=["city<Shenzhen", "city!=Beijing,Chengdu"]).count == int(
        ((reference.city < "Shenzhen") & ~reference.city.isin(["Beijing", "Chengdu"])).sum())


def test_any_customer_table(reference):
    res = query(reference[["customer_id", "gender", "age"]], where=["gender=F", "age<40"])
    assert res.count == int(((reference.gender == "F") & (reference.age < 40)).sum())
    with pytest.raises(MissingColumnError, match="customer_id"):
        query(pd.DataFrame({"x": [1]}))


def test_cube_rebuilt_when_a_source_changes(tmp_path):
    w = Workspace.init(tmp_path / "w")
    load_company(w, 60, seed=3)
    assert query(w).count == 60
    cust = w.read("core.dim_customer")
    w.write_table("core.dim_customer", cust.head(50))
    assert query(w).count == 50
    w.close()


def test_stored_cube_reused_after_reopening(tmp_path):
    from crmine.cube._table import _CACHE

    w = Workspace.init(tmp_path / "w")
    load_company(w, 40, seed=5)
    assert query(w, where=["gender=F"]).count > 0
    built = w.duck.execute("SELECT built_at FROM meta.cube_state").fetchall()
    w.close()
    _CACHE.clear()
    with Workspace.open(tmp_path / "w") as again:
        assert query(again).count == 40
        # Same sources: the stored cube was reused, not rebuilt.
        assert again.duck.execute("SELECT built_at FROM meta.cube_state").fetchall() == built
        again.write_table("core.dim_customer", again.read("core.dim_customer").head(30))
        assert query(again).count == 30
        assert again.duck.execute("SELECT built_at FROM meta.cube_state").fetchall() != built
    with Workspace.open(tmp_path / "w", read_only=True) as ro:
        assert query(ro, where=["gender=F,M"]).count == 30


def test_bool_number_and_segment_filters(ws):
    seg = ws.read("marts.customer_segments")
    golden = query(ws, where=["is_golden=true"])
    assert golden.count == int(seg["is_golden"].sum())
    in_cluster = query(ws, where=["cluster=0,1", "segment!=Lost"])
    expected = seg[seg.cluster.isin([0, 1]) & (seg.rfm_segment != "Lost")]
    assert in_cluster.count == len(expected)
    with pytest.raises(DataError, match="true/false"):
        query(ws, where=["is_golden=maybe"])


def test_orders_only_and_empty_workspace(workspace):
    from crmine.exceptions import SchemaError

    with pytest.raises(SchemaError, match=r"core\.dim_customer"):
        query(workspace)
    workspace.write_table("core.fct_order_lines", pd.DataFrame({
        "order_id": ["o1", "o2", "o3"], "customer_id": ["x", "y", "y"],
        "order_ts": pd.to_datetime(["2024-01-01", "2024-01-02", "2024-01-03"]),
        "amount": [5.0, 7.0, 1.0], "channel": ["web", "app", "app"]}))
    assert query(workspace, where=["channel=app"]).count == 1


def test_folder_query_reads_the_stored_cube_without_the_workspace(tmp_path, monkeypatch):
    from crmine.cube import _query
    from crmine.warehouse import Workspace as Ws

    w = Ws.init(tmp_path / "w")
    load_company(w, 50, seed=6)
    expected = query(w, where=["gender=F"]).count  # builds and stores the cube
    w.close()

    def no_workspace(*_a, **_k):
        raise AssertionError("the workspace was opened although its stored cube is current")

    monkeypatch.setattr(Ws, "open", no_workspace)
    res = query(tmp_path / "w", where=["gender=F"], by="region")
    assert res.count == expected and res.groups["customers"].sum() == expected
    assert query(str(tmp_path / "w"), where={"gender": "F"}).count == expected
    with pytest.raises(DataError, match="valid values of city"):
        query(tmp_path / "w", where=["city=Paris"])
    monkeypatch.undo()

    # A changed source: the folder query opens the workspace and rebuilds the cube.
    with Ws.open(tmp_path / "w") as again:
        again.write_table("core.dim_customer", again.read("core.dim_customer").head(20))
    calls = []
    real = _query.prepare
    monkeypatch.setattr(_query, "prepare", lambda *a, **k: calls.append(1) or real(*a, **k))
    assert query(tmp_path / "w").count == 20 and calls == [1]
    assert query(tmp_path / "w").count == 20 and calls == [1]  # stored again: no rebuild


def test_folder_that_is_no_workspace_says_so(tmp_path):
    from crmine.exceptions import WorkspaceError

    with pytest.raises(WorkspaceError, match="not a crmine workspace"):
        query(tmp_path)
