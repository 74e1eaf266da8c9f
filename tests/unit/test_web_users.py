"""The web app's user store, roles and queue parameters."""

from __future__ import annotations

from datetime import datetime

import pytest
from starlette.datastructures import QueryParams

from threadline.web.charts import spend_chart, variance_chart
from threadline.web.queries import QueueQuery
from threadline.web.users import UserError, add_user, authenticate, current_user, list_users, set_user
from threadline.warehouse import schema
from threadline.warehouse.store import open_warehouse

PASSWORD = "correct-horse-battery"


@pytest.fixture()
def warehouse(tmp_path):
    w = open_warehouse(f"sqlite:///{tmp_path / 'wh.sqlite'}")
    yield w
    w.dispose()


def test_users_are_stored_with_an_argon2_hash_and_sign_in_by_password(warehouse):
    add_user(warehouse, "sam", "steward", PASSWORD)
    with warehouse.engine.connect() as conn:
        stored = conn.execute(schema.user.select()).mappings().one()
    assert stored["password_hash"].startswith("$argon2id$") and PASSWORD not in stored["password_hash"]
    assert authenticate(warehouse, "sam", PASSWORD).role == "steward"
    assert authenticate(warehouse, "sam", PASSWORD + "x") is None
    assert authenticate(warehouse, "nobody", PASSWORD) is None
    assert list_users(warehouse)[0]["last_login_at"] is not None
    with pytest.raises(UserError, match="exists already"):
        add_user(warehouse, "sam", "viewer", PASSWORD)


def test_bad_users_are_refused_and_changes_take_effect_at_once(warehouse):
    for name, role, password, message in (("sam", "boss", PASSWORD, "unknown role"),
                                          ("sam", "viewer", "short", "at least 10"),
                                          ("two words", "viewer", PASSWORD, "without spaces"),
                                          ("", "viewer", PASSWORD, "1 to 128")):
        with pytest.raises(UserError, match=message):
            add_user(warehouse, name, role, password)
    add_user(warehouse, "sam", "viewer", PASSWORD)
    assert current_user(warehouse, "sam").can("read") and not current_user(warehouse, "sam").can("act")
    set_user(warehouse, "sam", role="steward")
    assert current_user(warehouse, "sam").can("act") and not current_user(warehouse, "sam").can("audit")
    set_user(warehouse, "sam", disabled=True)
    assert current_user(warehouse, "sam") is None and authenticate(warehouse, "sam", PASSWORD) is None
    with pytest.raises(UserError, match="no user"):
        set_user(warehouse, "ghost", role="admin")


def test_roles_grant_what_the_design_says():
    from threadline.web.users import User

    assert [r for r in ("viewer", "steward", "auditor", "admin") if User("u", r).can("act")] == ["steward", "admin"]
    assert [r for r in ("viewer", "steward", "auditor", "admin") if User("u", r).can("audit")] == ["auditor", "admin"]
    assert not User("u", "viewer").can("export") and User("u", "auditor").can("export")


def test_queue_parameters_are_validated_and_become_sql_conditions():
    q = QueueQuery.from_params(QueryParams("rule=OSP-001&status=open&sort=severity&dir=desc&page=3&per_page=40"
                                           "&min_age=2&assignee=-"))
    assert (q.rule, q.status, q.sort, q.desc, q.page, q.per_page, q.min_age) == (
        "OSP-001", "open", "severity", True, 3, 50, 2)
    assert q.problems == []
    where = " AND ".join(str(c) for c in q.where(datetime(2026, 12, 4)))
    assert "tl_exception.rule_id = :rule_id_1" in where and "assignee IS NULL" in where
    assert q.params(page=None)["dir"] == "desc" and "page" not in q.params(page=None)
    bad = QueueQuery.from_params(QueryParams("status=gone&sort=evil&page=-1&min_age=x"))
    assert (bad.status, bad.sort, bad.page, bad.min_age) == ("active", "age", 1, None)
    assert len(bad.problems) == 4


def test_charts_scale_bars_to_the_largest_figure():
    rows = [{"site": "N", "actual_cost": 50.0, "estimate_cost": 100.0, "variance": -50.0},
            {"site": "S", "actual_cost": 200.0, "estimate_cost": None}]
    chart = variance_chart(rows, ["site"])
    assert [r["label"] for r in chart["rows"]] == ["N"]
    widths = [b["width"] for b in chart["rows"][0]["bars"]]
    assert widths[1] == 420 and widths[0] == 210
    assert variance_chart([rows[1]], ["site"]) is None and spend_chart([]) is None
