"""Environment specs, hashing, locks and the cache's bookkeeping (no uv, no network)."""

from __future__ import annotations

import os
import shlex
import sys
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from kiln.errors import EnvironmentUnavailable, InvalidInput, NotFound
from kiln.projects.envbuild import (
    KILN_CLIENT_DEPENDENCIES,
    Toolchain,
    find_interpreter,
    kiln_install,
    names_kiln,
)
from kiln.projects.envcache import MARKER_FILE, cache_folder, ensure, lookup
from kiln.projects.envfiles import (
    parse_python_request,
    read_conda_env,
    read_python_env,
    referenced_files,
    requirements_text,
)
from kiln.projects.envs import (
    PreparedEnv,
    default_cache_root,
    docker_command,
    environment_lock,
    parse_lock,
    prepare_environment,
    spec_hash,
)
from kiln.projects.spec import EnvSpec


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


PYTHON_ENV = """\
python: "3.10"
build_dependencies:
  - pip
dependencies:
  - -r requirements.txt
  - six==1.16.0
"""


def test_python_env_keeps_the_version_as_text_and_the_lines_as_written(tmp_path: Path) -> None:
    spec = write(tmp_path / "python_env.yaml", PYTHON_ENV)
    read = read_python_env(spec)
    assert read.python is not None
    assert read.python.text == "3.10"  # not the float 3.1
    assert read.python.minor() == (3, 10)
    assert read.build_dependencies == ("pip",)
    assert read.dependencies == ("-r requirements.txt", "six==1.16.0")
    assert read.folder == tmp_path


def test_python_env_without_python_or_dependencies(tmp_path: Path) -> None:
    read = read_python_env(write(tmp_path / "python_env.yaml", "dependencies: []\n"))
    assert read.python is None
    assert read.dependencies == ()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("- a list\n", "must be a YAML mapping"),
        ("dependencies: six\n", "dependencies must be a list"),
        ("python: [3, 11]\n", "python must be a version"),
        ("python: three\n", "cannot read the Python version 'three'"),
        ("python: 3.11\ndependencies: [a\n", "not valid YAML"),
    ],
)
def test_bad_python_env_is_refused(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        read_python_env(write(tmp_path / "python_env.yaml", text))


def test_missing_environment_file(tmp_path: Path) -> None:
    with pytest.raises(NotFound, match="does not exist"):
        read_python_env(tmp_path / "python_env.yaml")


CONDA = """\
name: demo
channels: [conda-forge]
dependencies:
  - python=3.11.4=h955ad1f_0
  - pip<=24.0
  - pip:
      - six==1.16.0
      - -r requirements.txt
"""


def test_conda_installs_only_the_pip_list(tmp_path: Path) -> None:
    read = read_conda_env(write(tmp_path / "conda.yaml", CONDA))
    assert read.dependencies == ("six==1.16.0", "-r requirements.txt")
    assert read.build_dependencies == ()
    assert read.python is not None
    assert read.python.minor() == (3, 11)
    assert read.python.patch_differs("3.11.7")
    assert not read.python.patch_differs("3.11.4")


def test_conda_only_packages_are_refused_by_name(tmp_path: Path) -> None:
    text = "dependencies:\n  - python=3.11\n  - numpy=1.26\n  - conda-forge::cudatoolkit\n"
    text += "  - pip\n  - python-dateutil\n  - pip: [six]\n"
    with pytest.raises(
        EnvironmentUnavailable,
        match=r"only conda installs: numpy=1\.26, conda-forge::cudatoolkit, python-dateutil\..*"
        r"--env-manager uv",
    ):
        read_conda_env(write(tmp_path / "conda.yaml", text))


def test_conda_with_an_unknown_mapping_is_invalid(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match=r"may only hold a pip list, got \['npm'\]"):
        read_conda_env(write(tmp_path / "conda.yaml", "dependencies:\n  - npm: [x]\n"))


@pytest.mark.parametrize(
    ("text", "allowed", "refused"),
    [
        ("3.11", (3, 11, 7), (3, 12, 0)),
        ("3.11.2", (3, 11, 7), (3, 10, 2)),  # the patch is a preference
        ("=3.11", (3, 11, 0), (3, 1, 0)),
        ("==3.11.*", (3, 11, 9), (3, 12, 0)),
        (">=3.9,<3.12", (3, 11, 7), (3, 12, 1)),
        ("!=3.10", (3, 11, 0), (3, 10, 4)),
        ("> 3.11.2", (3, 11, 3), (3, 11, 2)),
    ],
)
def test_python_requests(
    text: str, allowed: tuple[int, int, int], refused: tuple[int, int, int]
) -> None:
    request = parse_python_request(text)
    assert request.allows(allowed)
    assert not request.allows(refused)


def test_a_range_is_not_a_pin() -> None:
    assert parse_python_request(">=3.9").minor() is None
    assert parse_python_request("3.12.1").minor() == (3, 12)


def test_references_are_resolved_against_the_file_that_names_them(tmp_path: Path) -> None:
    write(tmp_path / "requirements.txt", "six\n-r more/extra.txt\n")
    write(tmp_path / "more" / "extra.txt", "-c pins.txt\n-r ../requirements.txt\n")
    write(tmp_path / "more" / "pins.txt", "six==1.16.0\n")
    lines = ["--requirement=requirements.txt", "packaging"]
    assert referenced_files(lines, tmp_path) == [
        tmp_path / "requirements.txt",
        tmp_path / "more" / "extra.txt",
        tmp_path / "more" / "pins.txt",
    ]
    assert requirements_text(lines, tmp_path) == f"-r {tmp_path / 'requirements.txt'}\npackaging\n"


def test_a_missing_reference_names_the_line(tmp_path: Path) -> None:
    with pytest.raises(NotFound, match=r"refers to '-r nope\.txt'"):
        referenced_files(["-r nope.txt"], tmp_path)


def _hash(spec_file: Path, **overrides: str) -> str:
    options = {"manager": "uv", "tool": "uv", "python_version": "3.11.7", **overrides}
    return spec_hash(
        read_python_env(spec_file),
        manager=options["manager"],  # type: ignore[arg-type]
        tool=options["tool"],
        python_version=options["python_version"],
        kiln=kiln_install(),
    )


def test_the_hash_is_the_content_not_the_location(tmp_path: Path) -> None:
    one = write(tmp_path / "a" / "python_env.yaml", PYTHON_ENV)
    two = write(tmp_path / "b" / "python_env.yaml", PYTHON_ENV)
    write(tmp_path / "a" / "requirements.txt", "packaging==24.0\n")
    write(tmp_path / "b" / "requirements.txt", "packaging==24.0\n")
    assert _hash(one) == _hash(two)
    assert len(_hash(one)) == 64


def test_the_hash_follows_referenced_files_python_manager_and_tool(tmp_path: Path) -> None:
    spec = write(tmp_path / "python_env.yaml", PYTHON_ENV)
    write(tmp_path / "requirements.txt", "packaging==24.0\n")
    first = _hash(spec)
    assert _hash(spec, python_version="3.11.8") != first
    assert _hash(spec, manager="virtualenv") != first
    assert _hash(spec, tool="pip") != first
    write(tmp_path / "requirements.txt", "packaging==24.1\n")
    assert _hash(spec) != first


def test_a_local_path_requirement_ties_the_hash_to_its_folder(tmp_path: Path) -> None:
    text = "dependencies: [./pkg]\n"
    assert _hash(write(tmp_path / "a" / "python_env.yaml", text)) != _hash(
        write(tmp_path / "b" / "python_env.yaml", text)
    )


def test_kiln_is_installed_with_its_client_dependencies_only() -> None:
    kiln = kiln_install()
    names = [line.split(">")[0].split("=")[0].lower() for line in kiln.requirements]
    assert names == list(KILN_CLIENT_DEPENDENCIES)
    assert kiln.source is not None
    assert (kiln.source / "kiln" / "__init__.py").is_file()
    assert names_kiln(["six", "Kiln_MLOps>=0.1"])
    assert not names_kiln(["kiln-mlops-extras"])


def test_local_is_the_running_interpreter(tmp_path: Path) -> None:
    spec = write(tmp_path / "python_env.yaml", PYTHON_ENV)
    env = prepare_environment(EnvSpec("python_env", path=spec), "local")
    assert env == PreparedEnv("local", Path(sys.executable), None, None, False, 0.0, None)


def test_docker_and_unknown_managers_are_refused() -> None:
    with pytest.raises(
        EnvironmentUnavailable, match=r"Docker image 'repo/img:1'.*no Docker engine"
    ):
        prepare_environment(EnvSpec("docker", image="repo/img:1"), "uv")
    with pytest.raises(InvalidInput, match="unknown environment manager 'pixi'"):
        prepare_environment(EnvSpec("none"), "pixi")  # type: ignore[arg-type]


def test_conda_only_spec_is_refused_before_anything_is_built(tmp_path: Path) -> None:
    spec = write(tmp_path / "conda.yaml", "dependencies:\n  - python=3.11\n  - r-base\n")
    with pytest.raises(EnvironmentUnavailable, match="r-base"):
        prepare_environment(EnvSpec("conda", path=spec), "conda", cache_root=tmp_path / "envs")
    assert not (tmp_path / "envs").exists()


def test_a_python_that_is_not_installed_is_refused(tmp_path: Path) -> None:
    spec = write(tmp_path / "python_env.yaml", "python: '3.99'\n")
    with pytest.raises(EnvironmentUnavailable, match=r"asks for Python 3\.99.*--env-manager local"):
        prepare_environment(EnvSpec("python_env", path=spec), "uv", cache_root=tmp_path / "envs")


def test_the_running_interpreter_is_found_without_a_search() -> None:
    tools = Toolchain(uv=None, search_path="")
    found = find_interpreter(parse_python_request("3.11.0"), tools, "here")
    assert found.path == Path(sys.executable)


def test_cache_root_defaults_under_kiln_home() -> None:
    assert default_cache_root() == Path(os.environ["KILN_HOME"]) / "envs"


def test_lock_of_the_running_interpreter_lists_every_package_sorted() -> None:
    lock = environment_lock(prepare_environment(EnvSpec("none"), "local"))
    header, *lines = lock.splitlines()
    assert header == f"# python {sys.version.split()[0]}"
    names = [line.split("==")[0] for line in lines]
    assert names == sorted(names)
    assert len(names) == len(set(names))
    assert "kiln-mlops" in names
    assert "pytest" in names
    assert all(name == name.lower() and "_" not in name for name in names)
    python, pins = parse_lock(lock)
    assert python == sys.version.split()[0]
    assert len(pins) == len(lines)


@pytest.mark.parametrize(
    ("lock", "message"),
    [
        ("six==1.0\n", "no '# python X.Y.Z' line"),
        ("# python 3.11.7\n-e file:///x\n", "line 2 is not name==version"),
        ("# python 3.11.7\nsix>=1\n", "line 2 is not name==version"),
    ],
)
def test_bad_locks_are_refused(lock: str, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        parse_lock(lock)


def test_lock_names_are_canonical() -> None:
    assert parse_lock("# python 3.11.7\n# comment\n\nTyping_Extensions==4.1\n")[1] == [
        ("typing-extensions", "4.1")
    ]


def test_docker_command_quotes_everything(tmp_path: Path) -> None:
    line = docker_command(
        "repo/img:1", "python train.py --x 'a b'", tmp_path, {"B": "2", "A": "x; rm -rf /"}
    )
    assert shlex.split(line) == [
        "docker", "run", "--rm", "-v", f"{tmp_path}:/mlflow/projects/code",
        "-w", "/mlflow/projects/code", "-e", "A=x; rm -rf /", "-e", "B=2",
        "repo/img:1", "sh", "-c", "python train.py --x 'a b'",
    ]  # fmt: skip


def _fake_build(calls: list[Path]) -> Callable[[Path], None]:
    def build(folder: Path) -> None:
        calls.append(folder)
        write(folder / "bin" / "python", "")

    return build


def test_cache_builds_once_and_then_reports_the_recorded_time(tmp_path: Path) -> None:
    calls: list[Path] = []
    messages: list[str] = []
    first, hit = ensure(tmp_path, "ab" * 32, _fake_build(calls), progress=messages.append)
    assert not hit
    assert calls == [cache_folder(tmp_path, "ab" * 32)]
    again, hit = ensure(tmp_path, "ab" * 32, _fake_build(calls), progress=messages.append)
    assert hit
    assert len(calls) == 1
    assert again.build_seconds == pytest.approx(first.build_seconds, abs=1e-3)
    assert messages == []


def test_cache_rebuilds_a_half_built_folder(tmp_path: Path) -> None:
    env_hash = "cd" * 32
    folder = cache_folder(tmp_path, env_hash)
    write(folder / "bin" / "python", "")  # no marker: an interrupted build
    assert lookup(tmp_path, env_hash) is None
    calls: list[Path] = []
    messages: list[str] = []
    _, hit = ensure(tmp_path, env_hash, _fake_build(calls), progress=messages.append)
    assert not hit
    assert calls == [folder]
    assert messages == [f"removing unfinished environment {env_hash[:8]}…"]
    assert (folder / MARKER_FILE).is_file()


def test_cache_does_not_trust_a_marker_for_another_hash_or_a_missing_python(
    tmp_path: Path,
) -> None:
    env_hash = "ef" * 32
    calls: list[Path] = []
    ensure(tmp_path, env_hash, _fake_build(calls), progress=lambda _: None)
    folder = cache_folder(tmp_path, env_hash)
    (folder / "bin" / "python").unlink()
    assert lookup(tmp_path, env_hash) is None
    ensure(tmp_path, env_hash, _fake_build(calls), progress=lambda _: None)
    assert len(calls) == 2
    assert lookup(tmp_path, env_hash[:20] + "0" * 44) is None


def test_a_failed_build_leaves_nothing_behind(tmp_path: Path) -> None:
    def build(folder: Path) -> None:
        write(folder / "half", "")
        raise EnvironmentUnavailable("no luck")

    with pytest.raises(EnvironmentUnavailable, match="no luck"):
        ensure(tmp_path, "12" * 32, build, progress=lambda _: None)
    assert not cache_folder(tmp_path, "12" * 32).exists()


def test_concurrent_prepares_of_one_hash_build_once(tmp_path: Path) -> None:
    calls: list[Path] = []
    entered = threading.Event()
    release = threading.Event()

    def slow_build(folder: Path) -> None:
        calls.append(folder)
        entered.set()
        release.wait(timeout=30)
        write(folder / "bin" / "python", "")

    results: list[bool] = []

    def prepare() -> None:
        results.append(ensure(tmp_path, "34" * 32, slow_build, progress=lambda _: None)[1])

    first = threading.Thread(target=prepare)
    first.start()
    assert entered.wait(timeout=30)
    second = threading.Thread(target=prepare)
    second.start()  # blocks on the file lock while the first builds
    release.set()
    first.join(timeout=30)
    second.join(timeout=30)
    assert len(calls) == 1
    assert sorted(results) == [False, True]
