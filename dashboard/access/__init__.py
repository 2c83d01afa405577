"""Who may see what: access keys, sessions, lockout, single sign-on mapping and the audit log.

Everything here lives in files beside the database (never inside it: the ETL swaps the
DuckDB file and analysts may copy it). `dashboard/access/gate.py` is the only module that
imports streamlit; the rest is plain Python the CLI (`python -m etl keys|audit`) shares.
"""
