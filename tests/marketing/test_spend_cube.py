"""The spend cube: media spend rows counted and summed by any combination of filters and
dimensions (Python API and ``crmine cube --spend``), equal to an independent pandas
computation, finding the demo's planted cheapest audience."""

from __future__ import annotations

import datetime as dt
import json

import numpy as np
import pytest
from typer.testing import CliRunner

from crmine.cli import app
from crmine.cube import spend_columns, spend_query
from crmine.demo._marketing_spend import make_marketing_spend
from crmine.exceptions import ConfigError, DataError, MissingColumnError
from crmine.warehouse import Workspace, ingest


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    """A closed workspace holding only the demo company's media spend (14k rows)."""
    root = tmp_path_factory.mktemp("spend_cube") / "ws"
    ws = Workspace.init(root)
    media = make_marketing_spend(
        np.random.default_rng(np.random.SeedSequence(0, spawn_key=(9,))), signal=True)
    ingest(ws, "marketing_spend", media.spend)
    ws.close()
    return root, media


def test_sums_by_any_filters_equal_pandas(folder):
    root, media = folder
    rows = media.spend
    res = spend_query(root, where=["channel=search,social", "age=25-34", "spend>=50"],
                      by=["channel", "gender"])
    mine = rows[rows["channel"].isin(["search", "social"]) & (rows["age"] == "25-34")
                & (rows["spend"] >= 50)]
    expected = mine.groupby(["channel", "gender"]).agg(
        rows=("spend", "size"), spend=("spend", "sum"), conversions=("conversions", "sum"),
        revenue=("revenue", "sum")).reset_index()
    got = res.groups
    assert res.count == len(mine) == int(got["rows"].sum())
    assert got[["channel", "gender"]].values.tolist() == expected[
        ["channel", "gender"]].values.tolist()
    for col in ("rows", "spend", "conversions", "revenue"):
        assert got[col].to_numpy() == pytest.approx(expected[col].to_numpy())
    # Ratios are ratios of the sums, not means of per-row ratios.
    assert got["cpa"].to_numpy() == pytest.approx(expected["spend"] / expected["conversions"])
    assert got["roas"].to_numpy() == pytest.approx(expected["revenue"] / expected["spend"])
    assert spend_query(root, where=["channel=video"]).count == int(
        (rows["channel"] == "video").sum())


def test_planted_cheapest_audience_is_cheapest_in_every_channel(folder):
    """25-34 women convert 1.7x per click (planted): lowest CPA within each channel."""
    root, _ = folder
    groups = spend_query(root, by=["channel", "age", "gender"], measures=["cpa"]).groups
    cheapest = groups.loc[groups.groupby("channel")["cpa"].idxmin()]
    assert len(cheapest) == 5
    assert (cheapest["age"] == "25-34").all() and (cheapest["gender"] == "F").all()


def test_periods_and_measures(folder):
    root, media = folder
    monthly = spend_query(root, by="period", period="M",
                          measures=["spend", "ctr", "cpm", "max:spend"]).groups
    assert monthly["spend"].sum() == pytest.approx(media.spend["spend"].sum())
    assert len(monthly) == media.spend["date"].map(lambda d: (d.year, d.month)).nunique()
    assert (monthly["ctr"].between(0, 1)).all() and (monthly["cpm"] > 0).all()
    kinds = spend_columns(root)
    assert kinds["channel"] == "text" and kinds["period"] == "date"
    assert "source_row" not in kinds and "load_id" not in kinds
    since = spend_query(root, where=["period>=2025-01-01"]).count
    assert since == int((media.spend["date"] >= dt.date(2025, 1, 1)).sum())


def test_bad_filters_and_measures_say_what_is_valid(folder, workspace):
    root, _ = folder
    with pytest.raises(DataError, match=r"no spend row has channel = 'tv'.*search"):
        spend_query(root, where=["channel=tv"])
    with pytest.raises(MissingColumnError, match="unknown spend measure 'ltv'"):
        spend_query(root, by="channel", measures=["ltv"])
    with pytest.raises(MissingColumnError, match="unknown spend dimension"):
        spend_query(root, by="city")
    with pytest.raises(ConfigError, match="period must be"):
        spend_query(root, by="period", period="fortnight")
    with pytest.raises(DataError, match=r"no core\.fct_marketing_spend"):
        spend_query(workspace)


def test_cli_cube_spend(folder):
    root, media = folder
    runner = CliRunner()
    res = runner.invoke(app, ["cube", "--spend", "--where", "gender=F", "--by", "channel",
                              "--measure", "spend", "--measure", "cpa", "-w", str(root),
                              "--json"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    women = media.spend[media.spend["gender"] == "F"]
    assert out["count"] == len(women)
    by_channel = {g["channel"]: g["spend"] for g in out["groups"]}
    assert by_channel == pytest.approx(women.groupby("channel")["spend"].sum().to_dict())
    res = runner.invoke(app, ["cube", "--spend", "--by", "age", "-w", str(root)],
                        env={"COLUMNS": "80"})
    assert res.exit_code == 0 and "spend rows" in res.stdout, res.output
    res = runner.invoke(app, ["cube", "--spend", "--list", "-w", str(root)])
    assert res.exit_code == 2 and "--by" in res.output
