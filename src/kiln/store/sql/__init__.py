"""The SQL tracking store (SQLite and PostgreSQL) on SQLAlchemy Core.

Modules: ``store`` (``open_sql_store``, ``SqlTrackingStore``), ``engine`` (URI
handling, per-URI engine cache, SQLite pragmas, migrations on open), ``schema``
(tables), ``statements`` (precompiled hot-path statements), ``query`` (search),
``history`` (``HistoryImport``), ``inputs`` (dataset inputs), ``rows`` (row <->
entity), ``migrations`` (Alembic). Nothing here is imported by ``import kiln``.
"""
