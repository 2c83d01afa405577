"""Shared fixtures: the real sample data, a small demo database built by the real ETL, and the
hand-built page database (tests/pages_fixture.py). pytest finds them here; no test module
imports a fixture by name."""
from __future__ import annotations

import asyncio
import concurrent.futures
import fcntl
import os
import pickle
import queue
import shutil
import sys
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

# Where PYTHONDONTWRITEBYTECODE is set, every test process would compile the project's modules
# and pytest would rewrite every test module's asserts afresh (about 2 s of CPU per test
# process); the subprocesses tests start (console workers, CLI runs) compile theirs too. The
# test run writes bytecode as Python does by default: into the git-ignored __pycache__
# folders, reused while the source is unchanged. COCKPIT_TEST_NO_BYTECODE=1 keeps the
# environment's choice.
if sys.dont_write_bytecode and not os.environ.get("COCKPIT_TEST_NO_BYTECODE"):
    sys.dont_write_bytecode = False

# The tests' temporary folders (databases, Parquet parts, inboxes: a quarter to one gigabyte per
# run, pytest keeps the last three runs) go to a RAM filesystem when the machine has a roomy one:
# every ETL write ends in a DuckDB checkpoint synced to disk, which no test reads back after a
# power cut; on tmpfs the fast loop spends about a tenth less CPU on its loads and a third less
# time. The files are the same real DuckDB and Parquet files. PYTEST_DEBUG_TEMPROOT (pytest's
# own setting) or --basetemp still choose; COCKPIT_TEST_DISK_TMP=1 keeps the default temp dir.
_RAM_TMP = Path("/dev/shm")
if ("PYTEST_DEBUG_TEMPROOT" not in os.environ and not os.environ.get("COCKPIT_TEST_DISK_TMP")
        and _RAM_TMP.is_dir() and os.access(_RAM_TMP, os.W_OK)
        and shutil.disk_usage(_RAM_TMP).free > 8 * 2**30):
    os.environ["PYTEST_DEBUG_TEMPROOT"] = str(_RAM_TMP)

SHARED_DATA = REPO.parent / "shared" / "data"
REAL_MESSAGES = SHARED_DATA / "citizen_messages_with_replies.xlsx"
DEMO_END = date(2026, 11, 22)   # fixed so demo-based tests are deterministic


def _shared(path: Path) -> Path:
    if not path.exists():
        if os.environ.get("CI"):
            pytest.fail(f"shared sample data missing in CI: {path}")
        pytest.skip(f"shared sample data not present: {path}")
    return path


@pytest.fixture
def applied(monkeypatch):
    """Which summaries each marts build found up to date by the loads' deltas (the real check,
    observed): (summary, up to date) per build, in order."""
    from etl.marts import delta
    seen: list[tuple[str, bool]] = []
    real = delta.up_to_date

    def observed(con, m, months):
        done = real(con, m, months)
        seen.append((m.name, done))
        return done
    monkeypatch.setattr(delta, "up_to_date", observed)
    return seen


@pytest.fixture(scope="session")
def real_messages() -> Path:
    """../shared/data/citizen_messages_with_replies.xlsx (fails, not skips, when CI is set)."""
    return _shared(REAL_MESSAGES)


@dataclass(frozen=True)
class DemoBuild:
    db: Path
    inbox: Path
    truth_dir: Path
    manifest: dict
    results: list


@pytest.fixture(scope="session")
def demo_build(tmp_path_factory, pytestconfig) -> DemoBuild:
    """A small demo (scale 0.1) built by the real generator, loader and pain-point engine.

    Read-only for tests: copy the database file if you need to write.

    Under pytest-xdist (the fast loop's `-n 2`) the workers share one build instead of each
    spending its 8 s of CPU on the same bytes: the first worker to need it makes it in the
    run's temp folder under a file lock, the others wait for it and read it. DuckDB lets many
    processes read one file, and the audit log pages append beside it takes a lock per entry.
    Between runs the build is kept under .pytest_cache (tests/demo_cache.py): a run whose ETL
    sources, build function, libraries and day are those of the kept build copies it instead of
    building.
    """
    from shared_readers import share

    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if not worker:
        build = _make_demo(tmp_path_factory.mktemp("demo"), pytestconfig)
        share(build.db)
        return build
    run = tmp_path_factory.getbasetemp().parent        # this run's folder, shared by its workers
    with open(run / "demo-shared.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        root, done = run / "demo-shared", run / "demo-shared.pickle"
        if done.exists():       # the manifest and load results (conftest's class is not picklable)
            build = _demo_at(root, *pickle.loads(done.read_bytes()))
        else:
            build = _make_demo(root, pytestconfig)
            done.write_bytes(pickle.dumps((build.manifest, build.results)))
    share(build.db)
    return build


DEMO_ARGUMENTS = {"seed": 7, "scale": 0.1, "end": DEMO_END}


def _make_demo(root: Path, config) -> DemoBuild:
    """The kept build moved into `root` when its key matches, else a fresh build (kept)."""
    import demo_cache

    cache = config.cache.mkdir("demo-build") if getattr(config, "cache", None) else None
    if cache is None:
        return _build_demo(root)
    want = demo_cache.key(_build_demo, DEMO_ARGUMENTS)
    kept = demo_cache.restore(cache, want, root)
    if kept is not None:
        return _demo_at(root, *kept)
    build = _build_demo(root)
    demo_cache.keep(cache, want, root, (build.manifest, build.results))
    return build


def _build_demo(root: Path) -> DemoBuild:
    """The demo generated, loaded file by file, its pain points run, then compacted as the
    nightly `python -m etl compact` leaves a real database (etl.lake.compact_all; `python -m etl
    demo` ends the same way, and also deletes the replaced files and the build's kept versions,
    which the demo's tests keep, e.g. for tests/demo_cache.py's relocation): one Parquet
    file per month and no superseded row stored (feedback 144 files -> 24, grid reports
    33 -> 24). Every read of the demo scans its files: the fast loop's tests over the demo take
    ~15 % less CPU (the scope rules' query sweep half). The fragmented state (several files a
    month, superseded rows the reads leave out) is read by tests/test_storage.py,
    tests/test_storage_keys.py and tests/test_marts_appended.py (every page read before and
    after a compaction)."""
    from etl import demo, painpoints
    from etl.lake import compact_all
    from etl.load import load_paths

    root.mkdir(parents=True, exist_ok=True)
    inbox = root / "inbox"
    manifest = demo.generate(inbox, truth_dir=root / "demo_truth", **DEMO_ARGUMENTS)
    results = load_paths([inbox], root / "cockpit.duckdb", progress=None)
    painpoints.run(db_path=root / "cockpit.duckdb")
    compact_all(root / "cockpit.duckdb")
    return _demo_at(root, manifest, results)


def _demo_at(root: Path, manifest: dict, results: list) -> DemoBuild:
    return DemoBuild(root / "cockpit.duckdb", root / "inbox", root / "demo_truth", manifest, results)


@pytest.fixture(scope="session")
def demo_db(demo_build) -> Path:
    """The demo database file (see demo_build)."""
    return demo_build.db


@pytest.fixture(scope="session")
def browser():
    """Debian's chromium through Playwright, one per test session (a second sync Playwright in
    the same thread is refused, so every browser test shares this one). Without chromium the
    browser tests skip locally and fail in CI (env CI set)."""
    from dashboard import briefing_export

    if not Path(briefing_export.CHROMIUM).exists():
        if os.environ.get("CI"):
            pytest.fail(f"{briefing_export.CHROMIUM} missing in CI (apt-get install chromium)")
        pytest.skip(f"{briefing_export.CHROMIUM} not installed")
    with briefing_export.chromium() as b:
        yield b


@pytest.fixture
def run_async():
    """Run a coroutine to its end and return its result, in a thread of its own: a browser test
    earlier in the process (Playwright's sync API) holds this thread's running event loop, and
    asyncio.run refuses to start inside one (ASGI middleware and lifespan tests)."""
    def run(coroutine):
        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            return pool.submit(asyncio.run, coroutine).result()
    return run


@pytest.fixture
def use_db(monkeypatch):
    """Point COCKPIT_DB at a database file for the duration of a test."""
    def _use(path: Path) -> Path:
        monkeypatch.setenv("COCKPIT_DB", str(path))
        return path
    return _use


# --- the hand-built page database (tests/pages_fixture.py builds it) ---------------------------
@pytest.fixture(scope="session")
def cockpit_db(tmp_path_factory) -> Path:
    """The hand-built database with its marts, once per session (read-only for tests)."""
    from pages_fixture import build
    from shared_readers import share

    return share(build(tmp_path_factory.mktemp("pages") / "cockpit.duckdb"))


@pytest.fixture
def db(cockpit_db, monkeypatch) -> Path:
    """COCKPIT_DB pointed at the hand-built database for one test."""
    monkeypatch.setenv("COCKPIT_DB", str(cockpit_db))
    return cockpit_db


@pytest.fixture
def con(cockpit_db):
    """A read-only connection to the hand-built database."""
    from pages_fixture import read_only

    c = read_only(cockpit_db)
    yield c
    c.close()


@pytest.fixture
def site(cockpit_db, tmp_path, monkeypatch):
    """The hand-built database, its access files in a fresh folder (open mode until a key is
    issued), an empty result cache, and a fresh read-ahead queue (reading ahead on)."""
    from dashboard import cache, prefetch
    from dashboard.access.lockout import LOCKOUT

    monkeypatch.setenv("COCKPIT_DB", str(cockpit_db))
    monkeypatch.setenv("COCKPIT_ACCESS_DIR", str(tmp_path))
    monkeypatch.delenv(prefetch.SWITCH, raising=False)
    monkeypatch.setattr(prefetch, "_jobs", queue.Queue(prefetch.SLOTS))
    LOCKOUT._failures.clear()
    cache.RESULTS.clear()
    yield tmp_path
    LOCKOUT._failures.clear()


@pytest.fixture
def computed(monkeypatch) -> list[tuple]:
    """The reads dashboard.cache computed (its misses), as (query function, filters, scope, args)."""
    from dashboard import cache

    seen: list[tuple] = []
    real = cache._query

    def query(fn_key, filters, path, identity, scope, args):
        seen.append((fn_key, filters, scope, args))
        return real(fn_key, filters, path, identity, scope, args)
    monkeypatch.setattr(cache, "_query", query)
    return seen


@pytest.fixture(autouse=True)
def release_connections():
    """After each test, drop the pages' cached reads (each test renders its pages afresh) but
    keep their open DuckDB connections, as a Streamlit server keeps them between visits: the
    next test that reads the same file (the session's demo and page databases) does not open
    it again (a new DuckDB instance: ~15 ms of CPU, its views' Parquet footers read again).
    DuckDB allows one configuration per open file per process, so a test that opens a file
    the pages hold with another configuration (a writer, a default reader) gets the pages'
    connections closed first (`_release_pages_on_conflict`). (Only when the pages' cache
    module was imported: tests that never rendered a page pay nothing.)

    The files held are noted again after each test: the next module's or session's fixtures
    are set up before this fixture runs for its first test, and a fixture that opens a file
    an earlier test's pages hold (e.g. a module's plain reader of the demo) gets them closed."""
    _note_held_files()
    yield
    cache = sys.modules.get("dashboard.cache")
    if cache is not None:
        cache.RESULTS.clear()
    _note_held_files()


# the files whose pages' connections were opened by an earlier test (release_connections)
_HELD_BEFORE_THIS_TEST: list[str] = []


def _note_held_files() -> None:
    cache = sys.modules.get("dashboard.cache")
    _HELD_BEFORE_THIS_TEST[:] = [os.path.realpath(p) for p in cache._open_identity] if cache else []


def pytest_configure(config):
    """Under pytest-xdist the controller runs no test: it imports no Streamlit. Elsewhere:

    - Every AppTest scans all installed packages for Streamlit components on its first run
      (a seventh of a page test's time); the installed packages do not change during a test
      session, so the real scan runs once and its result is reused.
    - Every AppTest run compiles the entry script and the page it opens afresh (a new
      ScriptCache per run: parse, Streamlit's magic rewrite, compile; a sixth of a page run);
      a Streamlit server keeps one ScriptCache for its lifetime. The tests keep one for the
      session, keyed by the file's path, size and modification time, so an edited script is
      compiled again.
    - AppTest waits for a script run by waking every millisecond to look for its end; each
      wake takes the GIL from the script's thread, which is running the page. The tests join
      the script's thread instead (it ends right after the run's last event), with the same
      timeout and the same error when it is reached (~6 % less CPU for the page tests).
    """
    workers = getattr(config, "workerinput", {}).get("workercount", 0)
    if config.getoption("numprocesses", None) and not hasattr(config, "workerinput"):
        return                                          # the xdist controller
    _scan_components_once()
    _compile_scripts_once()
    _wait_for_script_runs_without_polling()
    _release_pages_on_conflict()
    _hash_each_key_once()
    if workers > 1:
        _split_the_cores_among_workers(workers)


def _scan_components_once() -> None:
    from streamlit.components.v2 import manifest_scanner

    scan = manifest_scanner.scan_component_manifests
    found: list = []

    def scan_once(max_workers=None):
        if not found:
            found.append(scan(max_workers))
        return list(found[0])

    manifest_scanner.scan_component_manifests = scan_once


def _compile_scripts_once() -> None:
    import functools

    from streamlit import config as st_config
    from streamlit.runtime.scriptrunner.script_cache import ScriptCache

    compiled: dict[tuple, object] = {}
    real = ScriptCache.get_bytecode

    @functools.wraps(real)
    def get_bytecode(self, script_path: str):
        path = os.path.abspath(script_path)
        stat = os.stat(path)
        key = (path, stat.st_size, stat.st_mtime_ns, st_config.get_option("runner.magicEnabled"))
        if key not in compiled:
            compiled[key] = real(self, script_path)
        return compiled[key]

    ScriptCache.get_bytecode = get_bytecode


def _wait_for_script_runs_without_polling() -> None:
    from streamlit.testing.v1 import local_script_runner

    def require_widgets_deltas(runner, timeout: float = 3) -> None:
        if runner._script_thread is not None:
            runner._script_thread.join(timeout)
        if runner.script_stopped():
            return
        runner.request_stop()           # as Streamlit's own: stop the run, then say so
        runner.join()
        raise RuntimeError(f"AppTest script run timed out after {timeout}(s)")

    local_script_runner.require_widgets_deltas = require_widgets_deltas


def _release_pages_on_conflict() -> None:
    """The pages' connections stay open between tests (release_connections), and so do the
    instances of the databases the tests only read (tests/shared_readers.py). When a test
    then opens one of those files with another configuration, DuckDB refuses ("a different
    configuration than existing connections"): close the kept reader and the pages'
    connections, as the cache itself does when the file changes, and connect again. The
    pages' connections only for a file an EARLIER test's pages opened: a conflict with a
    connection the pages (or the test itself) opened during the same test is the code under
    test's own and is raised as before."""
    import functools

    import duckdb
    import shared_readers

    real = duckdb.connect

    @functools.wraps(real)
    def connect(*args, **kwargs):
        target = shared_readers.target(args[0] if args else kwargs.get("database"))
        read_only = bool(args[1] if len(args) > 1 else kwargs.get("read_only", False))
        shared_readers.before_connect(target)
        try:
            con = real(*args, **kwargs)
        except duckdb.ConnectionException as e:
            if target is None or "different configuration" not in str(e):
                raise
            released = shared_readers.release(target)
            cache = sys.modules.get("dashboard.cache")
            if cache is not None and target in _HELD_BEFORE_THIS_TEST:
                cache.clear()
                released = True
            if not released:
                raise
            con = real(*args, **kwargs)
        shared_readers.after_connect(target, read_only, lambda: real(*args, **kwargs))
        return con

    duckdb.connect = connect


def _hash_each_key_once() -> None:
    """dashboard/access/keys.py hashes an access key's secret with scrypt (~50-60 ms of CPU, on
    purpose) when it issues the key and again at every sign-in with it. The hash is a function
    of the secret, the salt and the scrypt parameters alone, so within a test process each
    (secret, salt, parameters) is hashed once and the result reused: a test that issues a key
    and signs in with it pays one scrypt, not two (~20 of the fast loop's ~50). A wrong secret,
    an unknown key's dummy salt or other parameters are hashed afresh, by the real scrypt."""
    from dashboard.access import keys

    real = keys._hash
    done: dict[tuple, bytes] = {}

    def hash_once(secret: str, salt: bytes) -> bytes:
        key = (secret, bytes(salt), tuple(sorted(keys.SCRYPT.items())))
        if key not in done:
            done[key] = real(secret, salt)
        return done[key]

    keys._hash = hash_once


def _split_the_cores_among_workers(workers: int) -> None:
    """Under pytest-xdist (`-n 2`, the fast loop) each worker's DuckDB gets its share of the
    cores instead of one thread per core: on 2 cores, 2 workers x 2 DuckDB threads only
    contend (7 % more CPU for the fast loop, measured). Only where a connection leaves its
    threads unset; a run without -n (the full run) keeps DuckDB's default."""
    import functools

    import duckdb

    threads = max(1, len(os.sched_getaffinity(0)) // workers)
    real = duckdb.connect

    @functools.wraps(real)
    def connect(database=":memory:", read_only=False, config=None, **kwargs):
        config = {"threads": threads, **(config or {})}
        return real(database=database, read_only=read_only, config=config, **kwargs)

    duckdb.connect = connect


# marks a browser test may carry besides e2e (pytest.ini's own and pytest's)
_OTHER_MARKS = ("slow", "parametrize", "skip", "skipif", "xfail", "usefixtures", "filterwarnings")


def _may_select_e2e(config) -> bool:
    """Whether the run's -m expression selects a test marked e2e, whatever else it carries."""
    from itertools import combinations

    from _pytest.mark.expression import Expression

    markexpr = config.getoption("markexpr", "")
    if not markexpr:
        return True
    expression = Expression.compile(markexpr)
    return any(expression.evaluate(lambda name, /, **_kw: name in {"e2e", *others})
               for n in range(len(_OTHER_MARKS) + 1) for others in combinations(_OTHER_MARKS, n))


def pytest_ignore_collect(collection_path, config):
    """A run whose -m leaves out every e2e test (the fast loop: -m "not slow and not e2e") does
    not collect tests/e2e/ at all: every test there is marked e2e (below), so the same tests
    run; the workers only skip importing the browser modules (Playwright, the sign-in mock:
    about 0.7 s of CPU per process). Any other run collects them."""
    if collection_path == Path(__file__).parent / "e2e" and not _may_select_e2e(config):
        return True
    return None


def pytest_collection_modifyitems(items):
    """Everything under tests/e2e/ drives a real browser: marked e2e whether or not the module
    says so, so the fast loop (-m "not slow and not e2e") never starts Chromium."""
    for item in items:
        if "e2e" in item.path.parts:
            item.add_marker(pytest.mark.e2e)
