"""数据管理 in real Chromium against the real cockpit on a writable copy of the demo database:
upload -> dry-run report -> confirm -> the new rows on the pages; a file with a bad row ->
the report names it -> download the rejects -> fix -> upload again -> loaded."""
from __future__ import annotations

import shutil
from pathlib import Path

import duckdb
import openpyxl
import pytest
from playwright.sync_api import expect

from dashboard.cockpit_server import cockpit
from dashboard.request_guard import RequestGuard
from tests.e2e.conftest import errors_on, wait_idle

pytestmark = pytest.mark.e2e

PROJECT = ("项目编号,项目名称,社区,项目类别,牵头单位,主体类型,项目阶段,计划开始,计划结束,预算(元),进度\n"
           "E2E-P1,E2E 加装电梯试点,{community},加装电梯,E2E 社工站,社会工作者,实施,2026-01-01,2026-12-31,80000,30\n")
GRID = ("事件编号,上报时间,街道,社区,网格编号,事件类型,事件描述,处置状态\n"
        "E2E-G1,2026-11-20 08:00:00,{street},{community},E2E-01,噪音扰民,夜间施工,处置中\n"
        "E2E-G2,2026年13月40日,{street},{community},E2E-01,噪音扰民,装修噪音,处置中\n"
        "E2E-G3,2026-11-21 09:30:00,{street},{community},E2E-01,违规停车,占用通道,待受理\n")


@pytest.fixture(scope="module")
def writable(demo_build, tmp_path_factory):
    """A copy of the demo database (and its pseudonym salt) the test may change."""
    folder = tmp_path_factory.mktemp("data-e2e")
    db = folder / "cockpit.duckdb"
    shutil.copyfile(demo_build.db, db)
    salt = demo_build.db.parent / ".cockpit_salt"
    if salt.exists():
        shutil.copyfile(salt, folder / ".cockpit_salt")
    with duckdb.connect(str(db), read_only=True) as con:
        street, community = con.execute("SELECT street, community FROM grid_reports "
                                        "WHERE street IS NOT NULL LIMIT 1").fetchall()[0]
    return db, street, community


@pytest.fixture(scope="module")
def server(writable, browser):
    with cockpit(writable[0]) as s:
        yield s.url


@pytest.fixture()
def page(browser, server):
    """A tab that may reach this module's own (writable) cockpit and nothing else."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, locale="zh-CN")
    guard = RequestGuard(server).install(context)
    p = context.new_page()
    yield p
    context.close()
    assert not guard.blocked, f"the browser tried to leave the cockpit: {guard.urls()}"


def metric(page, label: str) -> str:
    card = page.locator('[data-testid="stMetric"]').filter(
        has=page.locator('[data-testid="stMetricLabel"]', has_text=label)).first
    return card.locator('[data-testid="stMetricValue"]').inner_text().strip()


def file_report(page, name: str):
    """The dry-run report's box of one file: the innermost block with its bold name and counts."""
    return page.locator('[data-testid="stVerticalBlock"]').filter(
        has=page.locator("strong", has_text=name)).filter(
        has=page.locator('[data-testid="stMetric"]')).last


def upload_and_preview(page, url: str, *files: Path) -> None:
    """Upload `files`, wait until the upload has reached the server, dry-run them, and wait for
    the report of exactly these files (not a report or an uploader state from before)."""
    page.goto(url + "/data")
    wait_idle(page)
    page.locator('[data-testid="stFileUploaderDropzoneInput"]').set_input_files([str(f) for f in files])
    for f in files:
        page.locator('[data-testid="stFileChip"]', has_text=f.name).wait_for()
    # a chip shows a spinner until its file is on the server; the widget's value (and the
    # button's enabled state) arrives with the rerun after that
    page.locator('[data-testid="stFileChipIconSpinner"]').wait_for(state="detached", timeout=60_000)
    button = page.get_by_role("button", name="试运行")
    expect(button).to_be_enabled(timeout=60_000)
    wait_idle(page)
    button.click()
    for f in files:
        file_report(page, f.name).wait_for(timeout=60_000)
    wait_idle(page)
    # the report is of these files and no other: each named once (a workbook as file[sheet]),
    # one row of counts each
    bold = page.locator('[data-testid="stMain"] strong').all_inner_texts()
    assert all(sum(b == f.name or b.startswith(f.name + "[") for b in bold) == 1 for f in files), bold
    assert page.locator('[data-testid="stMetricLabel"]', has_text="读取行数").count() == len(files)


def counts(page, name: str) -> dict[str, str]:
    """{count label: value} in the dry-run report of the file `name`."""
    box = file_report(page, name)
    labels = box.locator('[data-testid="stMetricLabel"]').all_inner_texts()
    values = box.locator('[data-testid="stMetricValue"]').all_inner_texts()
    return {label.strip(): value.strip() for label, value in zip(labels, values)}


def confirm(page) -> None:
    page.get_by_role("button", name="确认加载").click()
    page.get_by_text("已加载", exact=False).first.wait_for(timeout=60_000)
    wait_idle(page)


def test_upload_dry_run_confirm_and_the_project_appears(page, server, writable, tmp_path):
    db, _, community = writable
    page.goto(server + "/projects")
    wait_idle(page)
    before = int(metric(page, "项目数").replace(",", ""))
    good = tmp_path / "新项目.csv"
    good.write_text(PROJECT.format(community=community), encoding="gbk")
    upload_and_preview(page, server, good)
    report = page.locator('[data-testid="stMain"]').inner_text()
    assert "项目（projects）" in report and "gb18030" in report and "项目名称 → name" in report
    c = counts(page, good.name)
    assert (c["新增"], c["拒收"]) == ("1", "0"), c
    with duckdb.connect(str(db), read_only=True) as con:   # nothing written by the dry run
        assert con.execute("SELECT count(*) FROM projects WHERE project_id = 'E2E-P1'").fetchall() == [(0,)]
    confirm(page)
    page.goto(server + "/projects")
    wait_idle(page)
    assert int(metric(page, "项目数").replace(",", "")) == before + 1
    assert errors_on(page) == []


def test_bad_row_is_named_downloaded_fixed_and_loaded(page, server, writable, tmp_path):
    db, street, community = writable
    bad = tmp_path / "网格事件.csv"
    bad.write_text(GRID.format(street=street, community=community), encoding="utf-8")
    upload_and_preview(page, server, bad)
    c = counts(page, bad.name)
    assert (c["新增"], c["拒收"]) == ("2", "1"), c
    main = page.locator('[data-testid="stMain"]').inner_text()
    assert "拒收 1 行" in main
    with page.expect_download() as download:
        page.get_by_role("button", name="下载拒收行（Excel）").click()
    fixed_path = tmp_path / "网格事件-fixed.xlsx"
    shutil.copyfile(download.value.path(), fixed_path)
    wb = openpyxl.load_workbook(fixed_path)
    ws = wb.active
    header = [c.value for c in ws[1]]
    row = {h: c.value for h, c in zip(header, ws[2])}
    assert ws.max_row == 2 and row["事件编号"] == "E2E-G2" and row["上报时间"] == "2026年13月40日"
    assert row["拒收原因"] == "上报时间: 日期无法识别"
    ws.cell(row=2, column=header.index("上报时间") + 1, value="2026-11-20 10:00:00")   # the clerk's fix
    wb.save(fixed_path)
    confirm(page)                     # the two good rows
    upload_and_preview(page, server, fixed_path)
    c = counts(page, fixed_path.name)
    assert (c["新增"], c["拒收"]) == ("1", "0"), c
    confirm(page)
    assert errors_on(page) == []
    with duckdb.connect(str(db), read_only=True) as con:
        assert con.execute("SELECT list(report_id ORDER BY report_id), list(reported_at ORDER BY report_id)::VARCHAR "
                           "FROM grid_reports WHERE report_id LIKE 'E2E-%'").fetchall()[0] == (
            ["E2E-G1", "E2E-G2", "E2E-G3"], "['2026-11-20 08:00:00', '2026-11-20 10:00:00', '2026-11-21 09:30:00']")
        files = [r[0] for r in con.execute("SELECT regexp_extract(path, '[^/]+$') FROM etl_loads "
                                           "WHERE loaded_by = 'leader' ORDER BY load_id").fetchall()]
    assert files[-2:] == ["网格事件.csv", "网格事件-fixed.xlsx"]
