"""Browser fixtures: the demo database, the real cockpit on a free port, Debian's chromium.

Set COCKPIT_E2E_DB to an existing database file to skip building the demo (local runs).
Without chromium the tests skip locally and fail in CI (env CI set).
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from dashboard.cockpit_server import cockpit
from dashboard.request_guard import RequestGuard

# Streamlit finished a run: connected, idle, nothing stale or still loading, every chart drawn,
# a heading shown.
IDLE_JS = """() => {
  const app = document.querySelector('[data-testid="stApp"]');
  if (!app || app.getAttribute('data-test-connection-state') !== 'CONNECTED') return false;
  if (app.getAttribute('data-test-script-state') !== 'notRunning') return false;
  // stSkeleton: an element whose code Streamlit is still fetching (e.g. the first chart)
  if (document.querySelector(
    '[data-testid="stStatusWidget"], [data-stale="true"], [data-testid="stSkeleton"], ' +
    '[data-testid="stAppSkeleton"]')) return false;
  if (document.querySelector('[data-testid="stException"], [data-testid="stAlertContentError"]'))
    return true;
  const undrawn = [...document.querySelectorAll('[data-testid="stPlotlyChart"]')]
    .filter(c => !c.querySelector('.main-svg')).length;
  return undrawn === 0 && !!document.querySelector(
    '[data-testid="stMain"] [data-testid="stElementContainer"]');
}"""
ERRORS_JS = """() => [...document.querySelectorAll(
  '[data-testid="stException"], [data-testid="stAlertContentError"]')].map(e => e.innerText)"""


@pytest.fixture(scope="session")
def e2e_db(request) -> Path:
    configured = os.environ.get("COCKPIT_E2E_DB")
    if configured:
        return Path(configured).resolve()
    return request.getfixturevalue("demo_db")


@pytest.fixture(scope="session")
def cockpit_url(e2e_db) -> str:
    with cockpit(e2e_db) as server:
        yield server.url


@pytest.fixture()
def page(browser, cockpit_url):
    """A tab that may reach the test's cockpit and nothing else: any other request (an image
    or link that data smuggled in as markup, a CDN font) is blocked and fails the test."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, locale="zh-CN")
    guard = RequestGuard(cockpit_url).install(context)
    p = context.new_page()
    yield p
    context.close()
    assert not guard.blocked, f"the browser tried to leave the cockpit: {guard.urls()}"


def wait_idle(page, timeout_s: float = 30) -> None:
    """Idle twice, 300 ms apart: a rerun can start right after the first idle moment."""
    for _ in range(2):
        page.wait_for_function(IDLE_JS, timeout=timeout_s * 1000, polling=100)
        page.wait_for_timeout(300)
    page.wait_for_function(IDLE_JS, timeout=timeout_s * 1000, polling=100)


def errors_on(page) -> list[str]:
    return page.evaluate(ERRORS_JS)
