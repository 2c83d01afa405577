"""The weekly briefing's phone variant, by the real command line in real Chromium: a portrait
long PNG 1080 px wide, stacked into one column, not blank, no PDF."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import duckdb
import pytest
from PIL import Image

from dashboard.queries import briefing as bq
from dashboard import briefing_export

pytestmark = pytest.mark.e2e
REPO = Path(__file__).resolve().parents[2]


def test_briefing_phone_format_is_a_1080px_portrait_long_image(e2e_db, tmp_path, browser):
    con = duckdb.connect(str(e2e_db), read_only=True)
    try:
        week = bq.default_week(con)
    finally:
        con.close()
    run = subprocess.run([sys.executable, "-m", "etl", "briefing", "--week", week, "--format", "phone",
                          "--out", str(tmp_path), "--db", str(e2e_db)],
                         cwd=REPO, capture_output=True, text=True, timeout=180)
    assert run.returncode == 0, run.stderr
    png = tmp_path / f"{briefing_export.file_stem(week, None, 'phone')}.png"
    assert [p.name for p in tmp_path.iterdir()] == [png.name]          # no PDF for the phone
    with Image.open(png) as img:
        width, height = img.size
    assert width == briefing_export.PHONE_PX == 1080
    assert height > 3 * width                                          # one column: a long portrait image
    assert briefing_export.check_png(png) > briefing_export.MIN_PIXEL_STDDEV
