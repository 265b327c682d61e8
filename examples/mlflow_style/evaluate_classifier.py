"""Evaluate a logged binary classifier with the default evaluator: metrics plus the
confusion matrix, ROC and precision-recall plots as artifacts of the run."""

from sklearn.datasets import load_breast_cancer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import kiln as mlflow

if __name__ == "__main__":
    data = load_breast_cancer(as_frame=True)
    X_train, X_test, y_train, y_test = train_test_split(
        data.data, data.target, test_size=0.3, random_state=42
    )

    with mlflow.start_run():
        model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=500))
        model.fit(X_train, y_train)
        model_info = mlflow.sklearn.log_model(model, name="model")

        eval_data = X_test.copy()
        eval_data["label"] = y_test
        result = mlflow.models.evaluate(
            model_info.model_uri,
            eval_data,
            targets="label",
            model_type="classifier",
            evaluators="default",
            # SHAP explanations (logged when shap is installed) take minutes here
            evaluator_config={"log_model_explainability": False},
        )

    print(f"metrics:\n{result.metrics}")
    print(f"artifacts:\n{result.artifacts}")
