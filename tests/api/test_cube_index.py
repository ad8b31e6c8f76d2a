"""The server's in-memory cube index answers exactly what SQL answers: on many random filters,
for counts and pages, and under many concurrent clients of a real uvicorn server."""

from __future__ import annotations

import dataclasses
import random
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from crmine.cube import parse_where, query
from tests.api.conftest import auth


@pytest.fixture(scope="module")
def served(app) -> Any:  # type: ignore[no-untyped-def]
    """(cube with its index, the same cube without) of the copy the server serves."""
    pool = app.state.crmine.pool
    deadline = time.monotonic() + 60
    while pool.index is None:  # built in the background at start
        assert time.monotonic() < deadline, "the cube index was not built"
        time.sleep(0.05)
    with pool.borrow_cube() as (_, cube):
        assert cube.index is pool.index
        yield cube, dataclasses.replace(cube, index=None)


def _random_filter(rng: random.Random, cube: Any) -> str:
    """A filter on a random column: any of its values (or a value between its quantiles),
    any operator the cube accepts for it."""
    kinds = cube.kinds
    column = rng.choice([c for c, k in kinds.items() if k in ("text", "number", "bool")
                         and c != "customer_id"])
    kind = kinds[column]
    if kind == "bool":
        return f"{column}{rng.choice(['=', '!='])}{rng.choice(['true', 'false'])}"
    if kind == "text":
        values = cube.distinct(column)
        if len(values) > 64:
            return f"{column}={rng.choice(values)}"  # a column the index leaves to SQL
        chosen = rng.sample(values, rng.randint(1, min(3, len(values))))
        return f"{column}{rng.choice(['=', '!='])}{','.join(map(str, chosen))}"
    found = cube.con.execute(f'SELECT quantile_disc("{column}", {rng.random():.3f}) '
                             f"FROM {cube.table}").fetchone()[0]
    value = 0 if found is None else found
    return f"{column}{rng.choice(['=', '!=', '>', '>=', '<', '<='])}{value}"


def test_index_counts_and_pages_equal_sql_on_random_filters(served):
    indexed, plain = served
    rng = random.Random(16)
    answered_in_memory = 0
    for _ in range(150):
        where = [_random_filter(rng, plain) for _ in range(rng.randint(0, 3))]
        sql = query(plain, where=where, list_customers=True, page=rng.randint(1, 3),
                    page_size=rng.choice([1, 7, 50]))
        fast = query(indexed, where=where, list_customers=True, page=sql.page,
                     page_size=sql.page_size)
        assert fast.count == sql.count, where
        assert fast.customers is not None and sql.customers is not None
        assert fast.customers.equals(sql.customers), where
        if indexed.index.answerable(parse_where(where)):
            answered_in_memory += 1
            assert indexed.index.count(parse_where(where)) == sql.count, where
    assert answered_in_memory > 100  # the test exercises the index, not only SQL


def test_filters_the_index_cannot_express_go_to_sql(served, client, tokens):
    indexed, plain = served
    for where in (["signup_date>=2022-01-01"], ["city>M"], ["customer_id=C000001"]):
        assert not indexed.index.answerable(parse_where(where))
        r = client.get("/api/v1/cube/count", params={"where": where},
                       headers=auth(tokens["viewer"]))
        assert r.status_code == 200, r.text
        assert r.json()["count"] == query(plain, where=where).count
    bad = client.get("/api/v1/cube/count", params={"where": "city=Atlantis"},
                     headers=auth(tokens["viewer"]))
    assert bad.status_code == 422 and "valid values of city" in bad.json()["error"]["message"]


def test_concurrent_counts_equal_single_threaded_answers(live_url, tokens, served, con):
    _, plain = served
    rng = random.Random(3)
    questions = [["city=Shanghai"]] + [[_random_filter(rng, plain) for _ in range(2)]
                                       for _ in range(40)]
    truth = [query(plain, where=w).count for w in questions]
    shanghai = con.execute("SELECT count(*) FROM core.dim_customer WHERE is_current AND "
                           "city = 'Shanghai'").fetchone()[0]
    assert truth[0] == shanghai

    def ask(i: int) -> tuple[int, int]:
        where = questions[i % len(questions)]
        r = httpx.get(f"{live_url}/api/v1/cube/count", params={"where": where},
                      headers=auth(tokens["viewer"]), timeout=60)
        assert r.status_code == 200, r.text
        return i % len(questions), r.json()["count"]

    with ThreadPoolExecutor(16) as threads:
        answers = list(threads.map(ask, range(400)))
    wrong = [(questions[i], n, truth[i]) for i, n in answers if n != truth[i]]
    assert not wrong, wrong[:5]


@pytest.fixture(scope="module")
def con(app):  # type: ignore[no-untyped-def]
    with app.state.crmine.pool.borrow() as ws:
        yield ws.duck
