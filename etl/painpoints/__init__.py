"""Pain points: resident feedback -> monthly top-3 problems with keywords and evidence.

normalise, tokenize (once per message); then per month 1 vectorise -> 2 reduce -> 3 cluster ->
4 merge -> 5 describe -> 6 identify -> 7 rank, and 8 hot spots - the numbering of
docs/PAINPOINTS.md. Each stage is a small module with a swappable object; `pipeline` strings
them together, `store` does the DB I/O. Entry point: `run(db_path=None, months=None) -> dict` (`python -m etl painpoints`).
Design: docs/PAINPOINTS.md.
"""
from etl.painpoints.pipeline import PainPointModel, process_month, run

__all__ = ["PainPointModel", "process_month", "run"]
