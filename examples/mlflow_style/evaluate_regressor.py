"""Evaluate a logged regressor with the default evaluator: its metrics (mean absolute error,
r2, ...) go to the run."""

from sklearn.datasets import load_diabetes
from sklearn.linear_model import LinearRegression
from sklearn.model_selection import train_test_split

import kiln as mlflow

if __name__ == "__main__":
    diabetes = load_diabetes()
    X_train, X_test, y_train, y_test = train_test_split(
        diabetes.data, diabetes.target, test_size=0.33, random_state=42
    )

    with mlflow.start_run():
        model = LinearRegression().fit(X_train, y_train)
        model_info = mlflow.sklearn.log_model(model, name="model")

        result = mlflow.models.evaluate(
            model_info.model_uri,
            X_test,
            targets=y_test,
            model_type="regressor",
            evaluators="default",
            feature_names=diabetes.feature_names,
            # SHAP explanations (logged when shap is installed) take minutes here
            evaluator_config={"log_model_explainability": False},
        )

    print(f"metrics:\n{result.metrics}")
    print(f"artifacts:\n{result.artifacts}")
