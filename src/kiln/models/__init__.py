"""kiln.models: the MLmodel format, signatures and flavors, compatible with MLflow.

A model is a folder with an ``MLmodel`` file (``kiln.models.mlmodel``), the
framework's files, ``requirements.txt`` / ``python_env.yaml`` / ``conda.yaml``
(``kiln.models.environment``) and optionally an input example
(``kiln.models.example``). Folders written by MLflow load in Kiln without
importing ``mlflow``, and folders written by Kiln load in MLflow.

=====================  ============================  ==================================
module                 loader_module it writes       files
=====================  ============================  ==================================
kiln.models.pyfunc     mlflow.pyfunc.model           python_model.pkl (cloudpickle)
kiln.models.sklearn    mlflow.sklearn                model.pkl or model.skops
kiln.models.xgboost    mlflow.xgboost                model.ubj (or json)
kiln.models.lightgbm   mlflow.lightgbm               model.lgb or model.pkl
kiln.models.onnx       mlflow.onnx                   model.onnx (onnxruntime)
=====================  ============================  ==================================

``kiln.models.pyfunc.load_model(uri)`` loads any of them as a ``PyFuncModel``
(``kiln.models.loaders.PYFUNC_LOADERS`` maps MLflow's loader names to Kiln's);
``kiln.models.resolve`` turns ``runs:/``, ``models:/``, ``s3://``, ``file://``
and plain paths into a local folder.

Adding a flavor: a module with ``save_model``, ``log_model``, ``load_model`` and
``load_predictor(folder, metadata)``; import the framework inside functions
through ``kiln.models.loaders.require(module, extra)``; add its
``mlflow.<flavor>`` name to ``PYFUNC_LOADERS`` and its extra to pyproject.toml.
"""
