"""五社联动: the matrix equals counts and sums recomputed from the raw rows."""
from __future__ import annotations

import pytest
from pages_fixture import AS_OF, raw

from dashboard.filters import Filters
from dashboard.queries import linkage as q

F = Filters(date_to=AS_OF)


def test_matrix_covers_every_community_and_type(con):
    m = q.matrix(con, F)
    assert len(m) == 3 * 5
    assert set(m["party_type"]) == set(q.PARTY_TYPES)


def test_projects_led_and_volunteers(con, cockpit_db):
    m = q.matrix(con, F).set_index(["community", "party_type"])
    prj = raw(cockpit_db, "projects")
    led = prj.groupby(["community", "lead_party_type"]).size()
    vol = prj.groupby(["community", "lead_party_type"])["volunteer_count"].sum()
    for key, n in led.items():
        assert m.loc[key, "projects_led"] == n
        assert m.loc[key, "volunteers"] == vol[key]
    assert m["projects_led"].sum() == len(prj)


def test_funds_brought_in(con, cockpit_db):
    m = q.matrix(con, F)
    tx = raw(cockpit_db, "fund_transactions").merge(raw(cockpit_db, "projects"), on="project_id")
    inflow = tx[tx["direction"] == "in"].assign(amount=lambda d: d["amount_yuan"].astype(float))
    by_lead = inflow.groupby(["community", "lead_party_type"])["amount"].sum()
    got = m.set_index(["community", "party_type"])["led_funds_yuan"]
    for key, v in by_lead.items():
        assert got[key] == pytest.approx(v)
    charity = inflow[inflow["source_type"].isin(q.CHARITY_SOURCE_TYPES)].groupby("community")["amount"].sum()
    c = m[m["party_type"] == q.CHARITY_TYPE].set_index("community")["charity_yuan"]
    assert c.to_dict() == pytest.approx(charity.to_dict())
    assert m.loc[m["party_type"] != q.CHARITY_TYPE, "charity_yuan"].eq(0).all()


def test_partner_types(con):
    m = q.matrix(con, F)
    # 阳光社工站 / 夏荷社工站 are social workers, 爱心企业甲 a charitable resource;
    # 居民自管小组 matches no pattern and stays unclassified
    per_type = m.groupby("party_type")["partner_appearances"].sum()
    assert per_type["社会工作者"] == 8 and per_type["社会慈善资源"] == 7
    un = q.unclassified_partners(con, F)
    assert un.to_dict("records") == [{"party": "居民自管小组", "appearances": 1}]


def test_contribution_shares_sum_to_one_per_community(con):
    s = q.shares(con, F)
    sums = s.groupby(["community", "measure"])["share"].sum()
    assert (((sums - 1).abs() < 1e-9) | (sums == 0)).all()
    assert ((sums - 1).abs() < 1e-9).any()
