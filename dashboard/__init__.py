"""The cockpit's Streamlit app: db -> queries -> charts -> pages."""
