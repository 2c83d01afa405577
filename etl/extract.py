"""Extract: files an office exports -> raw sources of text columns (I/O only, no typing).

CSV in UTF-8, UTF-8 with BOM or GBK/GB18030 (detected, not configured) and Excel .xlsx
(every sheet). DuckDB reads UTF-8 CSV itself (fastest); GBK is transcoded to a temporary
UTF-8 file first because DuckDB cannot decode it. Excel goes through fastexcel (calamine),
with datetimes and integral numbers turned into the text an office would see. Title rows
above the header are skipped; row numbers stay those of the sheet.
"""
from __future__ import annotations

import codecs
import csv
import hashlib
import io
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa

from etl import aliases

CSV_SUFFIXES = {".csv", ".txt", ".tsv"}
EXCEL_SUFFIXES = {".xlsx", ".xlsm", ".xls"}
SUPPORTED = CSV_SUFFIXES | EXCEL_SUFFIXES


class ExtractError(ValueError):
    """A file that cannot be read at all (names the file)."""


@dataclass
class RawSource:
    """One table of text read from a file: a CSV, or one sheet of a workbook."""
    path: Path
    sheet: str | None
    encoding: str
    headers: list[str]
    sha256: str
    csv_path: Path | None = None          # UTF-8 CSV DuckDB can read directly
    table: pa.Table | None = None         # or the sheet as text columns (Arrow: DuckDB scans it zero-copy)
    cleanup: list[Path] = field(default_factory=list)
    delimiter: str = ","                  # of the CSV (parsed from its header line)
    skip_lines: int = 0                   # CSV lines above the header (titles, stamps)
    header_row: int = 1                   # the header's row in the sheet; data follows it

    @property
    def label(self) -> str:
        return f"{self.path.name}[{self.sheet}]" if self.sheet else self.path.name

    def close(self) -> None:
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


def expand_paths(paths: list[Path]) -> list[Path]:
    """Files as given, folders expanded to their supported files (sorted, recursive)."""
    out: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            out.extend(sorted(f for f in p.rglob("*") if f.is_file()
                              and f.suffix.lower() in SUPPORTED and not f.name.startswith(("~$", "."))))
        elif p.exists():
            out.append(p)
        else:
            raise ExtractError(f"{p}: no such file or folder")
    return out


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
    try:
        codecs.getincrementaldecoder("utf-8")().decode(data, final=False)
        return "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        codecs.getincrementaldecoder("gb18030")().decode(data, final=False)
        return "gb18030"
    except UnicodeDecodeError as exc:
        raise ExtractError(f"byte {exc.start} is neither UTF-8 nor GBK/GB18030") from exc


def read_csv(path: Path, encoding: str | None = None) -> RawSource:
    """A CSV as a RawSource; GBK is transcoded to a temporary UTF-8 file for DuckDB.

    Pass `encoding` to override detection (the loader retries with gb18030 when DuckDB finds
    invalid UTF-8 past the sample). A UTF-8 file is hashed in chunks and never held whole:
    DuckDB reads it itself.
    """
    h = hashlib.sha256()
    with open(path, "rb") as f:
        sample = f.read(max(SAMPLE_BYTES, HEADER_BYTES))
        h.update(sample)
        for chunk in iter(lambda: f.read(1 << 22), b""):
            h.update(chunk)
    try:
        encoding = encoding or detect_encoding(sample[:SAMPLE_BYTES])
    except ExtractError as exc:
        raise ExtractError(f"{path}: {exc}") from None
    delimiter, above, records_above, headers = _csv_header(sample[:HEADER_BYTES].decode(encoding, errors="ignore"))
    if not headers:
        raise ExtractError(f"{path}: the file is empty (no header row)")
    if encoding.startswith("utf-8"):
        return RawSource(path, None, encoding, headers, h.hexdigest(), csv_path=path,
                         delimiter=delimiter, skip_lines=above, header_row=records_above + 1)
    try:
        text = path.read_bytes().decode(encoding)
    except UnicodeDecodeError as exc:
        raise ExtractError(f"{path}: byte {exc.start} is neither UTF-8 nor GBK/GB18030") from None
    fd, tmp = tempfile.mkstemp(suffix=".csv", prefix="cockpit-utf8-")
    with os.fdopen(fd, "wb") as out:
        out.write(text.encode("utf-8"))
    return RawSource(path, None, "gb18030", headers, h.hexdigest(), csv_path=Path(tmp),
                     cleanup=[Path(tmp)], delimiter=delimiter, skip_lines=above,
                     header_row=records_above + 1)


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
