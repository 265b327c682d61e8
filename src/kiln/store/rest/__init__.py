"""Tracking store over MLflow's REST API (``http://`` and ``https://`` URIs)."""
