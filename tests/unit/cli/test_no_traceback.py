"""Every ``kiln`` command, given bad input, fails with one clear line: never a traceback.

``BAD_INPUT`` names bad arguments for each leaf command of the click tree (lazy ones
included); a command added without an entry fails ``test_every_command_has_bad_input``.
Each case runs in-process through CliRunner; a few run as real ``kiln`` processes.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from kiln.cli.errors import UNEXPECTED_EXIT_CODE
from kiln.cli.main import KilnGroup, cli

NO_RUN = "0" * 32
BOGUS = "bogus://nowhere"
KILN = [sys.executable, "-c", "from kiln.cli.main import main; main()"]

# Each case: the arguments after ``kiln --tracking-uri <store>``, with {tmp} (an empty
# folder), {busy} (a port something listens on) and {csv} (a readable CSV) filled in.
# A case that starts with "--tracking-uri" replaces the store.
BAD_INPUT: dict[str, list[list[str]]] = {
    "admin bind-group": [["admin", "bind-group", "g", "nosuch", "viewer"]],
    "admin create-tenant": [
        ["admin", "create-tenant", "Bad_Name"],
        ["--tracking-uri", "{tmp}", "admin", "create-tenant", "team-a"],
    ],
    "admin create-user": [
        ["admin", "create-user", "no/slash"],
        ["admin", "create-user", "u1", "--password-stdin"],
    ],
    "admin delete-tenant": [["admin", "delete-tenant", "default"]],
    "admin disable-user": [["admin", "disable-user", "nobody"]],
    "admin grant": [
        ["admin", "grant", "nobody", "default", "member"],
        ["admin", "grant", "a", "default", "boss"],
    ],
    "admin list": [
        ["admin", "list", "everything"],
        ["admin", "list", "users", "--tenant", "x"],
        ["--tracking-uri", "http://127.0.0.1:1", "admin", "list"],
    ],
    "admin quota": [
        ["admin", "quota", "nosuch"],
        ["admin", "quota", "default", "--memory", "lots"],
    ],
    "admin revoke": [["admin", "revoke", "nobody", "default"]],
    "admin set-password": [["admin", "set-password", "nobody"]],
    "admin unbind-group": [["admin", "unbind-group", "g", "nosuch"]],
    "login": [
        ["login"],
        ["login", "ftp://nowhere"],
        ["login", "http://127.0.0.1:1", "-u", "x", "--password-stdin"],
    ],
    "logout": [["logout"], ["logout", "sqlite:///x.db"]],
    "tokens create": [["tokens", "create", "--role", "boss"], ["tokens", "create"]],
    "tokens list": [["tokens", "list"], ["--tracking-uri", "http://127.0.0.1:1", "tokens", "list"]],
    "tokens revoke": [["tokens", "revoke", "nosuch"]],
    "audit list": [
        ["audit", "list", "--max-results", "0"],
        ["--tracking-uri", "{tmp}", "audit", "list"],
        ["audit", "list", "--output", "yaml"],
    ],
    "audit verify": [["--tracking-uri", "{tmp}", "audit", "verify"]],
    "datasets list": [["datasets", "list", "--experiment-name", "nope"]],
    "datasets show": [["datasets", "show", "nope"], ["datasets", "show", "x", "--digest", "-"]],
    "demo": [["demo", "--no-such-option"], ["--tracking-uri", BOGUS, "demo", "--no-wait"]],
    "examples list": [["examples", "--examples-dir", "{tmp}/none", "list"]],
    "examples run-all": [
        ["examples", "run-all", "--only", "nosuch"],
        ["examples", "--examples-dir", "{tmp}/none", "run-all"],
    ],
    "experiments create": [["experiments", "create", ""]],
    "experiments delete": [["experiments", "delete", "999"], ["experiments", "delete", "x y"]],
    "experiments list": [["--tracking-uri", BOGUS, "experiments", "list"]],
    "experiments rename": [["experiments", "rename", "999", "new"]],
    "experiments restore": [["experiments", "restore", "999"]],
    "export": [["export", "{tmp}/none", "--to", "{tmp}/out"]],
    "import": [["import", "{tmp}/none"], ["import", "{tmp}", "--to", BOGUS]],
    "models alias": [["models", "alias", "nope", "champion", "1"], ["models", "alias", "m", "a"]],
    "models list": [["models", "list", "--filter", "x === 1"]],
    "models predict": [
        ["models", "predict", "-m", "{tmp}/none", "-i", "{csv}", "-o", "{tmp}/o.csv"],
        ["models", "predict", "-m", f"runs:/{NO_RUN}/model", "-i", "{csv}", "-o", "{tmp}/o.csv"],
        ["models", "predict", "-m", "models:/nope/1", "-i", "{tmp}/none.csv", "-o", "{tmp}/o"],
        ["models", "predict", "-m", "{tmp}", "-i", "{csv}", "-o", "{tmp}/none/o.csv"],
    ],
    "models register": [
        ["models", "register", f"runs:/{NO_RUN}/model", "m"],
        ["models", "register", "runs:/x", "m", "--tag", "novalue"],
    ],
    "models serve": [
        ["models", "serve", "-m", "{tmp}/none", "-p", "{busy}"],
        ["models", "serve", "-m", "models:/nope@champion"],
        ["models", "serve", "-m", "{tmp}", "--host", "nohost.invalid"],
    ],
    "models versions": [["models", "versions", "nope"]],
    "reproduce": [["reproduce", NO_RUN], ["reproduce", "not-a-run"]],
    "run": [["run", "{tmp}/none"], ["run", "{tmp}", "-P", "novalue"]],
    "runs artifacts": [["runs", "artifacts", NO_RUN], ["runs", "artifacts", "nope", "model"]],
    "runs delete": [["runs", "delete", NO_RUN]],
    "runs list": [
        ["runs", "list", "--experiment-name", "nope"],
        ["runs", "list", "--filter", "metrics.rmse <<< 1"],
        ["runs", "list", "--experiment-id", "1", "--experiment-name", "x"],
    ],
    "runs restore": [["runs", "restore", NO_RUN]],
    "runs show": [["runs", "show", "nope"], ["--tracking-uri", f"{BOGUS}", "runs", "show", NO_RUN]],
    "server": [
        ["server", "--backend-store-uri", BOGUS, "--port", "{busy}"],
        ["server", "--port", "{busy}"],
    ],
}


def _leaves(command: click.Command, path: tuple[str, ...], ctx: click.Context) -> Iterator[str]:
    if isinstance(command, click.Group):
        for name in command.list_commands(ctx):
            sub = command.get_command(ctx, name)
            assert sub is not None
            yield from _leaves(sub, (*path, name), ctx)
    else:
        yield " ".join(path)


def test_every_command_has_bad_input() -> None:
    assert sorted(_leaves(cli, (), click.Context(cli))) == sorted(BAD_INPUT)


@pytest.fixture(scope="module")
def busy() -> Iterator[int]:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        yield holder.getsockname()[1]


def _fill(args: list[str], tmp: Path, busy: int) -> list[str]:
    csv = tmp / "in.csv"
    csv.write_text("a,b\n1,2\n")
    values = {"tmp": str(tmp), "busy": str(busy), "csv": str(csv)}
    return [arg.format(**values) for arg in args]


def _assert_one_clear_error(code: int | None, stdout: str, stderr: str) -> None:
    assert code not in (0, None, UNEXPECTED_EXIT_CODE), stdout + stderr
    assert "Traceback" not in stdout + stderr
    assert "unexpected" not in stderr  # an unmapped exception, reported as a bug
    lines = [line for line in stderr.strip().splitlines() if line]
    assert [line for line in lines if line.startswith("Error: ")] != [], stdout + stderr
    if lines[0].startswith("Usage: "):  # click's own usage error
        assert lines[-1].startswith("Error: "), stderr
    else:  # Kiln's edge: the error, then the hint, last
        assert lines[-2].startswith("Error: "), stderr
        assert lines[-1].startswith("Hint: "), stderr


CASES = [(name, args) for name, cases in BAD_INPUT.items() for args in cases]


@pytest.mark.parametrize(
    ("name", "args"), CASES, ids=[f"{n}:{i}" for i, (n, _) in enumerate(CASES)]
)
def test_bad_input_is_one_clear_line(
    name: str, args: list[str], tmp_path: Path, busy: int, store_uri: str
) -> None:
    work = tmp_path / "work"
    work.mkdir()
    argv = _fill(args, work, busy)
    prefix = [] if argv[0] == "--tracking-uri" else ["--tracking-uri", store_uri]
    runner = CliRunner(env={"COLUMNS": "120"})
    result = runner.invoke(cli, [*prefix, *argv], catch_exceptions=False)
    _assert_one_clear_error(result.exit_code, result.stdout, result.stderr)


@pytest.mark.parametrize(
    "args",
    [
        ["runs", "show", "nope"],
        ["models", "predict", "-m", "{tmp}", "-i", "{csv}", "-o", "{tmp}/o.csv"],
        ["models", "serve", "-m", "{tmp}", "-p", "{busy}"],
        ["--tracking-uri", "postgresql://kiln@127.0.0.1:1/none", "experiments", "list"],
        ["--tracking-uri", BOGUS, "runs", "list"],
    ],
    ids=["no-run", "not-a-model", "busy-port", "no-postgres", "bogus-uri"],
)
def test_bad_input_in_a_real_process(
    args: list[str], tmp_path: Path, busy: int, store_uri: str
) -> None:
    argv = _fill(args, tmp_path, busy)
    prefix = [] if argv[0] == "--tracking-uri" else ["--tracking-uri", store_uri]
    env = {k: v for k, v in os.environ.items() if k != "KILN_DEBUG"}
    done = subprocess.run(
        [*KILN, *prefix, *argv],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env=env,
        stdin=subprocess.DEVNULL,
    )
    _assert_one_clear_error(done.returncode, done.stdout, done.stderr)
    assert "Serving" not in done.stdout


def _group_with_a_bug() -> KilnGroup:
    """A kiln-style group whose one command raises what no code maps."""
    group = KilnGroup("kiln")

    @group.command("buggy")
    def buggy() -> None:
        raise RuntimeError("an unmapped bug")

    @group.command("unwritable")
    def unwritable() -> None:
        raise PermissionError(13, "Permission denied", "/root/out.csv")

    return group


def test_an_unexpected_error_is_one_line_unless_debugging(monkeypatch: pytest.MonkeyPatch) -> None:
    group = _group_with_a_bug()
    result = CliRunner().invoke(group, ["buggy"], catch_exceptions=False)
    assert result.exit_code == UNEXPECTED_EXIT_CODE
    lines = result.stderr.splitlines()
    assert lines[0] == "Error: unexpected RuntimeError: an unmapped bug"
    assert "KILN_DEBUG=1" in lines[1]
    assert "Traceback" not in result.output
    monkeypatch.setenv("KILN_DEBUG", "1")
    with pytest.raises(RuntimeError, match="an unmapped bug"):
        CliRunner().invoke(group, ["buggy"], catch_exceptions=False)


def test_an_os_error_is_the_users_to_fix() -> None:
    result = CliRunner().invoke(_group_with_a_bug(), ["unwritable"], catch_exceptions=False)
    assert result.exit_code == 1
    assert result.stderr.splitlines()[0] == "Error: [Errno 13] Permission denied: '/root/out.csv'"
