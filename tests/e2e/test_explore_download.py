"""The explorer in real Chromium: one screenful of rows on screen, the CSV download (read only
when clicked, on the server's download thread) holds every matching row."""
from __future__ import annotations

import io
import re

import pandas as pd
import pytest

from dashboard.queries import explore as q
from tests.e2e.conftest import errors_on, wait_idle

pytestmark = pytest.mark.e2e


def test_explore_csv_download_holds_every_row_the_caption_counts(page, cockpit_url, tmp_path):
    page.goto(f"{cockpit_url}/explore?from=2020-01-01")      # the whole history
    wait_idle(page, timeout_s=60)
    text = page.locator('[data-testid="stMain"]').inner_text()
    rows = int(re.search(r"共 ([\d,]+) 行", text).group(1).replace(",", ""))
    assert rows > q.SHOWN_ROWS          # the demo has more reports than one screenful
    with page.expect_download(timeout=60_000) as info:
        page.locator('[data-testid="stDownloadButton"] button').first.click()
    saved = tmp_path / "grid_reports.csv"
    info.value.save_as(saved)
    csv = pd.read_csv(io.BytesIO(saved.read_bytes()), encoding="utf-8-sig")
    assert len(csv) == rows
    assert errors_on(page) == []
