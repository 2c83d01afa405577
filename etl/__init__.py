"""ETL: files in -> extract -> stage -> DuckDB (atomic swap) -> pain points."""
