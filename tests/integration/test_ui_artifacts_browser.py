"""The artifact browser in headless Chromium (``kiln.testing.browser``) against a real
``kiln server`` process: previews render, folders open over htmx, and an uploaded
HTML or SVG page never runs its script (not in the preview's sandboxed iframe, not
opened at the top level), so it cannot read or use the UI's cookies.
"""

from __future__ import annotations

import io
import struct
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import pytest

from kiln.testing.browser import Shots
from kiln.testing.server import ServerProcess, server_process

if TYPE_CHECKING:
    from playwright.sync_api import BrowserContext

pytestmark = [pytest.mark.integration, pytest.mark.slow]

EVIL = (
    "<html><head><title>static</title></head><body><h1 id='h'>static part</h1><script>"
    "document.getElementById('h').textContent = 'RAN ' + document.cookie;"
    "try { parent.postMessage('ran:' + document.cookie, '*'); } catch (e) {}"
    "try { top.document.title = 'pwned'; } catch (e) {}"
    "</script></body></html>"
)
SVG = (
    '<svg xmlns="http://www.w3.org/2000/svg" width="120" height="40"><text x="4" y="24">'
    "svg text</text><script>document.documentElement.setAttribute('data-ran', '1');"
    "parent.postMessage('svg-ran', '*');</script></svg>"
)


def _png(width: int, height: int) -> bytes:
    """A real (orange) PNG, without an imaging library."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    row = b"\x00" + b"\xd9\x48\x0f" * width
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    pixels = zlib.compress(row * height)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )


def _csv() -> bytes:
    out = io.StringIO()
    out.write("step,alpha,rmse,label\n")
    for i in range(2000):
        out.write(f"{i},{0.1 * (i % 7):.1f},{1 / (i + 1):.5f},class-{i % 3}\n")
    return out.getvalue().encode()


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ServerProcess, str]]:
    root = tmp_path_factory.mktemp("ui-artifacts-browser")
    with server_process(f"sqlite:///{root / 'kiln.db'}", root) as server:
        api = f"{server.url}/api/2.0"
        made = httpx.post(f"{api}/mlflow/runs/create", json={"experiment_id": "0"})
        run = made.json()["run"]["info"]
        base = run["artifact_uri"].removeprefix("mlflow-artifacts:/")
        files = {
            "evil.html": EVIL.encode(),
            "pic.svg": SVG.encode(),
            "data/scores.csv": _csv(),
            "plots/swatch.png": _png(160, 90),
            "notes.txt": b"hello\n",
        }
        for path, body in files.items():
            put = httpx.put(f"{api}/mlflow-artifacts/artifacts/{base}/{path}", content=body)
            assert put.status_code == 200, put.text
        yield server, run["run_id"]


def test_previews_render_and_folders_open(
    served: tuple[ServerProcess, str], browser_context: BrowserContext, shots: Shots
) -> None:
    server, run_id = served
    page = browser_context.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.goto(f"{server.url}/runs/{run_id}/artifacts?path=data/scores.csv")
    assert page.locator(".artifact-table tbody tr").count() == 100
    assert page.locator(".artifact-table thead th").all_text_contents() == [
        "#",
        "step",
        "alpha",
        "rmse",
        "label",
    ]
    shots(page, "csv preview")
    page.goto(f"{server.url}/runs/{run_id}/artifacts?path=plots/swatch.png")
    image = page.locator(".artifact-image img")
    image.wait_for()
    page.wait_for_function("document.querySelector('.artifact-image img').complete")
    assert image.evaluate("img => img.naturalWidth") == 160
    shots(page, "image preview")
    page.goto(f"{server.url}/runs/{run_id}/artifacts")
    assert page.locator("a[title='plots/swatch.png']").count() == 0
    page.locator("summary", has_text="plots").click()
    page.locator("a[title='plots/swatch.png']").wait_for()
    shots(page, "tree opened")
    assert errors == []


@pytest.mark.parametrize("name", ["evil.html", "pic.svg"])
def test_an_uploaded_page_cannot_run_script(
    served: tuple[ServerProcess, str],
    browser_context: BrowserContext,
    shots: Shots,
    name: str,
) -> None:
    server, run_id = served
    browser_context.add_cookies([{"name": "probe", "value": "secret", "url": server.url}])
    # An init script runs in every document despite the CSP: it records messages posted
    # to the UI page (the sandboxed document's one way out).
    browser_context.add_init_script(
        "window.__posted = [];"
        "addEventListener('message', e => window.__posted.push(String(e.data)));"
    )
    page = browser_context.new_page()
    page.goto(f"{server.url}/runs/{run_id}/artifacts?path={name}")
    frame = page.frame_locator("iframe.artifact-frame")
    if name == "evil.html":
        assert frame.locator("#h").text_content() == "static part"
    else:
        assert frame.locator("text").text_content() == "svg text"
        assert frame.locator("svg").get_attribute("data-ran") is None
    page.wait_for_timeout(500)
    assert page.evaluate("window.__posted") == []
    assert "pwned" not in page.title()
    assert page.locator("iframe.artifact-frame").get_attribute("sandbox") == ""
    shots(page, f"sandboxed {name}")

    top = browser_context.new_page()  # the raw URL opened on its own
    top.goto(f"{server.url}/runs/{run_id}/artifact?path={name}")
    top.wait_for_timeout(300)
    if name == "evil.html":
        assert top.locator("#h").text_content() == "static part"
        assert top.title() == "static"
    else:
        assert top.locator("svg").get_attribute("data-ran") is None


def test_download_links_save_the_bytes(
    served: tuple[ServerProcess, str], browser_context: BrowserContext, tmp_path: Path
) -> None:
    server, run_id = served
    page = browser_context.new_page()
    page.goto(f"{server.url}/runs/{run_id}/artifacts?path=evil.html")
    with page.expect_download() as caught:
        page.locator(".artifact-head a.button", has_text="Download").click()
    saved = tmp_path / "saved.html"
    caught.value.save_as(saved)
    assert caught.value.suggested_filename == "evil.html"
    assert saved.read_text() == EVIL
