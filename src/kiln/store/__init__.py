"""Where Kiln keeps things: one package per backend, one module per kind of store.

The package has one axis, the backend, because a backend is what a contributor
works on (a database, a folder layout, a remote server) and what a deployment
chooses; the kinds (tracking, registry, logged models, and wave 2's users, jobs,
deployments, ...) repeat inside each backend under the same module names::

    protocols/  the contracts, one module per kind: tracking.py, registry.py,
                logged_models.py, artifacts.py, history.py (import with ids kept)
    rules/      validation every backend applies before writing (MLflow's limits)
    query/      the search grammar: one tokenizer, one LIKE translation, ordering,
                the one page-token codec (servers use it too), one module per kind
    memory/     in-process stores       tracking.py registry.py logged_models.py
    sql/        SQLite and PostgreSQL   tracking.py registry.py logged_models.py
                (+ engine, schema, Alembic migrations/)
    file/       MLflow's mlruns folder  tracking.py registry.py logged_models.py
    rest/       a Kiln or MLflow server tracking.py registry.py
    artifacts/  files: local.py s3.py http.py (+ paths.py, the one path check)
    transfer/   copying between any two backends (``kiln import`` / ``kiln export``)
    open.py     the one table: kind x URI scheme -> factory (lazy imports)

A backend package imports only ``protocols``, ``rules``, ``query``, ``clock``,
``kiln.wire``, ``kiln.errors`` and ``kiln.entities`` (import-linter checks it),
never another backend. Every store instance is bound to one workspace (tenant):
``open_*_store(uri, workspace=...)`` takes it as a required keyword, so code that
forgets the tenant fails the type check. CONTRIBUTING.md has the recipe for adding
a kind of store.
"""
