"""A real browser for the web UI's tests: Playwright driving Debian's headless Chromium.

``chromium()`` launches ``/usr/bin/chromium`` through Playwright's sync API
(``executable_path``: never ``playwright install``, which downloads a browser and
fails here) with the flags that work on a headless box without a sandbox or GPU.
Playwright gives every launch a fresh temporary profile (user-data dir), so no
cookie or cache survives from one session to the next.

Fixtures (registered by tests/conftest.py): ``browser`` is one Chromium for the
whole pytest session (per xdist worker: keep browser tests in one or two files);
``browser_context`` is a fresh context (its own cookies and storage) per test.
``shots`` saves screenshots under the test's tmp dir and, when ``KILN_SCREENSHOTS``
names a folder, there too, so a person can look at them after the run.

When ``/usr/bin/chromium`` is missing the browser tests fail if ``CI`` is set (CI
must run them; .ci/run installs it) and are skipped otherwise
(``apt-get install -y chromium``).
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from playwright.sync_api import Browser, BrowserContext, Page

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-quic",
    "--disable-sync",
)
SCREENSHOTS_ENV = "KILN_SCREENSHOTS"
VIEWPORT_WIDTH, VIEWPORT_HEIGHT = 1280, 800


@contextmanager
def chromium() -> Iterator[Browser]:
    """Headless Debian Chromium under Playwright, closed (with Playwright) on exit."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=list(CHROMIUM_ARGS)
        )
        try:
            yield browser
        finally:
            browser.close()


@dataclass
class Shots:
    """Numbered full-page screenshots of one test: ``folder/NN-name.png``, copied into
    ``$KILN_SCREENSHOTS/<prefix>`` when that is set."""

    folder: Path
    prefix: str
    taken: list[Path] = field(default_factory=list)

    def __call__(self, page: Page, name: str) -> Path:
        slug = re.sub(r"[^A-Za-z0-9_.-]+", "-", name).strip("-")
        path = self.folder / f"{len(self.taken) + 1:02d}-{slug}.png"
        page.screenshot(path=str(path), full_page=True)
        self.taken.append(path)
        keep = os.environ.get(SCREENSHOTS_ENV)
        if keep:
            target = Path(keep) / self.prefix
            target.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, target / path.name)
        return path


def _need_chromium() -> None:
    if Path(CHROMIUM).exists():
        return
    reason = f"{CHROMIUM} is missing"
    if os.environ.get("CI"):
        pytest.fail(f"{reason}; CI must run the browser tests (apt-get install -y chromium)")
    pytest.skip(f"{reason} (apt-get install -y chromium)")


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """One headless Chromium per test module (each test gets its own context).

    Not per session: while Playwright's sync API is running, its event loop counts
    as running in the main thread, so every later test of the same worker that calls
    ``asyncio.run`` would fail ("cannot be called from a running event loop").
    """
    _need_chromium()
    with chromium() as launched:
        yield launched


@pytest.fixture
def browser_context(browser: Browser) -> Iterator[BrowserContext]:
    """A fresh context: no cookies or storage from another test."""
    context = browser.new_context(viewport={"width": VIEWPORT_WIDTH, "height": VIEWPORT_HEIGHT})
    context.set_default_timeout(15_000)
    try:
        yield context
    finally:
        context.close()


@pytest.fixture
def shots(tmp_path: Path, request: pytest.FixtureRequest) -> Shots:
    """This test's screenshot taker (see ``Shots``)."""
    folder = tmp_path / "screenshots"
    folder.mkdir()
    return Shots(folder, re.sub(r"[^A-Za-z0-9_.-]+", "-", request.node.name))


__all__ = [
    "CHROMIUM",
    "CHROMIUM_ARGS",
    "SCREENSHOTS_ENV",
    "Shots",
    "browser",
    "browser_context",
    "chromium",
    "shots",
]
