"""How values are spelled in an export: timestamps in three styles, Excel serial days, money as
'¥12,000.00' / '1.2万' / plain. Pure functions of their arguments (and the rng, where one is passed)."""
from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd

from etl.demo.world import DAY, epoch_s


def fmt_ts(sec: np.ndarray, style: np.ndarray, date_only: bool = False) -> np.ndarray:
    """Text timestamps, row by row in style 0 '2025-04-08 08:37:20', 1 '2025/4/8 8:37:20',
    2 '2025年4月8日 08:37'; negative seconds -> ''. Date-only variants when asked."""
    out = np.full(len(sec), "", dtype=object)
    ok = sec >= 0
    t = pd.to_datetime(sec[ok], unit="s")
    parts = zip(style[ok].tolist(), t.year.tolist(), t.month.tolist(), t.day.tolist(),
                t.hour.tolist(), t.minute.tolist(), t.second.tolist())
    if date_only:
        out[ok] = [f"{y}-{m:02d}-{d:02d}" if s == 0 else f"{y}/{m}/{d}" if s == 1 else f"{y}年{m}月{d}日"
                   for s, y, m, d, _, _, _ in parts]
    else:
        out[ok] = [f"{y}-{m:02d}-{d:02d} {H:02d}:{M:02d}:{S:02d}" if s == 0 else f"{y}/{m}/{d} {H}:{M:02d}:{S:02d}"
                   if s == 1 else f"{y}年{m}月{d}日 {H:02d}:{M:02d}" for s, y, m, d, H, M, S in parts]
    return out


def iso_text(sec: np.ndarray) -> np.ndarray:
    """'2025-04-08 08:37:20' for each epoch second (vectorised)."""
    return np.char.replace(np.datetime_as_string(sec.astype("datetime64[s]"), unit="s"), "T", " ")


def day_text(sec: np.ndarray) -> np.ndarray:
    """'20250408' for each epoch second (vectorised)."""
    return np.char.replace(np.datetime_as_string((sec // DAY).astype("datetime64[D]")), "-", "")


def excel_serial(sec: np.ndarray) -> np.ndarray:
    """Excel serial day numbers (NaN for negative seconds = missing)."""
    return np.where(sec >= 0, sec / DAY + 25569.0, np.nan)


def pick_styles(rng: np.random.Generator, n: int, p: tuple[float, float, float]) -> np.ndarray:
    return rng.choice(3, n, p=p)


def money_text(rng: np.random.Generator, amounts: np.ndarray, yen: str) -> list[str]:
    """'¥12,000.00', '1.2万' (round hundreds only) or plain '12000.00', mixed."""
    style = rng.random(len(amounts))
    return [f"{a / 10000:.4f}".rstrip("0").rstrip(".") + "万" if a >= 10000 and a % 100 == 0 and s < 0.6
            else f"{yen}{a:,.2f}" if s < 0.7 else f"{a:.2f}" for a, s in zip(amounts.tolist(), style.tolist())]


def dates_mixed(rng: np.random.Generator, col: pd.Series) -> list:
    """70% real Excel dates (serial numbers), 30% typed text in one of three formats; None stays None."""
    sec = np.array([epoch_s(d) if isinstance(d, date) else -1 for d in col], dtype=np.int64)
    text = fmt_ts(sec, pick_styles(rng, len(sec), (0.4, 0.4, 0.2)), date_only=True)
    serial = excel_serial(sec)
    return [None if s < 0 else (float(v) if u < 0.7 else t)
            for s, v, t, u in zip(sec.tolist(), serial.tolist(), text, rng.random(len(sec)).tolist())]
