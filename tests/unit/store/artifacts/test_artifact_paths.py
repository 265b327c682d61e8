"""safe_relpath and join_under: the one gate every artifact path passes."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kiln.errors import InvalidInput
from kiln.store.artifacts.paths import join_under, safe_relpath
from kiln.testing.contracts.artifacts import HOSTILE_PATHS

# No example database in the repo, no deadline on a shared 2-core machine.
PROPERTY = settings(
    max_examples=300,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)

# (path, the part of the message that names the rule it breaks)
HOSTILE: list[tuple[str, str]] = [
    # parent references, plain and hidden by normalisation
    ("..", "'..' segments"),
    ("../", "'..' segments"),
    ("../x", "'..' segments"),
    ("x/..", "'..' segments"),
    ("x/../..", "'..' segments"),
    ("a/../b", "'..' segments"),
    ("a/b/../../../etc/passwd", "'..' segments"),
    ("./..", "'..' segments"),
    ("a/./../..", "'..' segments"),
    (".//../x", "'..' segments"),
    ("a//..//b", "'..' segments"),
    # absolute paths
    ("/", "absolute"),
    ("/x", "absolute"),
    ("//x", "absolute"),
    ("///etc/passwd", "absolute"),
    ("/./x", "absolute"),
    # Windows forms
    ("C:\\x", "backslash"),
    ("C:x", "scheme or drive letter"),
    ("c:/Windows/win.ini", "scheme or drive letter"),
    ("C:", "scheme or drive letter"),
    ("\\\\x", "backslash"),
    ("\\\\server\\share\\f", "backslash"),
    ("\\x", "backslash"),
    ("a\\b", "backslash"),
    ("..\\x", "backslash"),
    ("a\\..\\..\\b", "backslash"),
    # NUL and control characters
    ("a\x00b", "control character"),
    ("\x00", "control character"),
    ("x\x00/../y", "control character"),
    ("a\nb", "control character"),
    ("a\rb", "control character"),
    ("a\tb", "control character"),
    ("\x1b[31mred", "control character"),
    ("a\x7fb", "control character"),
    ("a\x85b", "control character"),
    # percent-encoding, single, mixed, double and triple
    ("%2e%2e/x", "'%2e' encodes a forbidden character"),
    ("%2E%2E/x", "'%2E' encodes a forbidden character"),
    ("%2e%2e", "'%2e' encodes a forbidden character"),
    ("%2e./x", "'%2e' encodes a forbidden character"),
    (".%2e/x", "'%2e' encodes a forbidden character"),
    ("..%2fx", "'%2f' encodes a forbidden character"),
    ("%2e%2e%2fx", "'%2e' encodes a forbidden character"),
    ("a%2fb", "'%2f' encodes a forbidden character"),
    ("a%2Fb", "'%2F' encodes a forbidden character"),
    ("a%5cb", "'%5c' encodes a forbidden character"),
    ("%2fetc%2fpasswd", "'%2f' encodes a forbidden character"),
    ("%252e%252e/x", "'%25' encodes a forbidden character"),
    ("%25252e%25252e/x", "'%25' encodes a forbidden character"),
    ("a%00b", "'%00' encodes a forbidden character"),
    ("a%0ab", "'%0a' encodes a forbidden character"),
    ("%7e/x", "'%7e' encodes a forbidden character"),
    ("file%3a/x", "'%3a' encodes a forbidden character"),
    ("%c0%ae%c0%ae/x", "not valid UTF-8"),
    ("%c2%85", "control character"),
    # URI schemes
    ("file:///etc/passwd", "scheme or drive letter"),
    ("file:x", "scheme or drive letter"),
    ("FILE:/x", "scheme or drive letter"),
    ("s3://bucket/key", "scheme or drive letter"),
    ("http://evil.example/x", "scheme or drive letter"),
    ("runs:/0123/model", "scheme or drive letter"),
    ("models:/m/1", "scheme or drive letter"),
    # home directories
    ("~", "start with '~'"),
    ("~/x", "start with '~'"),
    ("~root/.ssh/id_rsa", "start with '~'"),
    ("a/~/b", "start with '~'"),
    ("a/~b", "start with '~'"),
    # Unicode look-alikes that NFKC folds into separators and dots
    ("\uff0e\uff0e/x", "'..' segments"),
    ("\uff0e\uff0e\uff0fx", "'..' segments"),
    ("\u2024\u2024/x", "'..' segments"),
    ("a\uff3cb", "backslash"),
    ("\uff0fetc", "absolute"),
]

SAFE: list[tuple[str | None, str]] = [
    (None, ""),
    ("", ""),
    (".", ""),
    ("./", ""),
    (".//.", ""),
    ("a", "a"),
    ("a/b", "a/b"),
    ("a//b", "a/b"),
    ("a/./b", "a/b"),
    ("a/b/", "a/b"),
    ("./a", "a"),
    ("...", "..."),
    ("..a/b..", "..a/b.."),
    ("a..b", "a..b"),
    (".hidden/.x", ".hidden/.x"),
    ("a~b", "a~b"),
    ("dir/a:b.txt", "dir/a:b.txt"),
    ("1:x", "1:x"),
    ("a b/c d.txt", "a b/c d.txt"),
    ("données/résumé ✓.txt", "données/résumé ✓.txt"),
    ("a%20b", "a%20b"),
    ("caf%c3%a9", "caf%c3%a9"),
    ("100%", "100%"),
    ("%zz", "%zz"),
    ("model/MLmodel", "model/MLmodel"),
]


@pytest.mark.parametrize(("path", "rule"), HOSTILE, ids=[repr(p) for p, _ in HOSTILE])
def test_hostile_paths_are_refused_with_the_path_and_the_rule(path: str, rule: str) -> None:
    with pytest.raises(InvalidInput, match=re.escape(rule)) as info:
        safe_relpath(path)
    assert info.value.message.startswith(f"invalid artifact path {path!r}: ")


@pytest.mark.parametrize("path", HOSTILE_PATHS)
def test_the_contract_suite_hostile_paths_are_refused(path: str) -> None:
    with pytest.raises(InvalidInput, match="invalid artifact path"):
        safe_relpath(path)


@pytest.mark.parametrize(("path", "expected"), SAFE, ids=[repr(p) for p, _ in SAFE])
def test_safe_paths_are_normalised(path: str | None, expected: str) -> None:
    assert safe_relpath(path) == expected


@pytest.mark.parametrize("value", [5, b"a/b", ["a"]])
def test_non_strings_are_refused(value: object) -> None:
    with pytest.raises(InvalidInput, match="expected a string"):
        safe_relpath(value)  # type: ignore[arg-type]


# properties ------------------------------------------------------------------------

SEGMENT = st.text(
    alphabet=st.characters(whitelist_categories=("L", "N"), whitelist_characters="-_. "),
    min_size=1,
    max_size=12,
).filter(lambda s: s not in (".", "..") and not s.startswith("~"))
SEPARATOR = st.sampled_from(["/", "//", "/./", "/.//"])


@PROPERTY
@given(st.text(max_size=40))
def test_any_accepted_path_is_relative_clean_and_stable(path: str) -> None:
    try:
        clean = safe_relpath(path)
    except InvalidInput:
        return
    assert safe_relpath(clean) == clean
    segments = clean.split("/") if clean else []
    assert all(segment not in ("", ".", "..") for segment in segments)
    assert "\\" not in clean
    assert not clean.startswith("/")


@PROPERTY
@given(
    st.text(alphabet="./\\%2eEfF5cC:~aA0\x00", max_size=24),
)
def test_accepted_paths_over_a_hostile_alphabet_never_name_a_parent(path: str) -> None:
    try:
        clean = safe_relpath(path)
    except InvalidInput:
        return
    assert ".." not in clean.split("/")
    # no encoded dot, slash, backslash or percent sign survives
    assert not re.search(r"%(2[eEfF5]|5[cC])", clean)
    assert "\\" not in clean
    assert "\x00" not in clean


@PROPERTY
@given(st.lists(SEGMENT, min_size=1, max_size=6), st.data())
def test_safe_segments_join_whatever_the_separators(
    segments: list[str], data: st.DataObject
) -> None:
    path = segments[0]
    for segment in segments[1:]:
        path += data.draw(SEPARATOR) + segment
    assert safe_relpath(path) == "/".join(segments)


@PROPERTY
@given(
    st.lists(SEGMENT, max_size=3),
    st.lists(SEGMENT, max_size=3),
    st.integers(min_value=0, max_value=3),
    st.booleans(),
)
def test_a_parent_segment_anywhere_is_refused(
    before: list[str], after: list[str], encode_rounds: int, upper: bool
) -> None:
    parent = ".."
    for _ in range(encode_rounds):
        parent = quote(parent, safe="") if "%" in parent else "%2e%2e"
    if upper:
        parent = parent.upper()
    path = "/".join([*before, parent, *after])
    with pytest.raises(InvalidInput, match="invalid artifact path"):
        safe_relpath(path)


@PROPERTY
@given(st.text(max_size=30))
def test_join_under_never_leaves_the_root(
    tmp_path_factory: pytest.TempPathFactory, rel: str
) -> None:
    root = tmp_path_factory.getbasetemp() / "prop-root"
    try:
        target = join_under(root, rel)
    except InvalidInput:
        return
    assert target.is_relative_to(root.resolve())


# join_under ---------------------------------------------------------------------------


def test_join_under_resolves_inside_a_missing_root(tmp_path: Path) -> None:
    root = tmp_path / "not-yet"
    assert join_under(root, "a//b/./c.txt") == root.resolve() / "a" / "b" / "c.txt"
    assert join_under(root, "") == root.resolve()
    assert not root.exists()


def test_join_under_rechecks_the_relative_path(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match=r"'\.\.' segments"):
        join_under(tmp_path, "../x")


def test_join_under_refuses_symlinks_that_leave_the_root(tmp_path: Path) -> None:
    root = tmp_path / "root"
    root.mkdir()
    (tmp_path / "outside").mkdir()
    (root / "escape").symlink_to(tmp_path / "outside", target_is_directory=True)
    (root / "abs-link").symlink_to("/etc/passwd")
    (root / "rel-link").symlink_to("../outside")
    for rel in ("escape", "escape/new.txt", "abs-link", "rel-link/x"):
        with pytest.raises(InvalidInput, match="resolves outside the artifact root"):
            join_under(root, rel)


def test_join_under_follows_links_that_stay_inside(tmp_path: Path) -> None:
    root = tmp_path / "root"
    (root / "real").mkdir(parents=True)
    (root / "alias").symlink_to(root / "real", target_is_directory=True)
    assert join_under(root, "alias/f.txt") == root.resolve() / "real" / "f.txt"


def test_join_under_accepts_a_root_that_is_itself_a_link(tmp_path: Path) -> None:
    (tmp_path / "real-root").mkdir()
    (tmp_path / "root-link").symlink_to(tmp_path / "real-root", target_is_directory=True)
    assert join_under(tmp_path / "root-link", "f") == (tmp_path / "real-root" / "f").resolve()
