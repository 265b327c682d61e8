"""Real environments: uv (or venv + pip) from PyPI, Kiln linked in, cached, rebuilt from a lock.

The dependencies are tiny (``six``, ``packaging``) and pinned, so the locks are
predictable. Each cold build takes seconds; tests that only need *an* env share
one module-scoped build.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Mapping
from pathlib import Path

import pytest

from kiln.errors import EnvironmentBuildFailed
from kiln.projects.envcache import MARKER_FILE
from kiln.projects.envs import (
    PreparedEnv,
    environment_lock,
    parse_lock,
    prepare_environment,
    prepare_from_lock,
)
from kiln.projects.spec import EnvSpec

pytestmark = [pytest.mark.integration, pytest.mark.slow]

SCRIPT = """\
import json, sys
import kiln, six
with kiln.start_run() as run:
    kiln.log_param("p", "1")
    kiln.log_metric("m", 0.5)
print(json.dumps({"run_id": run.info.run_id, "six": six.__version__, "kiln": kiln.__file__,
                  "prefix": sys.prefix}))
"""


def _project(folder: Path, files: Mapping[str, str]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (folder / name).write_text(text, encoding="utf-8")
    return folder


def _python_env_project(folder: Path, six: str = "1.16.0") -> EnvSpec:
    _project(
        folder,
        {
            "python_env.yaml": 'python: "3.11"\ndependencies:\n  - -r requirements.txt\n',
            "requirements.txt": f"six=={six}\n",
        },
    )
    return EnvSpec("python_env", path=folder / "python_env.yaml")


def _run_script(env: PreparedEnv, home: Path) -> dict[str, str]:
    done = subprocess.run(
        [str(env.python), "-c", SCRIPT],
        env={**os.environ, "KILN_HOME": str(home)},
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, str] = json.loads(done.stdout)
    return result


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[PreparedEnv, Path, list[str]]:
    root = tmp_path_factory.mktemp("envs")
    messages: list[str] = []
    spec = _python_env_project(root / "project")
    env = prepare_environment(spec, "uv", cache_root=root / "cache", progress=messages.append)
    return env, root, messages


def test_a_built_env_has_the_dependency_and_kiln(
    built: tuple[PreparedEnv, Path, list[str]], tmp_path: Path
) -> None:
    env, root, messages = built
    assert env.manager == "uv"
    assert not env.cache_hit
    assert env.env_hash is not None
    assert env.bin_dir == env.python.parent
    assert env.python.is_relative_to(root / "cache")
    assert messages[0] == f"building environment {env.env_hash[:8]}… with uv"
    seen = _run_script(env, tmp_path / "home")
    assert seen["six"] == "1.16.0"
    assert Path(seen["prefix"]) == env.python.parent.parent
    assert Path(seen["kiln"]).is_relative_to(Path(__file__).resolve().parents[2] / "src")
    assert (tmp_path / "home" / "kiln.db").is_file()  # the run was tracked from inside the env


def test_a_second_prepare_is_a_cache_hit_that_reports_saved_time(
    built: tuple[PreparedEnv, Path, list[str]],
) -> None:
    env, root, _ = built
    messages: list[str] = []
    again = prepare_environment(
        _python_env_project(root / "copy"),  # same content elsewhere: same environment
        "uv",
        cache_root=root / "cache",
        progress=messages.append,
    )
    assert again.cache_hit
    assert again.python == env.python
    assert again.env_hash == env.env_hash
    assert again.saved_seconds is not None
    assert again.saved_seconds > again.build_seconds
    short = (again.env_hash or "")[:8]
    assert messages == [f"reused environment {short}… (saved {again.saved_seconds:.1f} s)"]


def test_the_lock_lists_the_env_and_rebuilds_it_exactly(
    built: tuple[PreparedEnv, Path, list[str]], tmp_path: Path
) -> None:
    env, _, _ = built
    lock = environment_lock(env)
    python, pins = parse_lock(lock)
    names = dict(pins)
    assert names["six"] == "1.16.0"
    assert names["kiln-mlops"]
    assert {"sqlalchemy", "alembic", "pyyaml", "httpx"} <= set(names)
    assert "pandas" not in names  # Kiln's heavy dependencies stay out
    messages: list[str] = []
    rebuilt = prepare_from_lock(lock, cache_root=tmp_path / "cache", progress=messages.append)
    assert not rebuilt.cache_hit
    assert rebuilt.python != env.python
    assert environment_lock(rebuilt) == lock
    assert _run_script(rebuilt, tmp_path / "home")["six"] == "1.16.0"
    again = prepare_from_lock(lock, cache_root=tmp_path / "cache")
    assert again.cache_hit
    assert again.python == rebuilt.python
    assert python == lock.splitlines()[0].removeprefix("# python ")


def test_a_half_built_env_is_rebuilt(tmp_path: Path) -> None:
    spec = EnvSpec("none")
    first = prepare_environment(spec, "uv", cache_root=tmp_path)
    folder = first.python.parent.parent
    (folder / MARKER_FILE).unlink()  # as if the build had been interrupted before the end
    (folder / "lib").rename(folder / "lib-gone")
    messages: list[str] = []
    second = prepare_environment(spec, "uv", cache_root=tmp_path, progress=messages.append)
    assert not second.cache_hit
    assert second.python == first.python
    assert messages[0] == f"removing unfinished environment {first.env_hash[:8]}…"  # type: ignore[index]
    assert not (folder / "lib-gone").exists()
    done = subprocess.run(
        [str(second.python), "-c", "import kiln, sqlalchemy"], capture_output=True, check=False
    )
    assert done.returncode == 0, done.stderr


def test_virtualenv_without_uv_uses_venv_and_pip(tmp_path: Path) -> None:
    spec = _python_env_project(tmp_path / "project", six="1.15.0")
    messages: list[str] = []
    env = prepare_environment(
        spec, "virtualenv", cache_root=tmp_path / "cache", progress=messages.append,
        search_path="/usr/bin:/bin",
    )  # fmt: skip
    assert env.manager == "virtualenv"
    assert messages[0].endswith("with pip")
    record = json.loads((env.python.parent.parent / MARKER_FILE).read_text(encoding="utf-8"))
    assert record["tool"] == "pip"
    names = dict(parse_lock(environment_lock(env))[1])
    assert names["six"] == "1.15.0"
    assert "pip" in names  # venv's own pip is part of the environment
    assert _run_script(env, tmp_path / "home")["six"] == "1.15.0"


def test_conda_yaml_with_only_python_and_pip_is_built_with_uv(tmp_path: Path) -> None:
    _project(
        tmp_path,
        {"conda.yaml": "dependencies: [python=3.11, pip, {pip: [packaging==24.0]}]\n"},
    )
    messages: list[str] = []
    env = prepare_environment(
        EnvSpec("conda", path=tmp_path / "conda.yaml"), "conda",
        cache_root=tmp_path / "cache", progress=messages.append,
    )  # fmt: skip
    assert env.manager == "conda"
    assert messages[0].startswith("conda is not installed: building environment")
    assert dict(parse_lock(environment_lock(env))[1])["packaging"] == "24.0"


def test_an_unknown_package_fails_with_the_tools_message(tmp_path: Path) -> None:
    _project(tmp_path, {"python_env.yaml": "dependencies:\n  - kiln-no-such-package-xyz==1.0\n"})
    with pytest.raises(EnvironmentBuildFailed, match="kiln-no-such-package-xyz"):
        prepare_environment(
            EnvSpec("python_env", path=tmp_path / "python_env.yaml"),
            "uv",
            cache_root=tmp_path / "c",
        )
    assert [p.name for p in (tmp_path / "c").iterdir() if not p.name.endswith(".lock")] == []
