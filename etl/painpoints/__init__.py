"""Pain points: resident feedback -> monthly top-3 problems with keywords and evidence.

normalise -> tokenize -> vectorize -> reduce -> cluster -> label -> identity -> rank, each a
small module with a swappable stage; `pipeline` strings them together, `store` does the DB
I/O. Entry point: `run(db_path=None, months=None) -> dict` (`python -m etl painpoints`).
Design: docs/PAINPOINTS.md.
"""
from etl.painpoints.pipeline import PainPointModel, process_month, run

__all__ = ["PainPointModel", "process_month", "run"]
