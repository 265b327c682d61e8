"""Log to whatever MLFLOW_TRACKING_URI names (start ``kiln server`` and point it there):
params, a metric series, tags and artifacts, then read the run back from the server."""

import os
import random
import sys
import tempfile

import kiln as mlflow
from kiln import (
    MlflowClient,
    active_run,
    get_artifact_uri,
    get_tracking_uri,
    log_artifact,
    log_artifacts,
    log_metric,
    log_param,
)

if __name__ == "__main__":
    print(f"Running {sys.argv[0]} with tracking URI {get_tracking_uri()}")
    with mlflow.start_run(run_name="remote-demo"):
        log_param("param1", 5)
        for value in (5, 6, 7):
            log_metric("foo", value)
        log_metric("random_int", random.randint(0, 100))
        mlflow.set_tag("stage", "demo")

        run_id = active_run().info.run_id
        run = MlflowClient().get_run(run_id)
        print(f"params of {run_id}: {run.data.params}")

        local_dir = tempfile.mkdtemp()
        message = f"written during run {run_id} into artifact URI {get_artifact_uri()}\n"
        file_path = os.path.join(local_dir, "some_output_file.txt")
        with open(file_path, "w") as handle:
            handle.write(message)
        log_artifacts(local_dir, "some_subdir")
        log_artifact(file_path, "another_dir")

    history = MlflowClient().get_metric_history(run_id, "foo")
    print("foo:", [m.value for m in history])
