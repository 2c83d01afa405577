"""Demo exports: a deterministic generator of the files a street office hands over.

`generate(inbox, seed=7, scale=1.0, end=None)` writes, for one street (清河街道: 8 communities,
65 grids) and the 24 calendar months ending with `end`'s month (nothing after `end`):

1. grid reports (~30k x scale): five periodic exports `网格事件_<months>`, each taken when
   its period ended (the last one SNAPSHOT_DAYS before `end`): UTF-8 with BOM, GBK,
   one month as .xlsx with real Excel datetimes, plain UTF-8, GBK; three header spellings;
   dates mixed row by row ('2025-04-08 08:37:20', '2025/4/8 8:37:20', '2025年4月8日 08:37');
   status synonyms; a few exact duplicate rows. Then `网格事件_更新_<end>.csv` (sorts last):
   every case resolved since the export that showed it open (处置中 -> 已办结, ~2% of
   cases; latest wins by 事件编号) plus the cases new since the last export.
2. projects: `项目台账.xlsx` (sheets 项目, 里程碑), max(60, 60 x scale) projects capped at
   2000; most healthy, some planted with early warnings (see projects._progress).
3. fund transactions (max(2000 x scale, 10 per project)): `资金流水.csv` (GBK, first 12
   months) and `资金流水_近12个月.csv` (UTF-8 BOM); amounts '¥12,000.00' / '1.2万' / plain;
   re-granting: a charity pays 转拨 to another project's lead, who books it as income.
4. feedback (~15k x scale) in one export per channel, ids only in some. Each month's topic
   mix is planted: three topics each >= 1.3x the 4th (seasonal and campaign driven, see
   text.SEASONAL_TOP3 / EVENTS); ~10% off-topic noise.
5. deliberation and participation (issue 15, etl.demo.participation / deliberation): communities'
   households, monthly meetings (six joint meetings planted without a required party), resolutions (8
   overdue, 8 not disclosed in their quarter), 30 votes (7 under the 30% line), ~20k x scale resident tasks
   (top 10% carry 63% in 美和园社区), redemptions, ~3k x scale evaluations (one project planted badly
   rated); planted facts in participation_truth.json. Its own rng stream: the files above are unchanged.
   Then residents' ease-of-use ratings of the platform (etl.demo.usability, ~1.5k x scale, its own
   stream too): one community rating low, one with too few ratings for a mean; usability_truth.json.
6. a few deliberately bad rows, listed in manifest['bad_rows'] with file, sheet row
   (header = row 1), column header and the loader's reject reason.

Ground truth goes to `truth_dir`: feedback_topics.csv (one row per message: source_file,
row_number = 1-based data row, feedback_id or '', submitted_at, community, text exactly as
exported (before the loader masks PII), topic ('其他' = noise), channel, resident_id),
planted_top3.csv (month, scope '全街道', rank, topic, n, fourth_n: counted from the messages),
feedback_topic_counts.csv (per month, scope and topic), project_warnings.csv and
manifest.json. One numpy Generator(seed) drives everything in a fixed order, so the same
seed, scale and end give byte-identical files.

Modules, in the order generate() runs them: world (the street, its calendar, random draws),
grid, projects, ledger, feedback; cells (how values are spelled in an export), exports
(writing CSV and xlsx) and text (vocabulary and templates) serve them.
"""
from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import numpy as np

from etl.demo import participation, usability
from etl.demo.feedback import CHANNELS, NOISE_TOPIC, RATING_WORDS, feedback_records, write_feedback
from etl.demo.grid import GRID_COLS, GRID_FILES, GRID_HEADERS, SNAPSHOT_DAYS, STATUS_WORDS, grid_records, write_grid
from etl.demo.ledger import TXN_HEADERS, build_transactions, write_transactions
from etl.demo.projects import MILESTONE_HEADERS, PROJECT_HEADERS, WARNINGS, build_projects, true_warnings, write_projects
from etl.demo.world import DAY, Ctx, calendar

__all__ = ["generate", "CHANNELS", "NOISE_TOPIC", "RATING_WORDS", "GRID_COLS", "GRID_FILES", "GRID_HEADERS",
           "SNAPSHOT_DAYS", "STATUS_WORDS", "TXN_HEADERS", "MILESTONE_HEADERS", "PROJECT_HEADERS", "WARNINGS", "DAY"]


def generate(inbox: Path, *, seed: int = 7, scale: float = 1.0, end: date | None = None,
             truth_dir: Path | None = None) -> dict:
    """Write the demo exports into `inbox` and the ground truth into `truth_dir`; return the manifest."""
    end = end or date.today()
    inbox = Path(inbox)
    truth = Path(truth_dir) if truth_dir else inbox.parent / "demo_truth"
    inbox.mkdir(parents=True, exist_ok=True)
    truth.mkdir(parents=True, exist_ok=True)
    months = calendar(end)
    ctx = Ctx(np.random.default_rng(seed), scale, end, inbox, months)
    n_grid = write_grid(ctx, grid_records(ctx))
    projects, milestones = build_projects(ctx)
    txns = build_transactions(ctx, projects)
    write_projects(ctx, projects, milestones)
    write_transactions(ctx, txns)
    feedback = feedback_records(ctx)
    write_feedback(ctx, feedback, truth)
    true_warnings(ctx, projects, milestones, txns).to_csv(truth / "project_warnings.csv", index=False)
    counts = {"grid_reports": n_grid, "projects": len(projects), "project_milestones": len(milestones) + 1,
              "fund_transactions": len(txns) + 2, "feedback": len(feedback)}
    counts |= participation.generate(ctx, seed, projects, truth)
    counts |= usability.generate(ctx, seed, truth)
    manifest = {"files": [str(f) for f in ctx.files], "counts": counts, "rows_written": ctx.rows,
                "bad_rows": ctx.bad, "end": end, "months": months, "seed": seed, "scale": scale}
    (truth / "manifest.json").write_text(json.dumps(manifest, default=str, ensure_ascii=False, indent=1),
                                         encoding="utf-8")
    return manifest
