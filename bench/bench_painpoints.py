"""Pain-point engine benchmark: python -m bench.bench_painpoints [--repeat 3]

1. segmentation: rjieba (hmm off) vs jieba (HMM off) on the real messages, same user
   dictionary in both; characters per second and whether every message gets the same words.
2. 100k messages from raw text to stored monthly top-3 (a database holding only the raw
   feedback, 24 months, built by another process): seconds and peak RSS of a child process
   that only runs the engine (segmentation, clustering, ranking, writes, atomic swap), and
   the share hot-spot detection adds to that run (place extraction + step 8, timed inside
   run(); target <= 20 % of the run without it).
3. a month of 10k new messages added to that database: seconds for the incremental run.
4. clustering quality on the real messages: silhouette per month, keyword coherence (mean
   NPMI of each cluster's top-5 keyword pairs over the month's messages), k chosen.
Medians of --repeat runs are printed.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
REAL = REPO.parent / "shared" / "data" / "citizen_messages_with_replies.xlsx"


def real_texts(normalised: bool) -> list[str]:
    import pandas as pd
    from etl.painpoints.normalise import normalise_many
    from etl.painpoints.tokenize import message_text
    df = pd.read_excel(REAL, engine="calamine")
    texts = [message_text(s, t) for s, t in zip(df["留言主题"], df["留言详情"])]
    return normalise_many(texts) if normalised else texts


def bench_segmentation(repeat: int, normalised: bool) -> dict:
    """Raw export text (tabs, newlines: what the issue's figures used) or normalised text
    (whitespace collapsed, denser: what the engine segments)."""
    import jieba
    from etl.painpoints.tokenize import Tokenizer, read_userdict
    texts = real_texts(normalised) * 10
    chars = sum(map(len, texts))
    tok = Tokenizer()
    ref = jieba.Tokenizer()
    ref.initialize()
    for word, freq, tag in read_userdict():
        ref.add_word(word, freq, tag)
    rs, js = [], []
    [tok.cut(x) for x in texts]          # warm-up: page faults, dictionary caches
    for _ in range(repeat):
        t0 = time.perf_counter()
        mine = [tok.cut(x) for x in texts]
        rs.append(chars / (time.perf_counter() - t0))
    t0 = time.perf_counter()
    theirs = [ref.lcut(x, HMM=False) for x in texts[: len(texts) // 10]]
    js.append(chars / 10 / (time.perf_counter() - t0))
    same = sum(a == b for a, b in zip(mine, theirs))
    return {"chars": chars, "rjieba_chars_per_s": statistics.median(rs),
            "jieba_chars_per_s": statistics.median(js),
            "same_words": f"{same}/{len(theirs)} messages"}


def _child_build(db: str, n_months: int, per_month: int) -> None:
    """A child that only writes the raw feedback table (not timed, not in the RSS figure)."""
    import duckdb
    from etl.dbfile import ensure_schema
    from etl.painpoints.synthetic import corpus
    fb, _ = corpus(n_months=n_months, per_month=per_month, seed=1, end=date(2026, 5, 31))
    fb = fb.drop(columns=["topic"]).assign(source_load_id=1)  # noqa: F841
    con = duckdb.connect(db)
    ensure_schema(con)
    con.execute("INSERT INTO feedback BY NAME SELECT * FROM fb")
    con.close()
    print(json.dumps({"built": db}))


def _peak_rss_mb() -> float:
    """VmHWM of this process. Not ru_maxrss: Linux carries that over fork+exec from the
    parent (which here holds the segmentation benchmark's data), VmHWM starts fresh."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _child_end_to_end(db: str) -> None:
    """A child that times run() alone on a database of raw messages; its peak RSS."""
    from etl import painpoints
    base = _peak_rss_mb()
    t0 = time.perf_counter()
    summary = painpoints.run(db_path=db)
    seconds = time.perf_counter() - t0
    print(json.dumps({"seconds": seconds, "peak_rss_mb": _peak_rss_mb(), "rss_before_mb": base,
                      "summary": summary}))


def _child_new_month(db: str, per_month: int) -> None:
    import duckdb
    from etl import painpoints
    from etl.painpoints.synthetic import corpus
    fb, _ = corpus(n_months=1, per_month=per_month, seed=99, end=date(2026, 6, 30))
    fb = fb.drop(columns=["topic"]).assign(source_load_id=2,
                                           feedback_id=lambda d: "N" + d["feedback_id"])
    con = duckdb.connect(db)
    con.execute("INSERT INTO feedback BY NAME SELECT * FROM fb")
    con.close()
    t0 = time.perf_counter()
    summary = painpoints.run(db_path=db)
    print(json.dumps({"seconds": time.perf_counter() - t0, "summary": summary}))


def _child(args: list[str]) -> dict:
    out = subprocess.run([sys.executable, __file__, *args], capture_output=True, text=True,
                         check=True, cwd=REPO)
    return json.loads(out.stdout.strip().splitlines()[-1])


def bench_end_to_end(repeat: int, n: int) -> dict:
    runs, month_runs = [], []
    for _ in range(repeat):
        tmp = Path(tempfile.mkdtemp())
        db = tmp / "bench.duckdb"
        _child(["--child-build", str(db), "24", str(n // 24)])
        runs.append(_child(["--child-e2e", str(db)]))
        month_runs.append(_child(["--child-month", str(db), "10000"]))
        shutil.rmtree(tmp)
    return {"messages": n, "seconds": statistics.median(r["seconds"] for r in runs),
            "peak_rss_mb": max(r["peak_rss_mb"] for r in runs),
            "hot_spot_seconds": statistics.median(r["summary"]["hot_spot_seconds"] for r in runs),
            "hot_spot_share": statistics.median(
                r["summary"]["hot_spot_seconds"] / (r["summary"]["seconds"] - r["summary"]["hot_spot_seconds"])
                for r in runs),
            "month_10k_seconds": statistics.median(r["seconds"] for r in month_runs),
            "month_10k_hot_spot_seconds": statistics.median(r["summary"]["hot_spot_seconds"] for r in month_runs),
            "month_10k_months_reclustered": month_runs[0]["summary"]["months"]}


def bench_quality() -> dict:
    """Silhouette and NPMI coherence on the real messages (months with >= 30 messages)."""
    import numpy as np
    import pandas as pd
    from etl.painpoints.pipeline import PainPointModel
    from etl.painpoints.tokenize import Tokenizer, message_text
    df = pd.read_excel(REAL, engine="calamine")
    df["month"] = pd.to_datetime(df["留言时间"].astype(str), format="mixed").dt.to_period("M")
    df["tokens"] = Tokenizer().tokens_many(message_text(s, t) for s, t in zip(df["留言主题"], df["留言详情"]))
    model, sils, cohs, ks, outl = PainPointModel(), [], [], [], []
    for _, g in df.groupby("month"):
        if len(g) < 30:
            continue
        docs = list(g["tokens"])
        fit = model.fit(docs)
        sils.append(fit.clusters.silhouette)
        ks.append(fit.clusters.k)
        outl.append(float((fit.clusters.labels < 0).mean()))
        sets = [set(d) for d in docs]
        for tp in fit.topics:
            cohs.append(_npmi(tp.keywords[:5], sets))
    whole = model.fit(list(df["tokens"]))
    return {"months": len(sils), "silhouette_median": statistics.median(sils),
            "k_median": statistics.median(ks), "k_range": [min(ks), max(ks)],
            "outlier_share_median": statistics.median(outl),
            "npmi_coherence_mean": float(np.mean(cohs)),
            "whole_corpus": {"k": whole.clusters.k, "silhouette": whole.clusters.silhouette,
                             "scores": whole.clusters.scores, "pain_points": len(whole.topics),
                             "labels": [t.label for t in whole.topics]}}


def _npmi(words: list[str], docs: list[set[str]]) -> float:
    import math
    n, vals = len(docs), []
    for i in range(len(words)):
        for j in range(i + 1, len(words)):
            a, b = words[i], words[j]
            pa = sum(a in d for d in docs) / n
            pb = sum(b in d for d in docs) / n
            pab = sum(a in d and b in d for d in docs) / n
            if pab == 0:
                vals.append(-1.0)
            elif pab == 1:
                vals.append(1.0)
            else:
                vals.append(math.log(pab / (pa * pb)) / -math.log(pab))
    return sum(vals) / len(vals) if vals else 0.0


def main() -> None:
    if sys.argv[1:2] == ["--child-build"]:
        return _child_build(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
    if sys.argv[1:2] == ["--child-e2e"]:
        return _child_end_to_end(sys.argv[2])
    if sys.argv[1:2] == ["--child-month"]:
        return _child_new_month(sys.argv[2], int(sys.argv[3]))
    p = argparse.ArgumentParser()
    p.add_argument("--repeat", type=int, default=5)
    p.add_argument("--messages", type=int, default=100_800)
    p.add_argument("--skip-quality", action="store_true")
    a = p.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    for normalised in (False, True):
        seg = bench_segmentation(a.repeat, normalised)
        print(f"segmentation ({'normalised' if normalised else 'raw'} text): rjieba "
              f"{seg['rjieba_chars_per_s'] / 1e6:.2f} M chars/s, jieba (HMM off) "
              f"{seg['jieba_chars_per_s'] / 1e6:.2f} M chars/s, same words: {seg['same_words']}",
              flush=True)
    e2e = bench_end_to_end(a.repeat, a.messages)
    print(f"end to end: {e2e['messages']:,} messages raw -> stored top-3 in {e2e['seconds']:.1f} s "
          f"(median), peak RSS {e2e['peak_rss_mb']:.0f} MB", flush=True)
    print(f"hot spots: {e2e['hot_spot_seconds']:.2f} s of it, +{100 * e2e['hot_spot_share']:.1f} % "
          f"over the run without them (target <= 20 %)", flush=True)
    print(f"new month: 10,000 messages in {e2e['month_10k_seconds']:.2f} s "
          f"({e2e['month_10k_months_reclustered']} month re-clustered; hot spots "
          f"{e2e['month_10k_hot_spot_seconds']:.2f} s of it)", flush=True)
    if not a.skip_quality:
        print("quality on the real messages:", json.dumps(bench_quality(), ensure_ascii=False, indent=1))


if __name__ == "__main__":
    main()
