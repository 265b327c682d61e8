"""kiln.serving: the scoring server for one model.

``create_scoring_app(model, name=...)`` builds the ASGI app (MLflow's
``/invocations`` for 1.x/2.x/3.x clients, the Open Inference Protocol under
``/v2``, health and Prometheus metrics); ``kiln.serving.runner.serve`` runs it in
one or several processes. This package never imports SQLAlchemy or the tracking
server: the CLI resolves ``models:/`` URIs to a local folder before it starts.
"""

from kiln.serving.app import create_scoring_app
from kiln.serving.model import ScoringModel

__all__ = ["ScoringModel", "create_scoring_app"]
