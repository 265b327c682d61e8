"""The smallest tracked model: no ``start_run`` at all. The first logging call starts a run,
and the run ends when the script exits."""

from sklearn.datasets import load_breast_cancer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import kiln as mlflow
import kiln.sklearn

if __name__ == "__main__":
    X, y = load_breast_cancer(return_X_y=True)
    classifier = make_pipeline(StandardScaler(), LogisticRegression(max_iter=200))
    classifier.fit(X, y)
    score = classifier.score(X, y)
    print(f"Score: {score:.4f}")
    mlflow.log_metric("score", score)
    mlflow.sklearn.log_model(classifier, name="model")
    print(f"Model saved in run {mlflow.active_run().info.run_id}")
