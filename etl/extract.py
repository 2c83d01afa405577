"""Extract: files an office exports -> raw sources of text columns (I/O only, no typing).

CSV in UTF-8, UTF-8 with BOM or GBK/GB18030 (detected, not configured) and Excel .xlsx
(every sheet). DuckDB reads UTF-8 CSV itself (fastest); GBK is transcoded to a temporary
UTF-8 file first because DuckDB cannot decode it. Excel goes through calamine, with
datetimes and integral numbers turned into the text an office would see.
"""
from __future__ import annotations

import codecs
import hashlib
import os
import tempfile
from dataclasses import dataclass, field
from datetime import date, datetime, time
from pathlib import Path

import numpy as np
import pyarrow as pa

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
    invalid UTF-8 past the sample).
    """
    data = path.read_bytes()
    sha = hashlib.sha256(data).hexdigest()
    try:
        encoding = encoding or detect_encoding(data[:SAMPLE_BYTES])
    except ExtractError as exc:
        raise ExtractError(f"{path}: {exc}") from None
    text_head = data[:65536].decode(encoding, errors="ignore")
    first_line = text_head.splitlines()[0] if text_head.strip() else ""
    if not first_line.strip():
        raise ExtractError(f"{path}: the file is empty (no header row)")
    delimiter = "\t" if first_line.count("\t") > first_line.count(",") else ","
    headers = [h.strip().strip('"') for h in first_line.split(delimiter)]
    if encoding.startswith("utf-8"):
        return RawSource(path, None, encoding, headers, sha, csv_path=path)
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError as exc:
        raise ExtractError(f"{path}: byte {exc.start} is neither UTF-8 nor GBK/GB18030") from None
    fd, tmp = tempfile.mkstemp(suffix=".csv", prefix="cockpit-utf8-")
    with os.fdopen(fd, "wb") as out:
        out.write(text.encode("utf-8"))
    return RawSource(path, None, "gb18030", headers, sha, csv_path=Path(tmp), cleanup=[Path(tmp)])


def _cell_text(value: object) -> str | None:
    """How a cell reads as text: datetimes ISO, 2549.0 -> '2549', '' -> None."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() and abs(value) < 1e15 else repr(value)
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, date):
        return value.strftime("%Y-%m-%d")
    if isinstance(value, time):
        return value.strftime("%H:%M:%S")
    return str(value)


def _text_column(values: np.ndarray) -> pa.Array:
    """A column of cells as Arrow strings; the common all-text column converts in C
    (from a NumPy object column: ~3x faster than from a tuple)."""
    try:
        return pa.array(values, type=pa.string())
    except (pa.ArrowTypeError, pa.ArrowInvalid):
        return pa.array([_cell_text(v) for v in values], type=pa.string())


def read_excel(path: Path) -> list[RawSource]:
    from python_calamine import CalamineWorkbook

    sha = file_sha256(path)
    try:
        workbook = CalamineWorkbook.from_path(str(path))
    except Exception as exc:  # calamine raises its own error types
        raise ExtractError(f"{path}: not a readable Excel workbook ({exc})") from None
    sources = []
    for name in workbook.sheet_names:
        rows = workbook.get_sheet_by_name(name).to_python(skip_empty_area=False)
        while rows and not any(c not in (None, "") for c in rows[-1]):
            rows.pop()  # trailing blank rows; inner blank rows stay so row numbers match Excel
        if not rows:
            continue
        headers = [str(_cell_text(h) or f"column{i + 1}").strip() for i, h in enumerate(rows[0])]
        body = rows[1:]
        cells = np.empty((len(body), len(headers)), dtype=object)
        if body:
            cells[:] = body
        table = pa.table({f"c{i}": _text_column(cells[:, i]) for i in range(len(headers))})
        sources.append(RawSource(path, name, "xlsx", headers, sha, table=table))
    if not sources:
        raise ExtractError(f"{path}: the workbook has no rows")
    return sources
