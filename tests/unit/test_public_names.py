"""Kiln's public names pinned against MLflow's classic tracking and model API (mlflow 3.17.2).

For each module pair (``mlflow`` -> ``kiln``, ``mlflow.tracking`` -> ``kiln.tracking``, ...)
MLflow's public names are computed from the installed mlflow: its ``__all__``, else the
names its module defines (functions and classes whose ``__module__`` is that module or
below it, and its top-level assignments; imports of other modules' names are not
counted). Every such name must exist in Kiln, or be in ``LEFT_OUT`` with a reason; a
``LEFT_OUT`` name must not exist in Kiln (so the table stays honest), and README.md's
section "MLflow names Kiln leaves out" must be exactly ``render_section()``.
``MlflowClient``'s public methods are pinned the same way.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import types
from pathlib import Path

import mlflow
import pytest

import kiln

MODULES = {
    "mlflow": "kiln",
    "mlflow.tracking": "kiln.tracking",
    "mlflow.entities": "kiln.entities",
    "mlflow.exceptions": "kiln.exceptions",
    "mlflow.models": "kiln.models",
    "mlflow.pyfunc": "kiln.pyfunc",
    "mlflow.sklearn": "kiln.sklearn",
    "mlflow.xgboost": "kiln.xgboost",
    "mlflow.lightgbm": "kiln.lightgbm",
    "mlflow.pytorch": "kiln.pytorch",
    "mlflow.keras": "kiln.keras",
    "mlflow.onnx": "kiln.onnx",
    "mlflow.h2o": "kiln.h2o",
    "mlflow.artifacts": "kiln.artifacts",
    "mlflow.data": "kiln.data",
    "mlflow.config": "kiln.config",
    "mlflow.projects": "kiln.projects",
}
README = Path(__file__).resolve().parents[2] / "README.md"
SECTION_TITLE = "## MLflow names Kiln leaves out"

REASONS = {
    "tracing": "GenAI tracing (traces, spans, sessions, assessments, feedback, expectations, "
    "issues) and its pytest plugin: Kiln tracks classic training runs and models and has no "
    "trace store.",
    "prompts": "The prompt registry: Kiln's registry holds models only.",
    "genai": "GenAI evaluation datasets, scorers and agent/chat model classes "
    "(`mlflow.genai`); Kiln's `evaluate` covers classic regressors and classifiers.",
    "gateway": "The AI gateway and MCP servers (LLM endpoints, budgets, guardrails, routing): "
    "not part of Kiln.",
    "webhooks": "Registry webhooks: Kiln's registry calls no HTTP endpoints on events.",
    "databricks": "Databricks- and Spark-only features (Unity Catalog, `login`, Spark UDFs and "
    "datasets, Delta tables, checkpoints in UC Volumes, DB Connect).",
    "doctor": "`mlflow.doctor` prints MLflow's own install diagnostics; `kiln --version` says "
    "which Kiln runs.",
    "entities": "Kiln keeps these as plain values: experiment, logged-model tags and params are "
    "dicts (`Experiment.tags`, `LoggedModel.tags`), the source type is the "
    "`mlflow.source.type` tag.",
    "environment": "Not in Kiln yet: model-environment tooling (building a saved model's "
    "environment, inferring or changing its requirements); Kiln pins each flavor's "
    "requirements when it saves a model (`get_default_pip_requirements` says which).",
    "models": "Not in Kiln yet: MLflow's `Model` class (Kiln's is `kiln.models.mlmodel."
    "ModelMetadata`), models-from-code, custom evaluation metrics and evaluator plugins, "
    "serving-input helpers, Docker image builds, `predict` in a fresh environment.",
    "run_outputs": "Not in Kiln yet: a Python `Run` carries no `outputs` or model inputs "
    "(`Run.outputs`, `RunInputs.model_inputs`); the REST API serves them, and each logged "
    "model names its `source_run_id` (`kiln.search_logged_models`).",
    "data": "Not in Kiln yet: datasets from TensorFlow and Hugging Face, and "
    "`get_source` (Kiln's datasets carry their source as JSON).",
}

LEFT_OUT: dict[str, str] = {
    **dict.fromkeys(
        (
            *(f"mlflow.{n}" for n in ("add_trace", "context", "delete_assessment")),
            *(f"mlflow.{n}" for n in ("delete_trace_tag", "flush_trace_async_logging")),
            *(f"mlflow.{n}" for n in ("get_active_trace_id", "get_assessment", "get_trace")),
            *(f"mlflow.{n}" for n in ("get_current_active_span", "get_last_active_trace_id")),
            *(f"mlflow.{n}" for n in ("log_assessment", "log_expectation", "log_feedback")),
            *(f"mlflow.{n}" for n in ("log_issue", "log_trace", "override_feedback")),
            *(f"mlflow.{n}" for n in ("search_sessions", "search_traces", "set_trace_tag")),
            *(f"mlflow.{n}" for n in ("start_span", "start_span_no_context", "test", "trace")),
            *(f"mlflow.{n}" for n in ("update_assessment", "update_current_trace")),
            *(
                f"mlflow.entities.{n}"
                for n in (
                    *("Assessment", "AssessmentError", "AssessmentSource"),
                    *("AssessmentSourceType", "Document", "Expectation", "Feedback", "Issue"),
                    *("IssueReference", "IssueSeverity", "IssueStatus", "Link", "LiveSpan"),
                    *("NoOpSpan", "Session", "Span", "SpanEvent", "SpanLogLevel", "SpanStatus"),
                    *("SpanStatusCode", "SpanType", "Trace", "TraceArchivalConfig", "TraceData"),
                    *("TraceInfo", "TraceLocation", "TraceLocationType", "TraceState"),
                    *("MlflowExperimentLocation", "InferenceTableLocation"),
                )
            ),
            *(
                f"mlflow.exceptions.{n}"
                for n in (
                    *("MlflowTracingException", "MlflowTraceDataException"),
                    *("MlflowTraceDataCorrupted", "MlflowTraceDataNotFound"),
                    "MlflowTraceArchivalMalformedTrace",
                )
            ),
        ),
        "tracing",
    ),
    **dict.fromkeys(
        (
            *(f"mlflow.{n}" for n in ("load_prompt", "register_prompt", "search_prompts")),
            *(f"mlflow.{n}" for n in ("set_prompt_alias", "delete_prompt_alias")),
            "mlflow.entities.Prompt",
        ),
        "prompts",
    ),
    **dict.fromkeys(
        (
            *(f"mlflow.entities.{n}" for n in ("DatasetRecord", "DatasetRecordSource")),
            *(f"mlflow.entities.{n}" for n in ("DatasetRecordSourceType", "ScorerVersion")),
            "mlflow.entities.EntityAssociationType",
            *(f"mlflow.pyfunc.{n}" for n in ("ChatAgent", "ChatModel", "ResponsesAgent")),
            *(f"mlflow.pyfunc.{n}" for n in ("TASK", "Context", "set_prediction_context")),
            "mlflow.pyfunc.update_signature_for_type_hint_from_example",
            *(f"mlflow.models.{n}" for n in ("Resource", "ResourceType")),
            "mlflow.models.set_retriever_schema",
        ),
        "genai",
    ),
    **dict.fromkeys(
        (
            "mlflow.gateway",
            *(
                f"mlflow.entities.{n}"
                for n in (
                    *("BudgetAction", "BudgetDuration", "BudgetDurationUnit"),
                    *("BudgetTargetScope", "BudgetUnit", "ConnectOptionSettings"),
                    *("FallbackConfig", "FallbackStrategy", "GatewayBudgetPolicy"),
                    *("GatewayEndpoint", "GatewayEndpointBinding", "GatewayEndpointModelConfig"),
                    *("GatewayEndpointModelMapping", "GatewayEndpointTag", "GatewayGuardrail"),
                    *("GatewayGuardrailConfig", "GatewayModelDefinition"),
                    *("GatewayModelLinkageType", "GatewayResourceType", "GatewaySecretInfo"),
                    *("GuardrailAction", "GuardrailStage", "RoutingStrategy"),
                    *("MCPAccessEndpoint", "MCPRemoteTransportType", "MCPServer"),
                    *("MCPServerVersion", "MCPStatus", "MCPTool"),
                )
            ),
        ),
        "gateway",
    ),
    **dict.fromkeys(
        (
            *(f"mlflow.entities.{n}" for n in ("Webhook", "WebhookEvent", "WebhookStatus")),
            "mlflow.entities.WebhookTestResult",
        ),
        "webhooks",
    ),
    **dict.fromkeys(
        (
            *(f"mlflow.{n}" for n in ("login", "import_checkpoints")),
            *(f"mlflow.entities.{n}" for n in ("UCSchemaLocation", "UnityCatalog")),
            *(f"mlflow.pyfunc.{n}" for n in ("spark_udf", "DBConnectArtifactCache")),
            *(f"mlflow.data.{n}" for n in ("from_spark", "load_delta")),
            "mlflow.models.add_libraries_to_model",
        ),
        "databricks",
    ),
    "mlflow.doctor": "doctor",
    **dict.fromkeys(
        (
            *(f"mlflow.entities.{n}" for n in ("ExperimentTag", "LoggedModelParameter")),
            *(f"mlflow.entities.{n}" for n in ("LoggedModelTag", "SourceType")),
        ),
        "entities",
    ),
    **dict.fromkeys(
        (
            *(f"mlflow.pyfunc.{n}" for n in ("EnvType", "build_model_env")),
            *(f"mlflow.pyfunc.{n}" for n in ("get_model_dependencies", "archive_directory")),
            "mlflow.pyfunc.extract_archive_to_dir",
            *(
                f"mlflow.models.{n}"
                for n in ("infer_pip_requirements", "update_model_requirements")
            ),
        ),
        "environment",
    ),
    **dict.fromkeys(
        (
            *(f"mlflow.models.{n}" for n in ("Model", "ModelConfig", "ModelInputExample")),
            *(f"mlflow.models.{n}" for n in ("EvaluationMetric", "make_metric", "FlavorBackend")),
            *(f"mlflow.models.{n}" for n in ("list_evaluators", "build_docker", "predict")),
            "mlflow.models.set_model",
            "mlflow.models.validate_serving_input",
            "mlflow.models.convert_input_example_to_serving_input",
            "mlflow.pyfunc.add_to_model",
        ),
        "models",
    ),
    **dict.fromkeys(
        (f"mlflow.data.{n}" for n in ("from_huggingface", "from_tensorflow", "get_source")),
        "data",
    ),
    **dict.fromkeys(
        (f"mlflow.entities.{n}" for n in ("LoggedModelInput", "RunOutputs")), "run_outputs"
    ),
}

CLIENT_REASONS = {
    **{
        n: "tracing"
        for n in (
            *("delete_trace_tag", "delete_traces", "end_span", "end_trace", "get_trace"),
            *("link_traces_to_run", "search_traces", "set_trace_tag", "start_span"),
            *("start_trace", "unlink_traces_from_run", "link_prompt_versions_to_trace"),
        )
    },
    **{
        n: "prompts"
        for n in (
            *("create_prompt", "create_prompt_version", "delete_prompt", "delete_prompt_alias"),
            *("delete_prompt_tag", "delete_prompt_version", "delete_prompt_version_tag"),
            *("detach_prompt_from_run", "get_prompt", "get_prompt_version", "load_prompt"),
            *("get_prompt_version_by_alias", "link_prompt_version_to_model", "register_prompt"),
            *("link_prompt_version_to_run", "list_logged_prompts", "parse_prompt_uri"),
            *("search_prompt_versions", "search_prompts", "set_prompt_alias", "set_prompt_tag"),
            "set_prompt_version_tag",
        )
    },
    **{
        n: "genai"
        for n in (
            *("add_dataset_to_experiments", "create_dataset", "delete_dataset"),
            *("delete_dataset_tag", "get_dataset", "remove_dataset_from_experiments"),
            *("search_datasets", "set_dataset_tags"),
        )
    },
    **{
        n: "gateway"
        for n in (
            *("create_mcp_access_endpoint", "create_mcp_server", "create_mcp_server_version"),
            *("delete_mcp_access_endpoint", "delete_mcp_server", "delete_mcp_server_alias"),
            *("delete_mcp_server_tag", "delete_mcp_server_version"),
            *("delete_mcp_server_version_tag", "get_latest_mcp_server_version"),
            *("get_mcp_access_endpoint", "get_mcp_server", "get_mcp_server_version"),
            *("get_mcp_server_version_by_alias", "refresh_mcp_server_version_tools"),
            *("search_mcp_access_endpoints", "search_mcp_server_versions"),
            *("search_mcp_servers", "set_mcp_server_alias", "set_mcp_server_tag"),
            *("set_mcp_server_version_tag", "update_mcp_access_endpoint"),
            *("update_mcp_server", "update_mcp_server_version"),
        )
    },
    **{
        n: "webhooks"
        for n in (
            *("create_webhook", "delete_webhook", "get_webhook", "list_webhooks"),
            *("test_webhook", "update_webhook"),
        )
    },
}
LEFT_OUT.update({f"mlflow.MlflowClient.{n}": reason for n, reason in CLIENT_REASONS.items()})


def _defined_names(module: types.ModuleType) -> set[str]:
    """The public names ``module`` itself defines (see the module docstring)."""
    names: set[str] = set()
    source = Path(inspect.getfile(module)).read_text(encoding="utf-8")
    for node in ast.parse(source).body:
        targets = node.targets if isinstance(node, ast.Assign) else []
        if isinstance(node, ast.AnnAssign):
            targets = [node.target]
        names.update(t.id for t in targets if isinstance(t, ast.Name))
    for name in dir(module):
        value = getattr(module, name)
        owner = getattr(value, "__module__", None) or ""
        if not isinstance(value, types.ModuleType) and (
            owner == module.__name__ or owner.startswith(module.__name__ + ".")
        ):
            names.add(name)
    return {n for n in names if not n.startswith("_")}


def mlflow_names(module_name: str) -> set[str]:
    """MLflow's public names of ``module_name``: its ``__all__``, else what it defines."""
    module = importlib.import_module(module_name)
    listed = getattr(module, "__all__", None)
    names = set(listed) if listed is not None else _defined_names(module)
    return {n for n in names if not n.startswith("_")}


def _client_methods() -> set[str]:
    return {n for n in dir(mlflow.MlflowClient) if not n.startswith("_")}


def _present(qualified: str) -> bool:
    """Whether Kiln has ``qualified`` (an MLflow path) at the matching Kiln path."""
    if qualified.startswith("mlflow.MlflowClient."):
        return hasattr(kiln.MlflowClient, qualified.rsplit(".", 1)[1])
    module, _, name = qualified.rpartition(".")
    return hasattr(importlib.import_module(MODULES[module]), name)


def _required(module: str) -> set[str]:
    return {f"{module}.{n}" for n in mlflow_names(module)} - set(LEFT_OUT)


@pytest.mark.parametrize("module", MODULES)
def test_every_mlflow_name_is_in_kiln_or_left_out(module: str) -> None:
    required = _required(module)
    assert sorted(n for n in required if not _present(n)) == []


def test_every_mlflow_client_method_is_in_kiln_or_left_out() -> None:
    required = {f"mlflow.MlflowClient.{n}" for n in _client_methods()}
    required -= set(LEFT_OUT)
    assert sorted(n for n in required if not _present(n)) == []


def test_left_out_names_are_mlflows_and_not_in_kiln() -> None:
    """The table names only real MLflow names, and none that Kiln has (else drop it)."""
    known = {f"{m}.{n}" for m in MODULES for n in mlflow_names(m)}
    known |= {f"mlflow.MlflowClient.{n}" for n in _client_methods()}
    assert sorted(set(LEFT_OUT) - known) == []
    assert sorted(n for n in LEFT_OUT if _present(n)) == []
    assert set(LEFT_OUT.values()) <= set(REASONS)


def test_kiln_all_lists_mlflows_top_level_names() -> None:
    """``from kiln import *`` gives what ``from mlflow import *`` gives, less LEFT_OUT."""
    wanted = {n.split(".", 1)[1] for n in _required("mlflow")}
    assert sorted(wanted - set(kiln.__all__)) == []
    assert "autolog" in kiln.__all__


def test_exception_tables_are_mlflows() -> None:
    from mlflow import exceptions as theirs

    from kiln import exceptions as ours

    assert ours.HTTP_STATUS_TO_ERROR_CODE == theirs.HTTP_STATUS_TO_ERROR_CODE
    for status in (400, 401, 403, 404, 409, 418, 429, 500, 503):
        assert ours.get_error_code(status) == theirs.get_error_code(status)


def render_section() -> str:
    """README.md's section, written from ``LEFT_OUT`` (paste it when the table changes)."""
    lines = [
        SECTION_TITLE,
        "",
        "`import kiln as mlflow` covers MLflow's classic tracking and model API; "
        "`tests/unit/test_public_names.py` pins every public name of `mlflow`, "
        "`mlflow.tracking`, `mlflow.entities`, `mlflow.exceptions`, `mlflow.models`, "
        "`mlflow.pyfunc`, the flavors, `mlflow.artifacts`, `mlflow.data`, `mlflow.config`, "
        "`mlflow.projects` and `MlflowClient` against mlflow 3.17.2. These are the ones Kiln "
        "leaves out, and why:",
        "",
    ]
    for key, reason in REASONS.items():
        by_module: dict[str, list[str]] = {}
        for qualified in sorted(n for n, r in LEFT_OUT.items() if r == key):
            module, _, name = qualified.rpartition(".")
            by_module.setdefault(module.replace("mlflow.MlflowClient", "MlflowClient"), []).append(
                name
            )
        order = sorted(by_module, key=lambda m: (m != "mlflow", m == "MlflowClient", m))
        listed = "; ".join(f"`{m}`: {', '.join(by_module[m])}" for m in order)
        lines.append(f"- {reason} {listed}.")
    return "\n".join(lines) + "\n"


def test_readme_lists_every_left_out_name() -> None:
    text = README.read_text(encoding="utf-8")
    start = text.index(SECTION_TITLE)
    end = text.find("\n## ", start + 1)
    assert text[start : end if end != -1 else None] == render_section()
