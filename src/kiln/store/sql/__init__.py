"""The SQL stores (SQLite and PostgreSQL) on SQLAlchemy Core.

One module per kind holds its store class and factory: ``tracking``
(``SqlTrackingStore``, ``open_sql_store``), ``registry`` and ``logged_models``.
A kind's parts sit beside it under its name: ``tracking_base``,
``tracking_experiments``, ``tracking_runs``, ``tracking_writes`` (the logging hot
path); ``registry_rows``, ``registry_models``, ``registry_versions``; and the
tables ``schema`` (tracking, and the column helpers every table uses),
``registry_schema``, ``logged_model_schema``. Shared by the tracking parts:
``engine`` (URIs, engines, SQLite pragmas, migrations on open), ``group_commit``
and ``statements`` (the hot path), ``filters``, ``search_index`` and ``reads``
(search), ``history`` (``HistoryImport``), ``inputs`` (dataset inputs), ``rows``
(row <-> entity), ``migrations`` (Alembic). Nothing here is imported by ``import kiln``.
"""
