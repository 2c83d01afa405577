"""Pure derivations of the 协商与参与 reads (no SQL, no streamlit): each takes DataFrames the
queries in dashboard.queries.participation return and gives the figure a panel shows, so one read
feeds several panels and each rule can be tested on a hand-built frame."""
from __future__ import annotations

import numpy as np
import pandas as pd

from etl import codes

STREET_SCOPE = codes.WHOLE_STREET


def meetings_by_community(monthly: pd.DataFrame, joint_kind: str = "联席会议") -> pd.DataFrame:
    """Per community (pure, from `meetings_monthly`): meetings, joint meetings, and the months of the
    period with data in which it held no joint meeting (one is due every month)."""
    cols = ["community", "meetings", "joint_meetings", "months_without_joint"]
    if monthly.empty:
        return pd.DataFrame(columns=cols)
    months = set(monthly["month_on"])
    joint = monthly[monthly["kind"] == joint_kind]
    held = joint.groupby("community")["month_on"].nunique()
    out = monthly.groupby("community", as_index=False)["meetings"].sum()
    out["joint_meetings"] = out["community"].map(joint.groupby("community")["meetings"].sum()).fillna(0).astype(int)
    out["months_without_joint"] = len(months) - out["community"].map(held).fillna(0).astype(int)
    return out[cols]


def status_counts(res: pd.DataFrame) -> pd.DataFrame:
    """Resolutions of the period's meetings per status (pure: from `resolutions`)."""
    part = res[res["in_period"]]
    return part.groupby("status", as_index=False).size().rename(columns={"size": "resolutions"})


def flagged(res: pd.DataFrame, flag: str) -> pd.DataFrame:
    """The overdue or undisclosed resolutions (pure: from `resolutions`), most recent first."""
    cols = ["resolution_id", "community", "held_on", "text", "responsible_party", "due_on", "status",
            "disclose_by", "disclosed_on"]
    return res.loc[res[flag], cols].sort_values(["held_on", "resolution_id"], ascending=False, ignore_index=True)


def usage_of(tasks: pd.DataFrame, hh: pd.DataFrame) -> pd.DataFrame:
    """Per community (pure): active residents, tasks, hours, points, households, per 1,000 households."""
    g = (tasks.groupby("community", as_index=False)
         .agg(active_residents=("resident_pseudonym", "count"), tasks=("tasks", "sum"), hours=("hours", "sum"),
              points=("points", "sum")))
    g = g.merge(hh, on="community", how="left")
    g["per_1000_households"] = 1000.0 * g["active_residents"] / g["households"].where(g["households"] > 0)
    return g.sort_values("community", ignore_index=True)


def points_of(tasks: pd.DataFrame, redeemed: pd.DataFrame) -> pd.DataFrame:
    """Pure: points earned from `resident_tasks` next to the redemption totals."""
    out = redeemed.copy()
    out.insert(0, "points_earned", float(tasks["points"].sum()))
    return out


def _ceil_share(share: float, n: int) -> int:
    """ceil(share x n) without float noise (0.1 x 30 is 3, not 4)."""
    return -(-round(share * n * 1e6) // 1_000_000)


def concentration_one(tasks: pd.Series, top_share: float) -> tuple[int, int, float, float]:
    """(participants, tasks, top share, Gini) of one scope's tasks per participant (pure).

    Top share: the ceil(top_share x n) participants with most tasks over all tasks. Gini:
    sum((2i - n - 1) x_i) / (n sum x) with x ascending, i = 1..n (= mean |xi - xj| / (2 mean))."""
    x = np.sort(tasks.to_numpy(dtype=float))
    n, total = len(x), float(x.sum())
    if not n or not total:
        return n, int(total), float("nan"), float("nan")
    k = _ceil_share(top_share, n)
    gini = float((2 * np.arange(1, n + 1) - n - 1) @ x / (n * total))
    return n, int(total), float(x[n - k:].sum() / total), gini


def concentration_of(tasks: pd.DataFrame, top_share: float, whole: str = STREET_SCOPE) -> pd.DataFrame:
    """Per community and for the whole selection (residents summed over communities): participants,
    tasks, the top-10% share and the Gini (pure, from `resident_tasks`)."""
    rows = [(c, *concentration_one(part["tasks"], top_share)) for c, part in tasks.groupby("community", sort=True)]
    street = tasks.groupby("resident_pseudonym")["tasks"].sum()
    rows.append((whole, *concentration_one(street, top_share)))
    return pd.DataFrame(rows, columns=["scope", "participants", "tasks", "top_share", "gini"])


def lorenz_of(tasks: pd.DataFrame, points: int = 200) -> pd.DataFrame:
    """The Lorenz curve of tasks over the selection's participants, fewest first, at most ~`points`
    points (pure)."""
    x = np.sort(tasks.groupby("resident_pseudonym")["tasks"].sum().to_numpy(dtype=float))
    n = len(x)
    if not n:
        return pd.DataFrame(columns=["participants_share", "tasks_share"])
    rank = np.arange(1, n + 1)
    keep = (rank % max(1, n // points) == 0) | (rank == n)
    return pd.DataFrame({"participants_share": rank[keep] / n, "tasks_share": np.cumsum(x)[keep] / x.sum()})


def kpis_of(active: int, hh: pd.DataFrame, vote_counts: pd.DataFrame, res: pd.DataFrame,
            conc: pd.DataFrame, whole: str = STREET_SCOPE) -> pd.DataFrame:
    """One row (pure): usage rate (`active` = distinct active residents, per 1,000 households),
    valid-vote share, overdue and undisclosed resolutions, top-10% share and Gini of the whole
    selection (`conc`'s row whose scope is `whole`)."""
    total_hh = hh["households"].sum()
    votes = int(vote_counts["votes"].iloc[0])
    valid = int(vote_counts["valid_votes"].iloc[0])
    row = conc[conc["scope"] == whole]
    return pd.DataFrame([{
        "active_residents": active, "households": total_hh,
        "usage_rate": 1000.0 * active / total_hh if total_hh else None,
        "votes": votes, "valid_votes": valid, "valid_vote_share": valid / votes if votes else None,
        "overdue_resolutions": int(res["overdue"].sum()), "undisclosed_resolutions": int(res["undisclosed"].sum()),
        "top_share": row["top_share"].iloc[0] if len(row) else None,
        "gini": row["gini"].iloc[0] if len(row) else None}])


def vote_counts_of(votes_df: pd.DataFrame) -> pd.DataFrame:
    """One row (pure, from `votes`): votes closed in the period and the valid ones."""
    return pd.DataFrame([{"votes": len(votes_df), "valid_votes": int(votes_df["valid"].sum())}])


def vote_summary(votes_df: pd.DataFrame) -> pd.DataFrame:
    """Per community (pure, from `votes`): votes, valid ones, passed ones, average participation."""
    if votes_df.empty:
        return pd.DataFrame(columns=["community", "votes", "valid_votes", "passed_votes", "avg_participation"])
    return (votes_df.groupby("community", as_index=False)
            .agg(votes=("vote_id", "count"), valid_votes=("valid", "sum"), passed_votes=("passed", "sum"),
                 avg_participation=("participation_share", "mean")))
