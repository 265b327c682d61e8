"""XGBoost's scikit-learn API with autolog, plus the model logged by hand with a signature
and loaded back."""

import numpy as np
import xgboost as xgb
from sklearn.datasets import load_diabetes
from sklearn.metrics import mean_squared_error, r2_score
from sklearn.model_selection import train_test_split

import kiln as mlflow
from kiln.models import infer_signature

if __name__ == "__main__":
    X, y = load_diabetes(return_X_y=True, as_frame=True)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.2, random_state=42)

    mlflow.xgboost.autolog()
    with mlflow.start_run():
        regressor = xgb.XGBRegressor(
            n_estimators=20, max_depth=3, learning_rate=0.2, random_state=42, n_jobs=1
        )
        regressor.fit(X_train, y_train, eval_set=[(X_test, y_test)], verbose=False)

        y_pred = regressor.predict(X_test)
        mse, r2 = mean_squared_error(y_test, y_pred), r2_score(y_test, y_pred)
        mlflow.log_metrics({"mse": float(mse), "r2": float(r2)})

        signature = infer_signature(X_test, y_pred)
        info = mlflow.xgboost.log_model(regressor, name="regressor", signature=signature)

    loaded = mlflow.pyfunc.load_model(info.model_uri)
    print(np.round(loaded.predict(X_test.head(5)), 2))
