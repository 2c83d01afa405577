"""The watched inbox: `python -m etl watch DIR [--interval 60] [--once]`.

Offices export nightly into a shared folder. Each supported file placed directly in DIR is
loaded once its size and mtime were the same at two looks (a file still being copied is
left for the next look), then moved to DIR/loaded/ or, when any of its sheets was refused,
to DIR/refused/ with `<name>.reasons.txt` beside it. One line per file goes to the log.
A bad file never stops the watcher. One instance per DIR at a time (flock on DIR/.watch.lock):
a second one exits with status 75 (EX_TEMPFAIL), so a cron line can start it every minute.
"""
from __future__ import annotations

import contextlib
import fcntl
import shutil
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Callable, Iterator

from etl import history
from etl.extract import SUPPORTED

LOADED, REFUSED = "loaded", "refused"
LOCK_NAME = ".watch.lock"
ALREADY_RUNNING = 75


def _log(msg: str) -> None:
    print(f"{datetime.now():%Y-%m-%d %H:%M:%S} {msg}", file=sys.stderr, flush=True)


def candidates(inbox: Path) -> list[Path]:
    """Files waiting in the inbox (not in its sub-folders, not hidden or Office lock files)."""
    return sorted(p for p in inbox.iterdir() if p.is_file() and p.suffix.lower() in SUPPORTED
                  and not p.name.startswith((".", "~$")))


def look(inbox: Path) -> dict[Path, tuple[int, int]]:
    out = {}
    for p in candidates(inbox):
        with contextlib.suppress(FileNotFoundError):
            st = p.stat()
            out[p] = (st.st_size, st.st_mtime_ns)
    return out


def stable(before: dict, now: dict) -> list[Path]:
    """Files whose size and mtime did not change between two looks (and are not empty-and-new)."""
    return [p for p, sig in now.items() if before.get(p) == sig]


def _move(path: Path, folder: Path) -> Path:
    folder.mkdir(exist_ok=True)
    target = folder / path.name
    if target.exists():
        target = folder / f"{path.stem}.{datetime.now():%Y%m%d-%H%M%S-%f}{path.suffix}"
    shutil.move(str(path), target)
    return target


def process(path: Path, inbox: Path, db: Path | None,
            log: Callable[[str], None] = _log) -> tuple[str, set[str]]:
    """Load one file and move it; returns ('loaded' or 'refused', kinds loaded).
    Never raises for a bad file."""
    from etl.load import load_paths
    try:
        results = load_paths([path], db, progress=None, loaded_by=f"watch:{history.os_user()}")
    except Exception as exc:   # noqa: BLE001 - one bad file must not stop the inbox
        results, crash = [], f"{path.name}: refused, nothing loaded - {type(exc).__name__}: {exc}"
    else:
        crash = None
    refused = [r for r in results if r.status == "refused"]
    if crash or refused:
        target = _move(path, inbox / REFUSED)
        reasons = [crash] if crash else [r.message for r in refused]
        reasons += [f"{r.label}: loaded anyway ({r.rows_loaded} rows)" for r in results if r.status == "loaded"]
        target.with_name(target.name + ".reasons.txt").write_text("\n".join(reasons) + "\n", "utf-8")
        history.audit("data.watch_refused", by=f"watch:{history.os_user()}", file=path.name, reasons=reasons)
        log(f"refused {path.name}: {reasons[0]}")
        return REFUSED, {r.kind for r in results if r.status == "loaded"}
    _move(path, inbox / LOADED)
    read = sum(r.rows_read for r in results)
    loaded = sum(r.rows_loaded for r in results)
    rejected = sum(r.rows_rejected for r in results)
    skipped = " (already loaded)" if results and all(r.status == "skipped" for r in results) else ""
    history.audit("data.watch_loaded", by=f"watch:{history.os_user()}", file=path.name, rows_read=read,
                  rows_loaded=loaded, rows_rejected=rejected)
    log(f"loaded {path.name}: {read} rows read, {loaded} loaded, {rejected} rejected{skipped}")
    return LOADED, {r.kind for r in results if r.status == "loaded"}


@contextlib.contextmanager
def single_instance(inbox: Path) -> Iterator[bool]:
    """True when this process holds the inbox's watch lock (released at the end of the block)."""
    with open(inbox / LOCK_NAME, "w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        yield True


def run_once(inbox: Path, db: Path | None, before: dict, log: Callable[[str], None] = _log) -> dict:
    """Process the files stable since `before`; returns this look (the next call's `before`)."""
    now = look(inbox)
    kinds = set()
    for path in stable(before, now):
        kinds |= process(path, inbox, db, log)[1]
    if "feedback" in kinds:
        _painpoints(db, log)
    return {p: sig for p, sig in now.items() if p.exists()}


def _painpoints(db: Path | None, log: Callable[[str], None]) -> None:
    """Re-cluster feedback after loads, as `python -m etl load` does (no-op when unchanged)."""
    from etl import painpoints
    try:
        painpoints.run(db_path=db)
    except Exception as exc:   # noqa: BLE001 - the loads stand; say why the clustering did not run
        log(f"pain points not refreshed: {type(exc).__name__}: {exc}")


def watch(inbox: Path, db: Path | None = None, *, interval: float = 60, once: bool = False,
          settle: float = 5.0, log: Callable[[str], None] = _log) -> int:
    """Watch `inbox` until stopped (or one pass with `once`: two looks `settle` seconds apart)."""
    inbox = Path(inbox)
    inbox.mkdir(parents=True, exist_ok=True)
    with single_instance(inbox) as mine:
        if not mine:
            log(f"another watcher holds {inbox / LOCK_NAME}; exiting")
            return ALREADY_RUNNING
        before = look(inbox)
        if once:
            time.sleep(settle)
            run_once(inbox, db, before, log)
            return 0
        while True:
            time.sleep(interval)
            before = run_once(inbox, db, before, log)
