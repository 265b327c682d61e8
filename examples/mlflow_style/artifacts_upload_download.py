"""Upload files, folders, text and dictionaries as run artifacts, list them, and download
and read them back."""

import json
import tempfile
from pathlib import Path

import kiln as mlflow
from kiln import MlflowClient

if __name__ == "__main__":
    with tempfile.TemporaryDirectory() as workdir:
        features = Path(workdir, "features.txt")
        features.write_text("sepal length\nsepal width\npetal length\npetal width\n")
        reports = Path(workdir, "reports")
        (reports / "daily").mkdir(parents=True)
        (reports / "summary.json").write_text(json.dumps({"rows": 150, "columns": 4}))
        (reports / "daily" / "monday.csv").write_text("day,count\nmonday,12\n")

        with mlflow.start_run() as run:
            mlflow.log_artifact(str(features))
            mlflow.log_artifact(str(features), artifact_path="inputs")
            mlflow.log_artifacts(str(reports), artifact_path="reports")
            mlflow.log_text("trained on the iris data\n", "notes/README.txt")
            mlflow.log_dict({"learning_rate": 0.1, "layers": [16, 8]}, "config/model.json")
            print(f"artifact URI: {mlflow.get_artifact_uri()}")

    run_id = run.info.run_id
    client = MlflowClient()
    print("top level:", sorted(f.path for f in client.list_artifacts(run_id)))
    print("reports:", sorted(f.path for f in client.list_artifacts(run_id, "reports")))

    with tempfile.TemporaryDirectory() as target:
        local = mlflow.artifacts.download_artifacts(
            run_id=run_id, artifact_path="reports", dst_path=target
        )
        summary = json.loads(Path(local, "summary.json").read_text())
        assert summary == {"rows": 150, "columns": 4}, summary
        files = sorted(p.relative_to(local).as_posix() for p in Path(local).rglob("*"))
        print("downloaded:", files)

    config = mlflow.artifacts.load_dict(f"runs:/{run_id}/config/model.json")
    notes = mlflow.artifacts.load_text(f"runs:/{run_id}/notes/README.txt")
    assert config["layers"] == [16, 8], config
    assert notes.startswith("trained"), notes
    print("read back:", config, notes.strip())
