"""Every SELECT the UI runs: fn(con, filters, ...) -> DataFrame. No streamlit import.

One module per page; all go through `base.fetch` (bound parameters, table whitelist,
row scope). Import query modules as `from dashboard.queries import overview`.
"""
