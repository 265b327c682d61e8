"""README's server-sharing walkthrough stays true to the code.

Every ``kiln ...`` line in the code blocks of "Sharing a server safely" and "Users,
workspaces and tokens" must parse with the real command tree (the command exists,
its options exist, choices such as roles and ``--output`` are valid): a renamed
option breaks this test before it breaks a newcomer's copy-paste. The ``kiln.toml``
shown there must load with ``kiln server --config``'s own reader, the Python snippet
must compile, and every ``KILN_*`` variable and protected alias it names must exist.
(The walkthrough was run by hand against a real ``kiln server --auth``; this keeps
the names honest between such runs.)
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterator
from pathlib import Path

import click
import pytest

from kiln.auth.roles import PROTECTED_ALIASES
from kiln.cli.main import cli
from kiln.configfile import settings_from_file

ROOT = Path(__file__).resolve().parents[3]
README = ROOT / "README.md"
SECTIONS = ("## Sharing a server safely", "## Users, workspaces and tokens")
_HEREDOC = re.compile(r"<<\s*'?(\w+)'?")
_COMMENT = re.compile(r"\s+#.*$")


def _section(title: str) -> str:
    text = README.read_text(encoding="utf-8")
    start = text.index(title + "\n")
    end = text.find("\n## ", start + len(title))
    return text[start : end if end != -1 else len(text)]


def _code_lines(section: str) -> list[str]:
    """The section's indented code-block lines, continuations joined."""
    lines: list[str] = []
    pending = ""
    for raw in section.splitlines():
        if not raw.startswith("    "):
            continue
        line = pending + raw[4:]
        if line.endswith("\\"):
            pending = line[:-1] + " "
            continue
        pending = ""
        lines.append(line)
    return lines


def _walk() -> Iterator[tuple[str, dict[str, str]]]:
    """(shell line, {heredoc delimiter: body}) for every shell line of both sections."""
    for title in SECTIONS:
        lines = iter(_code_lines(_section(title)))
        for line in lines:
            bodies: dict[str, str] = {}
            heredoc = _HEREDOC.search(line)
            if heredoc:
                body = []
                for inner in lines:
                    if inner == heredoc.group(1):
                        break
                    body.append(inner)
                bodies[heredoc.group(1)] = "\n".join(body) + "\n"
            yield line, bodies


def _kiln_commands() -> list[list[str]]:
    """The argument lists of every ``kiln`` command in the walkthrough."""
    commands = []
    for line, _bodies in _walk():
        words = shlex.split(_COMMENT.sub("", line))
        segments: list[list[str]] = [[]]
        for word in words:
            if word in ("|", "&&", ";", "&"):
                segments.append([])
            else:
                segments[-1].append(word)
        for segment in segments:
            while segment and re.match(r"^[A-Z_]+=", segment[0]):
                segment.pop(0)  # VAR=value before the command
            if segment[:1] == ["kiln"]:
                argv = segment[1:]
                if ">" in argv:
                    argv = argv[: argv.index(">")]
                commands.append(argv)
    return commands


def _parse(argv: list[str]) -> click.Command:
    """Parse ``argv`` down the real command tree as ``kiln`` would, invoking nothing;
    raise ``click.UsageError`` where the shell line would."""
    ctx = cli.make_context("kiln", list(argv))
    command: click.Command = cli
    while isinstance(command, click.Group):
        rest = [*ctx._protected_args, *ctx.args]
        name, sub, args = command.resolve_command(ctx, rest)
        assert sub is not None, argv
        assert name is not None, argv
        ctx = sub.make_context(name, args, parent=ctx)
        command = sub
    return command


def test_the_walkthrough_has_its_commands() -> None:
    names = {" ".join(argv[:2]) for argv in _kiln_commands()}
    for expected in (
        "server --auth",
        "login -u",
        "admin create-tenant",
        "admin create-user",
        "admin grant",
        "tokens create",
        "audit list",
        "audit verify",
        "admin bind-group",
        "server --config",
    ):
        assert expected in names, f"README no longer shows `kiln {expected}`: {sorted(names)}"


@pytest.mark.parametrize("argv", _kiln_commands(), ids=lambda argv: " ".join(argv))
def test_each_documented_command_parses(argv: list[str]) -> None:
    try:
        _parse(argv)
    except click.UsageError as exc:
        pytest.fail(f"README's `kiln {shlex.join(argv)}` does not parse: {exc.format_message()}")


def test_a_misspelt_option_is_caught() -> None:
    # the check itself can fail: an option that does not exist is refused
    with pytest.raises(click.UsageError, match="No such option"):
        _parse(["admin", "create-user", "alice", "--admn"])
    with pytest.raises(click.UsageError, match=r"viewer|ROLE|role"):
        _parse(["tokens", "create", "--role", "owner"])


def test_the_config_file_example_loads(tmp_path: Path) -> None:
    files = {
        line: bodies["EOF"]
        for line, bodies in _walk()
        if "EOF" in bodies and line.startswith("cat > kiln.toml")
    }
    assert len(files) == 1, "README shows one kiln.toml"
    path = tmp_path / "kiln.toml"
    path.write_text(next(iter(files.values())), encoding="utf-8")
    settings = settings_from_file(path, {})
    assert settings.auth is True
    assert settings.auth_settings.ldap is not None
    assert settings.auth_settings.ldap.start_tls is True


def test_the_python_snippet_compiles() -> None:
    snippets = [bodies["EOF"] for line, bodies in _walk() if line.startswith("python - <<")]
    assert snippets, "README shows the mlflow client"
    for snippet in snippets:
        compile(snippet, "README.md", "exec")


def test_every_kiln_variable_and_protected_alias_it_names_exists() -> None:
    text = "\n".join(_section(title) for title in SECTIONS)
    source = "\n".join(p.read_text(encoding="utf-8") for p in (ROOT / "src/kiln").rglob("*.py"))
    named = set(re.findall(r"\bKILN_[A-Z_]*[A-Z]\b", text))
    assert "KILN_LDAP_URL" in named
    missing = sorted(v for v in named if f'"{v}"' not in source)
    assert not missing, f"README names variables Kiln does not read: {missing}"
    roles = next(line for line in text.splitlines() if line.startswith("| `project-admin`"))
    for alias in PROTECTED_ALIASES:
        assert f"`{alias}`" in roles, f"README's roles table leaves out protected alias {alias}"
