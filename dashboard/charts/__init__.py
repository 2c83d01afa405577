"""DataFrame -> plotly Figure, one module per page. No SQL, no streamlit."""
