"""Streamlit-side helpers: cached model loading, plotly figure builders, shared widgets."""
