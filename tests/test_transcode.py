"""GBK files are transcoded to UTF-8 in bounded blocks (etl/transcode.py), never decoded whole;
bytes no encoding can read are reported with file, row and column."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from etl import transcode
from etl.load import load_paths
from shared_readers import reading
from sweep import left_to_full_run

HEADER = "事件编号,上报时间,社区,网格编号,事件类型,事件描述,处置状态\r\n"


def _row(i: int) -> str:
    return f"G-{i},2025-04-01 08:00:00,清河一社区,QH-01,噪音扰民,楼上装修噪音扰民第{i}次反映,处置中\r\n"


@pytest.fixture(params=["python", pytest.param("iconv", marks=pytest.mark.skipif(
    not shutil.which("iconv"), reason="no iconv on this system"))])
def codec(request, monkeypatch):
    """Both transcoders: Python's codec in blocks, and the system's iconv piece by piece."""
    if request.param == "python":
        monkeypatch.setattr(transcode, "ICONV", None)
    else:
        monkeypatch.setattr(transcode, "ICONV", shutil.which("iconv"))
        monkeypatch.setattr(transcode, "ICONV_PIECE_BYTES", 97)   # many pieces, split characters
    return request.param


def _rows(db: Path, sql: str):
    with reading(db) as con:
        return con.execute(sql).fetchall()


def _char_starts(text: str, encoding: str) -> set[int]:
    """Byte offsets at which a character starts in `text` encoded."""
    starts, at = set(), 0
    for ch in text:
        starts.add(at)
        at += len(ch.encode(encoding))
    return starts


@left_to_full_run
def test_a_gbk_file_of_many_blocks_with_characters_split_by_block_boundaries(tmp_path, monkeypatch, codec):
    monkeypatch.setattr(transcode, "BLOCK_BYTES", 101)    # odd: boundaries fall inside characters
    text = HEADER + "".join(_row(i) for i in range(400))
    data = text.encode("gbk")
    path = tmp_path / "grid-gbk.csv"
    path.write_bytes(data)
    starts = _char_starts(text, "gbk")
    split = [k for k in range(101, len(data), 101) if k not in starts]
    assert len(split) > 50                                # many reads end in the middle of a character

    copy = transcode.to_utf8(path, "gb18030", ",", [])
    try:
        assert copy.read_bytes() == text.encode("utf-8")
    finally:
        copy.unlink()

    db = tmp_path / "c.duckdb"
    [res] = load_paths([path], db, progress=None)
    assert (res.status, res.rows_loaded) == ("loaded", 400), res.message
    assert _rows(db, "SELECT description FROM grid_reports WHERE report_id = 'G-399'") == [("楼上装修噪音扰民第399次反映",)]
    assert _rows(db, "SELECT encoding FROM etl_loads") == [("gb18030",)]


def test_a_line_longer_than_a_block_is_carried_whole(tmp_path, monkeypatch, codec):
    monkeypatch.setattr(transcode, "BLOCK_BYTES", 16)
    text = HEADER + _row(1).replace("楼上装修", "楼上装修" * 40) + _row(2)
    path = tmp_path / "long.csv"
    path.write_bytes(text.encode("gbk"))
    copy = transcode.to_utf8(path, "gb18030", ",", [])
    try:
        assert copy.read_bytes() == text.encode("utf-8")
    finally:
        copy.unlink()


def _bad_gbk(tmp_path: Path, rows: int, bad_at: int, *, quoted_break_at: int | None = None) -> Path:
    """A GBK grid export whose data row `bad_at` (1-based) has an invalid byte in 事件描述."""
    parts = [HEADER.encode("gbk")]
    for i in range(1, rows + 1):
        line = _row(i)
        if i == quoted_break_at:                   # one record over two lines: rows != lines
            line = line.replace(f"楼上装修噪音扰民第{i}次反映", f"\"楼上装修\r\n噪音扰民第{i}次\"")
        raw = line.encode("gbk")
        if i == bad_at:
            raw = raw.replace("噪音扰民第".encode("gbk"), "噪音".encode("gbk") + b"\xff" + "第".encode("gbk"))
        parts.append(raw)
    path = tmp_path / "bad-gbk.csv"
    path.write_bytes(b"".join(parts))
    return path


def test_a_bad_byte_deep_in_a_gbk_file_names_file_row_and_column(tmp_path, monkeypatch, codec):
    import etl.extract as extract
    monkeypatch.setattr(extract, "SAMPLE_BYTES", 2048)        # found while streaming, not in the sample
    monkeypatch.setattr(transcode, "BLOCK_BYTES", 4096)      # the bad byte is many blocks in
    # and many iconv pieces in: pieces of a block, not codec()'s 97 bytes (one iconv process
    # per line would start 2,000 of them; the split characters are the test above's)
    monkeypatch.setattr(transcode, "ICONV_PIECE_BYTES", 4096)
    calls = []
    real = transcode.undecodable
    monkeypatch.setattr(transcode, "undecodable", lambda *a: calls.append(a) or real(*a))
    path = _bad_gbk(tmp_path, 3000, bad_at=2345, quoted_break_at=100)
    assert path.stat().st_size > 30 * 4096
    db = tmp_path / "c.duckdb"
    [res] = load_paths([path], db, progress=None)
    assert res.status == "refused"
    # header = row 1, data row 2345 = sheet row 2346 although a quoted cell spans two lines above
    assert "bad-gbk.csv" in res.message and "row 2346" in res.message and "事件描述" in res.message, res.message
    assert "GBK" in res.message
    assert len(calls) == 1 and calls[0][2] > 30 * 4096        # reported by the streaming transcode
    assert not db.exists()                                  # nothing loaded, no file made


def test_a_bad_byte_in_the_encoding_sample_names_row_and_column(tmp_path):
    path = _bad_gbk(tmp_path, 50, bad_at=7)
    [res] = load_paths([path], tmp_path / "c.duckdb", progress=None)
    assert res.status == "refused"
    assert "row 8" in res.message and "事件描述" in res.message, res.message


def test_a_utf8_file_with_a_bad_byte_past_the_sample_is_refused_not_read_as_gbk(tmp_path, monkeypatch):
    import etl.extract as extract
    monkeypatch.setattr(extract, "SAMPLE_BYTES", 512)         # the sample sees valid UTF-8 Chinese
    data = (HEADER + "".join(_row(i) for i in range(1, 200))).encode("utf-8")
    cut = data.index("第150次".encode("utf-8"))
    path = tmp_path / "bad-utf8.csv"
    path.write_bytes(data[:cut] + b"\xff" + data[cut:])
    [res] = load_paths([path], tmp_path / "c.duckdb", progress=None)
    assert res.status == "refused"
    assert "row 151" in res.message and "事件描述" in res.message and "UTF-8" in res.message, res.message


@pytest.mark.parametrize("bad_at", [1, 2, 3])
def test_bad_bytes_in_the_first_rows_name_their_own_row(tmp_path, bad_at):
    path = _bad_gbk(tmp_path, 5, bad_at=bad_at)
    [res] = load_paths([path], tmp_path / "c.duckdb", progress=None)
    assert res.status == "refused" and f"row {bad_at + 1}," in res.message, res.message


def test_a_prefetched_copy_is_deleted_when_the_source_closes_used_or_not(tmp_path, monkeypatch, codec):
    import tempfile

    from etl.extract import read_sources
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    path = tmp_path / "grid-gbk.csv"
    path.write_bytes((HEADER + "".join(_row(i) for i in range(50))).encode("gbk"))
    used, unused = read_sources(path)[0], read_sources(path)[0]
    assert used.csv_path is None and used.encoding == "gb18030"      # nothing transcoded yet
    used.prefetch()
    unused.prefetch()
    copy = used.utf8_csv()
    assert copy.parent == scratch and copy.read_bytes().decode("utf-8").startswith("事件编号")
    used.close()
    unused.close()
    assert list(scratch.iterdir()) == []
