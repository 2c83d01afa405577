"""Extract: files an office exports -> raw sources of text columns (I/O only, no typing).

CSV in UTF-8, UTF-8 with BOM or GBK/GB18030 (detected, not configured) and Excel .xlsx
(every sheet). DuckDB reads UTF-8 CSV itself (fastest); GBK is transcoded to a temporary
UTF-8 file first because DuckDB cannot decode it: streamed in bounded blocks (etl/transcode.py),
when the loader reaches the file (`RawSource.utf8_csv`), possibly in the background while the
files before it load (`prefetch`). Excel goes through fastexcel (calamine),
with datetimes and integral numbers turned into the text an office would see. Title rows
above the header are skipped; row numbers stay those of the sheet.
"""
from __future__ import annotations

import codecs
import contextlib
import csv
import errno
import hashlib
import io
import os
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa

from etl import aliases, transcode
from etl.transcode import UndecodableBytes

CSV_SUFFIXES = {".csv", ".txt", ".tsv"}
EXCEL_SUFFIXES = {".xlsx", ".xlsm", ".xls"}
SUPPORTED = CSV_SUFFIXES | EXCEL_SUFFIXES


class ExtractError(ValueError):
    """A file that cannot be read at all (names the file)."""


# one background worker: transcoding overlaps DuckDB's work on the file before (DuckDB
# releases the GIL), and never runs two files at once on a small machine
_TRANSCODER = ThreadPoolExecutor(max_workers=1, thread_name_prefix="cockpit-transcode")


@dataclass
class RawSource:
    """One table of text read from a file: a CSV, or one sheet of a workbook."""
    path: Path
    sheet: str | None
    encoding: str
    headers: list[str]
    sha256: str
    csv_path: Path | None = None          # UTF-8 CSV DuckDB can read directly (a GBK file's: once transcoded)
    table: pa.Table | None = None         # or the sheet as text columns (Arrow: DuckDB scans it zero-copy)
    cleanup: list[Path] = field(default_factory=list)
    delimiter: str = ","                  # of the CSV (parsed from its header line)
    skip_lines: int = 0                   # CSV lines above the header (titles, stamps)
    header_row: int = 1                   # the header's row in the sheet; data follows it
    sample_ascii: bool = False            # the sampled bytes were plain ASCII (encoding unproven)
    _pending: Future | None = field(default=None, repr=False)

    @property
    def label(self) -> str:
        return f"{self.path.name}[{self.sheet}]" if self.sheet else self.path.name

    @property
    def is_csv(self) -> bool:
        return self.table is None

    @property
    def text_bytes(self) -> int:
        """The source's size: its sheet's text columns in memory, or its CSV file's bytes."""
        return self.table.nbytes if self.table is not None else (self.csv_path or self.path).stat().st_size

    def prefetch(self) -> None:
        """Start transcoding a GBK file in the background (no-op for anything else)."""
        if self.is_csv and self.csv_path is None and self._pending is None:
            self._pending = _TRANSCODER.submit(transcode.to_utf8, self.path, self.encoding,
                                               self.delimiter, self.headers)

    def utf8_csv(self) -> Path:
        """The UTF-8 CSV DuckDB reads: the file itself, or its transcoded copy (made once).
        Raises ExtractError naming file, row and column for bytes the encoding cannot decode."""
        if self.csv_path is None:
            self.prefetch()
            try:
                self.csv_path = self._pending.result()
            except UndecodableBytes as exc:
                raise ExtractError(str(exc)) from None
            finally:
                self._pending = None
            self.cleanup.append(self.csv_path)
        return self.csv_path

    def as_gb18030(self) -> None:
        """Read the file as GB18030 from now on (DuckDB found bytes past the sample that are not
        UTF-8). A file whose sample held non-ASCII UTF-8 is UTF-8 with a bad byte: refused,
        naming the byte's row and column."""
        if not self.sample_ascii:
            offset = transcode.first_bad_byte(self.path, "utf-8")
            if offset is not None:
                raise ExtractError(str(transcode.undecodable(self.path, "utf-8", offset, self.delimiter,
                                                             self.headers)))
        self.encoding, self.csv_path = "gb18030", None

    def close(self) -> None:
        if self._pending is not None and not self._pending.cancel():   # running: let it finish, delete
            with contextlib.suppress(Exception):
                self.cleanup.append(self._pending.result())
        self._pending = None
        for p in self.cleanup:
            try:
                p.unlink()
            except FileNotFoundError:
                pass


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


@dataclass(frozen=True)
class PathIssue:
    """A path given (or found in a folder) that is not loaded: status 'refused' or 'skipped'."""
    path: Path
    status: str
    message: str


def expand_paths(paths: list[Path]) -> tuple[list[Path], list[PathIssue]]:
    """(files to read, paths that will not be): files as given, folders expanded to their
    supported files (sorted, recursive). A missing path, a broken link or a symlink loop is
    refused; a file of another type inside a folder is skipped; neither stops the others.
    Hidden files (".name") in a folder are ignored; links to folders are not followed.
    """
    files: list[Path] = []
    issues: list[PathIssue] = []
    for p in map(Path, paths):
        problem = _unreadable(p)
        if problem:
            issues.append(PathIssue(p, "refused", f"{p}: {problem}"))
        elif p.is_dir():
            _walk(p, files, issues)
        else:
            files.append(p)
    seen: set[Path] = set()       # a file named and also inside a named folder loads once
    unique = [f for f in files if not (f.resolve() in seen or seen.add(f.resolve()))]
    return unique, issues


def _unreadable(p: Path) -> str | None:
    """Why `p` cannot be opened at all, or None."""
    try:
        os.stat(p)
    except FileNotFoundError:
        return "broken link (its target does not exist)" if p.is_symlink() else "no such file or folder"
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return "symbolic link loop (the link points back to itself)"
        return f"cannot be opened ({exc.strerror})"
    return None


def _walk(folder: Path, files: list[Path], issues: list[PathIssue]) -> None:
    for root, dirs, names in os.walk(folder):   # followlinks=False: a link loop cannot recurse
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        base = Path(root)
        for d in dirs:
            if (base / d).is_symlink():
                issues.append(PathIssue(base / d, "skipped", f"{base / d}: a link to a folder (not followed)"))
        for name in sorted(names):
            f = base / name
            if name.startswith("."):
                continue
            problem = _unreadable(f)
            if problem:
                issues.append(PathIssue(f, "refused", f"{f}: {problem}"))
            elif name.startswith("~$"):
                issues.append(PathIssue(f, "skipped", f"{f}: an Office lock file, not a workbook"))
            elif f.suffix.lower() not in SUPPORTED:
                issues.append(PathIssue(f, "skipped", f"{f}: not a CSV or Excel file ({f.suffix or 'no extension'})"))
            elif f.is_file():
                files.append(f)
    files.sort()


def read_sources(path: Path) -> list[RawSource]:
    """Every table in the file as a RawSource."""
    suffix = path.suffix.lower()
    if suffix in CSV_SUFFIXES:
        return [read_csv(path)]
    if suffix in EXCEL_SUFFIXES:
        return read_excel(path)
    raise ExtractError(f"{path}: unsupported file type {suffix!r} (use .csv or .xlsx)")


SAMPLE_BYTES = 4 << 20   # encoding is judged on the first 4 MB; DuckDB re-checks every byte
HEADER_BYTES = 1 << 16   # the header row is parsed from the first 64 KB


def detect_encoding(data: bytes) -> str:
    """'utf-8-sig', 'utf-8' or 'gb18030' (a superset of GBK); raises if none decodes.

    `data` may be a sample cut mid-character: a truncated last character is not an error.
    """
    if data.startswith(b"\xef\xbb\xbf"):
        return "utf-8-sig"
    wide = _utf16_or_32(data)
    if wide:
        raise ExtractError(f"the file is {wide}, which is not supported - save it as UTF-8 or GBK "
                           f"(in Excel: Save As > CSV UTF-8)")
    try:
        codecs.getincrementaldecoder("utf-8")().decode(data, final=False)
        return "utf-8"
    except UnicodeDecodeError as exc:
        utf8_at = exc.start
    try:
        codecs.getincrementaldecoder("gb18030")().decode(data, final=False)
        return "gb18030"
    except UnicodeDecodeError as exc:   # the encoding that reads further is the file's
        raise (_Undecodable("utf-8", utf8_at) if utf8_at > exc.start
               else _Undecodable("gb18030", exc.start)) from None


class _Undecodable(ExtractError):
    """A sample neither UTF-8 nor GBK: the likelier encoding and its first bad byte."""

    def __init__(self, encoding: str, offset: int):
        super().__init__(f"byte {offset} is neither UTF-8 nor GBK/GB18030")
        self.encoding, self.offset = encoding, offset


def _utf16_or_32(data: bytes) -> str | None:
    """'UTF-16' / 'UTF-32' when the bytes are in one of them (BOM, or NUL bytes between ASCII)."""
    if data.startswith((b"\xff\xfe\x00\x00", b"\x00\x00\xfe\xff")):
        return "UTF-32"
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return "UTF-16"
    head = data[:4096]
    # text without a BOM: every other byte of ASCII is NUL (no CSV, UTF-8 or GBK has NUL)
    if len(head) >= 4 and head.count(0) * 8 >= len(head):
        return "UTF-16"
    return None


def read_csv(path: Path, encoding: str | None = None) -> RawSource:
    """A CSV as a RawSource: hashed in blocks and never held whole; a UTF-8 file is read by
    DuckDB itself, a GBK one is transcoded when the loader reaches it (`RawSource.utf8_csv`).

    Pass `encoding` to override detection.
    """
    h = hashlib.sha256()
    with open(path, "rb") as f:
        sample = f.read(max(SAMPLE_BYTES, HEADER_BYTES))
        h.update(sample)
        for chunk in iter(lambda: f.read(1 << 22), b""):
            h.update(chunk)
    try:
        encoding = encoding or detect_encoding(sample[:SAMPLE_BYTES])
    except _Undecodable as exc:
        delimiter, _, _, headers = _csv_header(sample[:HEADER_BYTES].decode(exc.encoding, errors="ignore"))
        raise ExtractError(str(transcode.undecodable(path, exc.encoding, exc.offset, delimiter, headers))) from None
    except ExtractError as exc:
        raise ExtractError(f"{path}: {exc}") from None
    delimiter, above, records_above, headers = _csv_header(sample[:HEADER_BYTES].decode(encoding, errors="ignore"))
    if not headers:
        raise ExtractError(f"{path}: the file is empty (no header row)")
    return RawSource(path, None, encoding, headers, h.hexdigest(),
                     csv_path=path if encoding.startswith("utf-8") else None, delimiter=delimiter,
                     skip_lines=above, header_row=records_above + 1,
                     sample_ascii=sample[:SAMPLE_BYTES].isascii())


def _csv_header(head: str) -> tuple[str, int, int, list[str]]:
    """(delimiter, lines above the header, records above it, header cells) of a CSV from
    its decoded first bytes; header cells [] when there is no header.

    The header is parsed here, with the CSV quoting rules DuckDB applies, so DuckDB can read
    the file with the dialect given instead of sniffing it (a sniff costs ~0.2 s per 1M rows).
    Title lines above the header are skipped (aliases.header_row_index); the delimiter is
    the one that makes the best header.
    """
    head = head.lstrip("\ufeff")
    best = (False, 0, False), ",", 0, 0, []
    for delimiter in (",", "\t", ";"):
        reader = csv.reader(io.StringIO(head, newline=""), delimiter=delimiter, quotechar='"')
        records, lines_before = [], []
        try:
            for record in reader:
                lines_before.append(reader.line_num - _lines(record))
                records.append(record)
                if len(records) >= aliases.HEADER_SCAN_ROWS:
                    break
        except csv.Error:
            pass
        at = aliases.header_row_index(records)
        if at < 0:
            continue
        cells = [c.strip() for c in records[at]]
        score = (aliases.detect_kind(cells)[0] is not None, len(cells), delimiter == ",")
        if score > best[0]:
            best = score, delimiter, lines_before[at], at, cells
    return best[1:]


def _lines(record: list[str]) -> int:
    """Physical lines a parsed CSV record spans (quoted cells may hold line breaks)."""
    return 1 + sum(cell.count("\n") for cell in record)


def read_excel(path: Path) -> list[RawSource]:
    """Every non-empty sheet as text columns, read by fastexcel (calamine in Rust) straight
    into Arrow: datetimes as 'YYYY-MM-DD HH:MM:SS', integral numbers without '.0'.
    Rows keep their sheet numbers: leading blank rows are kept and title rows above the
    header are skipped (aliases.header_row_index)."""
    import fastexcel

    sha = file_sha256(path)
    try:
        reader = fastexcel.read_excel(str(path))
        names = reader.sheet_names
    except Exception as exc:  # fastexcel raises its own error types
        raise ExtractError(f"{path}: not a readable Excel workbook ({exc})") from None
    sources = []
    for name in names:
        try:
            table = reader.load_sheet(name, header_row=None, skip_rows=0, dtypes="string").to_arrow()
        except Exception as exc:
            raise ExtractError(f"{path}[{name}]: the sheet cannot be read ({exc})") from None
        top = [list(r.values()) for r in table.slice(0, aliases.HEADER_SCAN_ROWS).to_pylist()]
        at = aliases.header_row_index(top)
        if at < 0:
            continue    # an empty sheet (Sheet2, Sheet3 ...) is not an error
        headers = [(c or "").strip() or f"column{i + 1}" for i, c in enumerate(top[at])]
        body = table.slice(at + 1).rename_columns([f"c{i}" for i in range(table.num_columns)])
        sources.append(RawSource(path, name, "xlsx", headers, sha, table=body, header_row=at + 1))
    if not sources:
        raise ExtractError(f"{path}: the workbook has no rows")
    return sources
