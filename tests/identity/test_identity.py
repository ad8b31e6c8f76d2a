"""Identity resolution: normalised keys, exact rules and their guards, Splink on the demo's
planted duplicates (precision and recall of the true pairs), explain, split, history."""

from __future__ import annotations

import itertools
import json

import pandas as pd
import pytest
from typer.testing import CliRunner

from crmine.cli import app
from crmine.exceptions import ConfigError, DataError, IngestError
from crmine.identity import (
    IdentitySettings,
    email_key,
    identity_settings,
    name_key,
    phone_key,
    resolve_records,
)

runner = CliRunner()


def run(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def pairs(frame: pd.DataFrame, key: str) -> set[tuple[str, str]]:
    """Every pair of source ids sharing ``key``."""
    out: set[tuple[str, str]] = set()
    for _, ids in frame.groupby(key)["source_id"]:
        out.update(itertools.combinations(sorted(ids), 2))
    return out


def demo_records(company) -> pd.DataFrame:
    frames = [company.tables["customers"].assign(source="crm")]
    for name in ("shop", "helpdesk"):
        frames.append(company.tables[f"customers:{name}"].assign(source=name))
    return pd.concat(frames, ignore_index=True).rename(columns={"customer_id": "source_id"})


# -- keys ------------------------------------------------------------------------------------
def test_chinese_names_in_characters_and_pinyin_share_a_key():
    keys = name_key(pd.Series(["张伟", "Zhang Wei", "WEI ZHANG", "zhang-wei", "王秀英",
                               "Xiuying Wang", "WANG Xiuying", "张敏"])).tolist()
    assert keys[:4] == ["wei zhang"] * 4
    assert keys[4:7] == ["wang xiuying"] * 3
    assert keys[7] == "min zhang"  # another person


def test_nicknames_map_to_the_formal_name():
    keys = name_key(pd.Series(["Bob Smith", "Robert Smith", "Jim Wong", "James Wong",
                               "Zoë Brown"])).tolist()
    assert keys == ["robert smith", "robert smith", "james wong", "james wong", "brown zoe"]


def test_phone_and_email_keys():
    phones = phone_key(pd.Series(["+86 138 0013 8000", "0086-13800138000", "138-0013-8000",
                                  "13800183000", "12-34", None])).tolist()
    assert phones[:3] == ["3800138000"] * 3
    assert phones[3] != phones[0]  # transposed digits: not the same key (Splink scores it)
    assert pd.isna(phones[4]) and pd.isna(phones[5])
    emails = email_key(pd.Series(["A.B+shop@X.cn ", "a.b@x.cn", "none", ""])).tolist()
    assert emails[:2] == ["a.b@x.cn", "a.b@x.cn"]
    assert pd.isna(emails[2]) and pd.isna(emails[3])


# -- exact rules and their guards -----------------------------------------------------------
def test_exact_rules_merge_across_spellings_but_not_households_or_shared_values():
    shared = "13900000000"
    recs = pd.DataFrame({
        "source": ["crm", "shop", "shop", "desk", "desk"] + ["shop"] * 12,
        "source_id": ["C1", "A1", "A2", "H1", "H2"] + [f"S{i}" for i in range(12)],
        "name": ["张伟", "Wei Zhang", "张娜", "Bob Li", "Robert Li"]
                + [f"Person{i} X" for i in range(12)],
        "phone": ["+86 138 0013 8000", "13800138000", "138 0013 8000", None, None]
                 + [shared] * 12,
        "email": [None, None, None, "bob.li@x.com", "BOB.LI@x.com"] + [None] * 12,
        "birth_date": ["1990-01-02", None, "2015-06-01", None, None] + [None] * 12,
    })  # fmt: skip
    res = resolve_records(recs, probabilistic=False)
    cust = dict(zip(res.identity["source_id"], res.identity["customer_id"], strict=True))
    assert cust["A1"] == cust["C1"] == "A1"  # characters vs pinyin, phone formatted differently
    assert cust["A2"] == "A2"  # same phone, another given name and birth date: household
    assert cust["H1"] == cust["H2"] == "H1"  # nickname, e-mail in other case
    assert {cust[f"S{i}"] for i in range(12)} == {f"S{i}" for i in range(12)}  # shared phone
    assert res.summary()["links_by_rule"] == {"email": 1, "phone": 1}


def test_crosswalk_links_records_the_data_would_not():
    recs = pd.DataFrame({"source": ["crm", "erp", "erp"], "source_id": ["C1", "E9", "E10"],
                         "name": ["Ann Lee", "Totally Different", "Ann Lee"]})
    cw = pd.DataFrame({"source_id": ["C1", "E9", "ZZZ"], "customer_id": ["M1", "M1", "M1"]})
    res = resolve_records(recs, crosswalk=cw, probabilistic=False)
    assert res.identity["customer_id"].tolist() == ["C1", "C1", "E10"]
    assert res.identity["rule"].tolist() == ["crosswalk", "crosswalk", "none"]


def test_priority_names_the_customer():
    recs = pd.DataFrame({"source": ["shop", "crm"], "source_id": ["A1", "C1"],
                         "email": ["x@y.com", "x@y.com"]})
    assert resolve_records(recs, IdentitySettings(priority=("crm",)),
                           probabilistic=False).identity["customer_id"].tolist() == ["C1", "C1"]
    assert resolve_records(recs, probabilistic=False).identity["customer_id"].tolist() == [
        "A1", "A1"]


def test_duplicate_source_ids_are_refused():
    recs = pd.DataFrame({"source": ["a", "b"], "source_id": ["1", "1"]})
    with pytest.raises(ValueError, match="source_id '1' appears 2 times"):
        resolve_records(recs, probabilistic=False)


# -- settings ---------------------------------------------------------------------------------
@pytest.mark.parametrize("raw, message", [
    ({"match_threshold": "high"}, "match_threshold = 'high' must be a number between 0 and 1"),
    ({"match_threshold": 1.5}, "between 0 and 1"),
    ({"match_threshold": True}, "between 0 and 1"),
    ({"blocking": [["name", "shoe_size"]]}, "blocking"),
    ({"blocking": "name"}, "must be a list of rules"),
    ({"max_shared": 1}, "at least 2"),
    ({"deterministic": ["fax"]}, "deterministic"),
    ({"threshold": 0.9}, "unknown key(s) ['threshold']; valid keys:"),
    ("x", "must be a table"),
])  # fmt: skip
def test_identity_settings_are_type_checked(raw, message):
    with pytest.raises(ConfigError) as err:
        identity_settings(raw)
    assert message in str(err.value)


def test_identity_settings_read():
    s = identity_settings({"match_threshold": 0.7, "blocking": [["email"], ["name", "city"]],
                           "priority": ["crm"], "max_shared": 5})
    assert (s.match_threshold, s.blocking, s.priority, s.max_shared) == (
        0.7, (("email",), ("name", "city")), ("crm",), 5)


# -- the demo's planted duplicates ------------------------------------------------------------
@pytest.fixture(scope="module")
def company():
    from crmine.demo import generate

    return generate(n_customers=1_500, seed=3, identity_sources=True)


def test_identity_sources_leave_the_rest_of_the_demo_unchanged(company):
    from crmine.demo import generate

    plain = generate(n_customers=1_500, seed=3)
    assert set(company.tables) - set(plain.tables) == {"customers:shop", "customers:helpdesk"}
    for name, frame in plain.tables.items():
        pd.testing.assert_frame_equal(frame, company.tables[name])
    assert set(company.truth) - set(plain.truth) == {"identity"}


def test_demo_sources_plant_what_the_brief_asks(company):
    shop, desk = company.tables["customers:shop"], company.tables["customers:helpdesk"]
    truth = company.truth["identity"]
    assert len(truth) == 1_500 + len(shop) + len(desk)
    assert shop["name"].map(str.isascii).mean() > 0.6  # pinyin (and western names)
    assert (~desk["name"].map(str.isascii)).mean() > 0.3  # characters
    assert truth["person_id"].str.startswith(("P", "Q")).sum() > 50  # not in the CRM
    assert len(pairs(truth, "person_id")) > 800


def test_precision_and_recall_on_planted_duplicates(company):
    res = resolve_records(demo_records(company))
    true_pairs = pairs(company.truth["identity"], "person_id")
    found = pairs(res.identity, "customer_id")
    hit = len(true_pairs & found)
    precision, recall = hit / len(found), hit / len(true_pairs)
    assert precision >= 0.95, (precision, sorted(found - true_pairs)[:10])
    assert recall >= 0.95, (recall, sorted(true_pairs - found)[:10])
    # the probabilistic model does real work beyond the exact rules
    exact = pairs(resolve_records(demo_records(company), probabilistic=False).identity,
                  "customer_id")
    assert len(exact & true_pairs) / len(true_pairs) < recall - 0.05


# -- the workspace and the CLI ----------------------------------------------------------------
@pytest.fixture(scope="module")
def id_workspace(tmp_path_factory):
    from crmine.demo._workspace import build_demo_workspace

    folder = tmp_path_factory.mktemp("identity")
    ws, _ = build_demo_workspace(folder, n_customers=400, seed=1, identity_sources=True)
    ws.close()
    return folder


def test_resolve_explain_split_history_through_the_cli(id_workspace):
    from crmine.warehouse import Workspace

    w = str(id_workspace)
    code, out, err = run("identity", "resolve", "-w", w, "--json")
    assert code == 0, err
    summary = json.loads(out)
    with Workspace.open(id_workspace, read_only=True) as ws:
        n_dim = ws.duck.execute(
            "SELECT count(*) FROM core.dim_customer WHERE is_current").fetchone()[0]
        ident = ws.read("core.customer_identity")
        truth = ws.read("truth.identity")
    assert summary["records"] == n_dim == len(ident)  # every source id kept
    assert set(ident["source"]) == {"demo:customers", "demo:shop", "demo:helpdesk"}
    assert (ident.set_index("source_id")["source"]
            == truth.set_index("source_id")["source"].reindex(ident["source_id"])).all()
    assert summary["customers"] < summary["records"]
    found, true_pairs = pairs(ident, "customer_id"), pairs(truth, "person_id")
    assert len(found & true_pairs) / len(found) >= 0.95

    # a customer of three or more records, merged by the model at least once
    sizes = ident["customer_id"].value_counts()
    big = [c for c in sizes[sizes >= 3].index
           if (ident.loc[ident["customer_id"] == c, "rule"] == "probabilistic").any()]
    assert big, "expected a customer merged from three records by the model"
    customer = big[0]
    code, out, err = run("identity", "explain", customer, "-w", w, "--json")
    assert code == 0, err
    explained = json.loads(out)
    assert explained["customer_id"] == customer
    assert len(explained["records"]) == sizes[customer]
    model_links = [link for link in explained["links"] if link["rule"] == "probabilistic"]
    assert model_links and all(link["match_probability"] >= 0.8 for link in model_links)
    assert {"name", "email", "phone", "birth", "address", "city"} <= set(
        model_links[0]["details"])
    # explaining a record finds its customer
    member = next(r["source_id"] for r in explained["records"] if not r["is_canonical"])
    code, out, _ = run("identity", "explain", f"demo:shop:{member}", "-w", w, "--json")
    assert json.loads(out)["customer_id"] == customer
    code, out, _ = run("identity", "explain", customer, "-w", w)  # the human view
    assert code == 0 and "Links" in out and "split" in out

    # split one record off; it stays apart after the next resolve
    code, out, err = run("identity", "split", customer, "--record", member, "-w", w, "--json")
    assert code == 0, err
    split = json.loads(out)
    assert member in split["customers"] and customer in split["customers"]
    code, out, err = run("identity", "resolve", "-w", w, "--json")
    assert code == 0, err
    with Workspace.open(id_workspace, read_only=True) as ws:
        ident2 = ws.read("core.customer_identity").set_index("source_id")["customer_id"]
        history = ws.read("core.identity_history")
    assert ident2[member] != ident2[customer]
    assert ((history["action"] == "split") & (history["source_id"] == member)).sum() == 1
    assert (history["action"] == "merge").sum() >= summary["records_merged"]

    # split the whole customer: every record on its own
    code, out, _ = run("identity", "split", customer, "-w", w, "--json")
    assert code == 0
    after = json.loads(out)["customers"]
    assert len(after) == sizes[customer] - 1  # the record split before is elsewhere


def test_resolved_table_keeps_every_row_and_source_id(id_workspace):
    from crmine.identity import resolve_identities, resolved_table
    from crmine.warehouse import Workspace

    with Workspace.open(id_workspace) as ws:
        resolve_identities(ws)
        again = resolve_identities(ws)  # nothing new: nothing changes, no history added
        assert again.changed == 0
        lines = ws.read("core.fct_order_lines")
        view = resolved_table(ws, "core.fct_order_lines").to_pandas()
        ident = ws.read("core.customer_identity").set_index("source_id")["customer_id"]
    assert len(view) == len(lines)
    assert view["source_customer_id"].isna().sum() == lines["customer_id"].isna().sum()
    known = view["source_customer_id"].notna()
    expected = ident.reindex(view.loc[known, "source_customer_id"]).to_numpy()
    assert (view.loc[known, "customer_id"].to_numpy() == expected).all()


def test_cli_errors_are_clear(id_workspace, tmp_path):
    w = str(id_workspace)
    code, out, err = run("identity", "explain", "NOBODY", "-w", w, "--json")
    assert code == 2 and "NOBODY" in json.loads(out)["error"]["message"]
    code, out, err = run("identity", "resolve", "--crosswalk", str(tmp_path / "no.csv"),
                         "-w", w, "--json")
    assert code == 2 and "crosswalk file" in json.loads(out)["error"]["message"]
    assert "Traceback" not in err


def test_bad_identity_config_is_a_clear_error(tmp_path):
    from crmine.identity import resolve_identities, workspace_identity_settings
    from crmine.warehouse import Workspace, ingest

    ws = Workspace.init(tmp_path / "w")
    ingest(ws, "customers", pd.DataFrame({"customer_id": ["1", "2"],
                                          "email": ["a@b.cc", "A@b.cc"]}))
    ws.config.extra["identity"] = {"match_threshold": "high"}
    with pytest.raises(ConfigError, match=r"\[identity\] match_threshold = 'high'"):
        workspace_identity_settings(ws)
    ws.config.extra["identity"] = {"crosswalk": "cw.csv"}
    with pytest.raises(IngestError, match=r"cw\.csv not found"):
        resolve_identities(ws, workspace_identity_settings(ws))
    (tmp_path / "w" / "cw.csv").write_text("source_id,customer_id\n1,\n")
    with pytest.raises(IngestError, match="line 2: empty"):
        resolve_identities(ws, workspace_identity_settings(ws))
    ws.config.extra.pop("identity")
    run_ = resolve_identities(ws, probabilistic=False)
    assert run_.resolution.n_customers == 1
    with pytest.raises(DataError, match="not one of customer"):
        from crmine.identity import split_customer

        split_customer(ws, "1", record="3")
    ws.close()


def test_tiny_inputs_are_said_out_loud():
    recs = pd.DataFrame({"source": ["crm", "shop"], "source_id": ["C1", "A1"],
                         "email": ["a@b.cc", "a@b.cc"]})
    res = resolve_records(recs)
    assert res.n_customers == 1 and "too few to fit" in res.notes[0]



@pytest.mark.spark
@pytest.mark.slow
def test_spark_backend_finds_the_pairs_duckdb_finds(spark_session):
    """Splink on Spark (local[2]) scores the pairs with the model trained in DuckDB (the
    same parameters), so the same customers up to the engines' string-similarity functions;
    precision and recall hold there too. Training on Spark took ~100 s here (60-odd small
    Spark jobs) for the same result."""
    from crmine.demo import generate

    small = generate(n_customers=500, seed=4, identity_sources=True)  # Spark's cost is per step
    records = demo_records(small)
    true_pairs = pairs(small.truth["identity"], "person_id")
    local = pairs(resolve_records(records).identity, "customer_id")
    res = resolve_records(records, IdentitySettings(backend="spark"), spark=spark_session)
    found = pairs(res.identity, "customer_id")
    hit = len(true_pairs & found)
    assert hit / len(found) >= 0.95 and hit / len(true_pairs) >= 0.95, (hit, len(found))
    assert len(found ^ local) <= 0.01 * len(local), sorted(found ^ local)[:10]
    assert not any("failed" in n for n in res.notes), res.notes


def test_spark_session_without_splinks_functions_is_a_clear_error(spark_session, monkeypatch):
    import crmine.identity._resolve as resolve_module

    class Broken:
        def __init__(self, **_: object) -> None:
            raise RuntimeError("py4j: class uk.gov.moj.dash.linkage.JaroWinklerSimilarity")

    monkeypatch.setattr("splink.SparkAPI", Broken)
    with pytest.raises(ConfigError, match="similarity_jar_location"):
        resolve_module._splink_api(IdentitySettings(backend="spark"), None, spark_session)
