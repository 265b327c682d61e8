"""The artifact browser's listing and capped previews (kiln.server.artifact_preview) and
the download headers (kiln.server.artifact_headers), over a local artifact folder."""

from __future__ import annotations

from pathlib import Path

import pytest

from kiln.errors import NotFound
from kiln.server.artifact_headers import artifact_headers, content_disposition, inline_type
from kiln.server.artifact_preview import (
    Entry,
    RunFiles,
    ancestors,
    crumbs,
    human_size,
    kind_of,
    preview,
)
from kiln.store.artifacts.local import LocalArtifactStore


@pytest.fixture
def files(tmp_path: Path) -> RunFiles:
    root = tmp_path / "exp" / "run" / "artifacts"
    (root / "sub").mkdir(parents=True)
    (root / "sub" / "a.txt").write_text("a")
    (root / "B.txt").write_text("b")
    (root / "zdir").mkdir()
    (root / "zdir" / "x").write_bytes(b"\x00\x01binary")
    return RunFiles(LocalArtifactStore(str(tmp_path)), "exp/run/artifacts")


def _write(files: RunFiles, rel: str, body: bytes) -> Entry:
    target = Path(files.store.root_uri) / files.base / rel
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(body)
    return files.find(rel)


def test_folders_list_first_and_find_reads_the_parent(files: RunFiles) -> None:
    assert [(e.path, e.is_dir) for e in files.folder("").entries] == [
        ("sub", True),
        ("zdir", True),
        ("B.txt", False),
    ]
    assert files.find("sub/a.txt") == Entry("sub/a.txt", False, 1)
    assert files.find("") == Entry("", True)
    with pytest.raises(NotFound, match="no artifact 'sub/nope'"):
        files.find("sub/nope")
    with pytest.raises(NotFound, match="no artifact 'nowhere/x'"):
        files.find("nowhere/x")


def test_paths_become_ancestors_and_crumbs() -> None:
    assert ancestors("a/b/c.txt") == ["", "a", "a/b"]
    assert ancestors("") == [""]
    assert crumbs("a/b") == [("artifacts", ""), ("a", "a"), ("b", "a/b")]
    assert [human_size(n) for n in (None, 0, 1023, 1536, 5 * 1024**3)] == [
        "",
        "0 B",
        "1023 B",
        "1.5 KB",
        "5.0 GB",
    ]


@pytest.mark.parametrize(
    ("path", "kind"),
    [
        ("m/MLmodel", "mlmodel"),
        ("a.PNG", "image"),
        ("r.html", "sandboxed"),
        ("c.svg", "sandboxed"),
        ("t.tsv", "table"),
        ("j.json", "json"),
        ("conda.yaml", "text"),
        ("requirements.txt", "text"),
        ("model.pkl", "unknown"),
        (".hidden", "unknown"),
    ],
)
def test_kind_of(path: str, kind: str) -> None:
    assert kind_of(path) == kind


def test_a_capped_preview_never_splits_a_character(files: RunFiles) -> None:
    entry = _write(files, "u.txt", "é".encode() * 10)  # 20 bytes
    shown = preview(files, entry, "r", cap=5)
    assert (shown.kind, shown.shown, shown.truncated) == ("text", 5, True)
    assert shown.text == "éé"  # the half of the third is held back, not replaced


def test_a_truncated_json_is_text_and_a_deep_one_does_not_crash(files: RunFiles) -> None:
    entry = _write(files, "j.json", b'{"a": [1, 2, 3]}')
    assert preview(files, entry, "r", cap=5).kind == "text"
    assert preview(files, entry, "r").text == '{\n  "a": [\n    1,\n    2,\n    3\n  ]\n}'
    deep = _write(files, "deep.json", b"[" * 100_000 + b"]" * 100_000)
    shown = preview(files, deep, "r", cap=300_000)
    assert (shown.kind, shown.note) == ("text", "not valid JSON: shown as text")


def test_a_csv_with_a_huge_field_falls_back_to_text(files: RunFiles) -> None:
    entry = _write(files, "h.csv", b'a,b\n"' + b"x" * 200_000 + b'",1\n')
    shown = preview(files, entry, "r")
    assert shown.kind == "text"
    assert "not read as a table" in shown.note


def test_a_cut_csv_drops_its_partial_last_line(files: RunFiles) -> None:
    entry = _write(files, "c.csv", b"a,b\n1,2\n3,4444\n")
    shown = preview(files, entry, "r", cap=12)
    assert (shown.header, shown.rows, shown.more_rows) == (["a", "b"], [["1", "2"]], True)
    assert shown.numeric == [True, True]
    mixed = _write(files, "m.csv", b"n,s,blank\n1.5,x,\n-2e3,y,\n")
    assert preview(files, mixed, "r").numeric == [True, False, False]


def test_an_mlmodel_names_its_flavors_and_folder(files: RunFiles) -> None:
    entry = _write(files, "my model/MLmodel", b"flavors:\n  python_function: {}\n  xgboost: {}\n")
    shown = preview(files, entry, "runs:/abc")
    assert shown.flavors == ["python_function", "xgboost"]
    assert shown.serve == "kiln models serve -m 'runs:/abc/my model'"
    bad = _write(files, "MLmodel", b"flavors: [unclosed\n")
    shown = preview(files, bad, "models:/m-1")
    assert (shown.kind, shown.note, shown.serve) == (
        "mlmodel",
        "not valid YAML",
        "kiln models serve -m models:/m-1",
    )


def test_unknown_files_are_text_only_when_they_look_like_it(files: RunFiles) -> None:
    assert preview(files, files.find("zdir/x"), "r").kind == "none"
    entry = _write(files, "LICENCE.v2", b"Apache License\n")
    assert preview(files, entry, "r").kind == "text"
    latin = _write(files, "old.dat", "caf\xe9".encode("latin-1"))
    assert preview(files, latin, "r").kind == "none"


def test_images_past_the_inline_limit_are_download_only(files: RunFiles) -> None:
    assert preview(files, Entry("big.png", False, 10**9), "r").kind == "none"
    assert preview(files, Entry("small.png", False, 10), "r").kind == "image"


def test_download_headers() -> None:
    assert inline_type("x.html") == "text/html"
    assert inline_type("x.bin") is None
    assert content_disposition("a/b/r\u00e9sum\u00e9.txt") == (
        "attachment; filename=\"resume.txt\"; filename*=UTF-8''r%C3%A9sum%C3%A9.txt"
    )
    assert content_disposition('q"uote\\.txt', inline=True) == (
        "inline; filename=\"quote.txt\"; filename*=UTF-8''q%22uote%5C.txt"
    )
    kind, headers = artifact_headers("evil.html")
    assert kind == "text/html"
    assert headers["content-disposition"] == 'attachment; filename="evil.html"'
    assert artifact_headers("evil.html", inline=True)[1]["content-disposition"].startswith("inline")
    assert artifact_headers("x.exe", inline=True)[1]["content-disposition"].startswith("attach")
