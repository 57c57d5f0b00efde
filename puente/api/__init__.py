"""The node's REST API (FastAPI) and the server that also serves the dashboard (`puente serve`)."""
