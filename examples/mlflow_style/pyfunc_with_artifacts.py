"""A custom pyfunc model whose files travel as artifacts: a pickled scikit-learn estimator
and a JSON file of class names. ``load_context`` reads them back wherever the model is
loaded, and ``predict`` answers with the species' names instead of class numbers."""

import json
import pickle
import tempfile
from pathlib import Path

import pandas as pd
from sklearn.datasets import load_iris
from sklearn.tree import DecisionTreeClassifier

import kiln as mlflow
from kiln.models import infer_signature


class SpeciesClassifier(mlflow.pyfunc.PythonModel):
    def load_context(self, context):
        with open(context.artifacts["estimator"], "rb") as handle:
            self.estimator = pickle.load(handle)
        with open(context.artifacts["labels"]) as handle:
            self.labels = json.load(handle)

    def predict(self, context, model_input, params=None):
        classes = self.estimator.predict(model_input)
        return pd.Series([self.labels[int(c)] for c in classes], name="species")


if __name__ == "__main__":
    iris = load_iris(as_frame=True)
    X, y = iris.data, iris.target
    estimator = DecisionTreeClassifier(max_depth=3, random_state=0).fit(X, y)

    with tempfile.TemporaryDirectory() as workdir:
        estimator_path = Path(workdir, "estimator.pkl")
        estimator_path.write_bytes(pickle.dumps(estimator))
        labels_path = Path(workdir, "labels.json")
        labels_path.write_text(json.dumps(list(iris.target_names)))

        with mlflow.start_run():
            mlflow.log_param("max_depth", 3)
            info = mlflow.pyfunc.log_model(
                name="species_model",
                python_model=SpeciesClassifier(),
                artifacts={"estimator": str(estimator_path), "labels": str(labels_path)},
                signature=infer_signature(X, pd.Series(["setosa"] * len(X), name="species")),
                input_example=X.head(2),
            )

    # The artifacts were copied into the model: the temporary folder is gone.
    loaded = mlflow.pyfunc.load_model(info.model_uri)
    print(loaded.predict(X.iloc[[0, 60, 120]]).tolist())
