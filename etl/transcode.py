"""GBK/GB18030 CSV -> a temporary UTF-8 copy DuckDB can read, streamed in bounded blocks.

DuckDB 2.0 reads only UTF-8, UTF-16 and Latin-1 (its `encodings` extension would need a
download), so a GBK export is transcoded here first. The file is never decoded whole: blocks
of `BLOCK_BYTES` are cut after their last newline byte, which in GBK and GB18030 never
occurs inside a character (their trail bytes are 0x30-0x39 and 0x40-0xFE), so every piece
decodes on its own and a character split by a read boundary is carried into the next piece.
Peak memory is a few blocks, whatever the file's size. Where the system has `iconv` (glibc),
it does the same first (`_iconv`: a process per 8 MB piece), with less CPU.

An undecodable byte is reported with the file, the spreadsheet row and the column it sits in
(`locate`, run only on that error path: it re-reads the file up to the byte with the CSV
quoting rules, so quoted cells with line breaks count as one row).
"""
from __future__ import annotations

import codecs
import csv
import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Iterator

BLOCK_BYTES = 4 << 20
_SENTINEL = "\ufffd"   # stands for the bad byte, so the row holding it is always parsed


class UndecodableBytes(ValueError):
    """Bytes that are not valid in the file's encoding; `str()` names file, row and column."""

    def __init__(self, path: Path, encoding: str, offset: int, row: int, column: str):
        self.path, self.encoding, self.offset, self.row, self.column = path, encoding, offset, row, column
        shown = "GBK/GB18030" if encoding == "gb18030" else "UTF-8"
        super().__init__(f"{path}: row {row}, column {column}: holds bytes that are not valid {shown}, the "
                         f"file's encoding (byte {offset:,} of the file) - correct the cell, or save the file "
                         f"as UTF-8")


def to_utf8(path: Path, encoding: str, delimiter: str, headers: list[str]) -> Path:
    """A temporary UTF-8 copy of `path` (the caller deletes it); raises UndecodableBytes.

    With the system's `iconv` (glibc: streamed, in its own process, ~2.5x less CPU than
    Python's codec) when there is one; if it refuses the file, Python's codec runs and either
    reads it or names the bad byte's row and column."""
    fd, tmp = tempfile.mkstemp(suffix=".csv", prefix="cockpit-utf8-")
    try:
        with os.fdopen(fd, "wb") as out:
            if _iconv(path, encoding, out):
                return Path(tmp)
            out.seek(0)
            out.truncate()
            for offset, piece in _pieces(path):
                try:
                    out.write(piece.decode(encoding).encode("utf-8"))
                except UnicodeDecodeError as exc:
                    raise undecodable(path, encoding, offset + exc.start, delimiter, headers) from None
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return Path(tmp)


# glibc's iconv maps 25 rare GB18030 codes (vertical punctuation forms, a few CJK components)
# to their Unicode characters where Python's codec keeps private-use code points; everything
# else decodes identically. COCKPIT_ICONV=0 turns it off.
ICONV = shutil.which("iconv") if os.environ.get("COCKPIT_ICONV", "1") != "0" else None


def _iconv(path: Path, encoding: str, out) -> bool:
    """Transcode with iconv into `out`, piece by piece (iconv holds its whole input in memory);
    False when there is no iconv or it refuses a piece."""
    if ICONV is None or encoding != "gb18030":
        return False
    for _, piece in _pieces(path, ICONV_PIECE_BYTES):
        try:
            done = subprocess.run([ICONV, "-f", "GB18030", "-t", "UTF-8"], input=piece, stdout=out,
                                  stderr=subprocess.DEVNULL, check=False)
        except OSError:
            return False
        if done.returncode:
            return False
    return True


ICONV_PIECE_BYTES = 8 << 20


def first_bad_byte(path: Path, encoding: str) -> int | None:
    """Offset of the first byte of `path` that is invalid in `encoding` (streamed), or None."""
    for offset, piece in _pieces(path):
        try:
            piece.decode(encoding)
        except UnicodeDecodeError as exc:
            return offset + exc.start
    return None


def _pieces(path: Path, size: int | None = None) -> Iterator[tuple[int, bytes]]:
    """(file offset, bytes) of `path` in pieces of about `size` (BLOCK_BYTES), each ending after a
    newline byte (the last one at the end of the file). In UTF-8, GBK and GB18030 the byte
    0x0A is never part of a multi-byte character, so each piece decodes on its own."""
    offset, pending = 0, b""
    with open(path, "rb") as f:
        while True:
            block = f.read(size or BLOCK_BYTES)
            data = pending + block if pending else block
            cut = data.rfind(b"\n") + 1 if block else len(data)
            if block and cut == 0:        # a line longer than a block: keep reading
                pending = data
                continue
            if cut:
                yield offset, data[:cut]
            offset, pending = offset + cut, data[cut:]
            if not block:
                return


def undecodable(path: Path, encoding: str, offset: int, delimiter: str,
                headers: list[str]) -> UndecodableBytes:
    """The error for the invalid byte at `offset`, naming its row and column."""
    row, cell = locate(path, encoding, offset, delimiter)
    column = headers[cell] if 0 <= cell < len(headers) and headers[cell] else f"column {cell + 1}"
    return UndecodableBytes(path, encoding, offset, row, column)


def locate(path: Path, encoding: str, offset: int, delimiter: str) -> tuple[int, int]:
    """(spreadsheet row, 0-based cell) of the byte at `offset`: the CSV records before it are
    counted with the quoting rules DuckDB applies (the bytes before it decode)."""
    reader = csv.reader(_lines_before(path, encoding, offset), delimiter=delimiter, quotechar='"')
    row, record = 0, [""]
    try:
        for record in reader:
            row += 1
    except csv.Error:           # e.g. a cell over the csv module's size limit: count lines
        return _physical_line(path, offset), 0
    return row, max(len(record) - 1, 0)


def _lines_before(path: Path, encoding: str, offset: int) -> Iterator[str]:
    """The decoded text before `offset` as lines, the last (partial) one ending in a sentinel."""
    decoder = codecs.getincrementaldecoder(encoding)(errors="replace")
    left, tail = offset, ""
    with open(path, "rb") as f:
        while left > 0:
            block = f.read(min(BLOCK_BYTES, left))
            if not block:
                break
            left -= len(block)
            *lines, tail = (tail + decoder.decode(block, final=left == 0)).split("\n")
            for line in lines:
                yield line + "\n"
    yield tail + _SENTINEL


def _physical_line(path: Path, offset: int) -> int:
    with open(path, "rb") as f:
        count, left = 1, offset
        while left > 0:
            block = f.read(min(BLOCK_BYTES, left))
            if not block:
                break
            left -= len(block)
            count += block.count(b"\n")
    return count
