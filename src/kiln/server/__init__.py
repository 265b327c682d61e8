"""The tracking server: an ASGI app speaking MLflow's REST API (``create_app``)."""
