"""``kiln demo``: a small, real training job that fills a tracking store.

An ElasticNet on the UCI wine-quality data (vendored in ``data/``, CC BY 4.0),
logged as a parent run with nested runs, metric histories, figures, JSON and a
model folder MLflow can load. See ``kiln.demo.job.run_demo``.
"""
