"""The environment files of a model folder, as MLflow writes them.

``requirements.txt`` pins the packages a flavor needs at the versions installed
now; ``python_env.yaml`` names the Python version and refers to it;
``conda.yaml`` says the same for conda. Kiln never lists itself: MLflow's
loaders would try to install ``kiln-mlops`` into the model's environment, and a
Kiln-written model only needs its framework packages to load in MLflow.
"""

from __future__ import annotations

import platform
from collections.abc import Iterable, Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

import yaml

PYTHON_ENV_FILE = "python_env.yaml"
REQUIREMENTS_FILE = "requirements.txt"
CONDA_ENV_FILE = "conda.yaml"

# The "env" entry of the python_function flavor.
ENV_CONF = {"conda": CONDA_ENV_FILE, "virtualenv": PYTHON_ENV_FILE}


def pinned(packages: Iterable[str]) -> list[str]:
    """``name==version`` for each installed package; names not installed are kept bare."""
    out: list[str] = []
    for name in packages:
        try:
            out.append(f"{name}=={metadata.version(name)}")
        except metadata.PackageNotFoundError:
            out.append(name)
    return out


def _build_pins() -> list[str]:
    pins = []
    for name in ("pip", "setuptools"):
        try:
            pins.append(f"{name}=={metadata.version(name)}")
        except metadata.PackageNotFoundError:
            pins.append(name)
    return [*pins, "wheel"]


def conda_env(requirements: Sequence[str]) -> dict[str, Any]:
    """The ``conda.yaml`` content for pip ``requirements`` (MLflow's layout)."""
    pip_pin = next((p for p in _build_pins() if p.startswith("pip==")), "pip")
    return {
        "channels": ["conda-forge"],
        "dependencies": [
            f"python={platform.python_version()}",
            pip_pin.replace("==", "<="),
            {"pip": list(requirements)},
        ],
        "name": "mlflow-env",
    }


def default_requirements(packages: Iterable[str]) -> list[str]:
    """A flavor's ``get_default_pip_requirements()``: what Kiln writes to
    ``requirements.txt`` for it, each package pinned to the installed version."""
    return pinned(packages)


def default_conda_env(packages: Iterable[str]) -> dict[str, Any]:
    """A flavor's ``get_default_conda_env()``: the ``conda.yaml`` Kiln writes for it."""
    return conda_env(pinned(packages))


def write_environment(
    folder: str | Path,
    packages: Sequence[str],
    pip_requirements: Sequence[str] | None = None,
) -> None:
    """Write ``requirements.txt``, ``python_env.yaml`` and ``conda.yaml`` into ``folder``.

    Args:
        packages: distribution names the flavor needs; pinned to installed versions.
        pip_requirements: when given, used verbatim instead of ``packages``.
    """
    target = Path(folder)
    requirements = list(pip_requirements) if pip_requirements is not None else pinned(packages)
    (target / REQUIREMENTS_FILE).write_text("\n".join(requirements), encoding="utf-8")
    python = platform.python_version()
    python_env = {
        "python": python,
        "build_dependencies": _build_pins(),
        "dependencies": [f"-r {REQUIREMENTS_FILE}"],
    }
    (target / PYTHON_ENV_FILE).write_text(
        yaml.safe_dump(python_env, default_flow_style=False, sort_keys=False), encoding="utf-8"
    )
    conda = conda_env(requirements)
    (target / CONDA_ENV_FILE).write_text(
        yaml.safe_dump(conda, default_flow_style=False, sort_keys=False), encoding="utf-8"
    )


__all__ = [
    "CONDA_ENV_FILE",
    "ENV_CONF",
    "PYTHON_ENV_FILE",
    "REQUIREMENTS_FILE",
    "conda_env",
    "default_conda_env",
    "default_requirements",
    "pinned",
    "write_environment",
]
