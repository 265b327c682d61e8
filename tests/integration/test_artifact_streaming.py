"""A 1 GiB artifact goes through a real ``kiln server``'s proxy with flat server memory.

The body is PUT from a generator of 1 MiB chunks (the test never holds the file)
and read back with a streaming GET. A sampler thread reads the server's ``VmRSS``
(its own plus any children's) from ``/proc`` during each transfer; the peak growth
over the idle baseline must stay under ``RSS_BUDGET``, which a server buffering the
body (1 GiB) could not meet. Sizes and sha256 digests are checked on the stored file
and on the downloaded stream.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from kiln.testing.server import server_process

pytestmark = [pytest.mark.integration, pytest.mark.slow]

MIB = 1024 * 1024
CHUNKS = 1024  # 1 GiB in all
SIZE = CHUNKS * MIB
RSS_BUDGET = 150 * MIB
API = "/api/2.0/mlflow"
PROXY = "/api/2.0/mlflow-artifacts/artifacts"


def _rss_bytes(pid: int) -> int:
    """VmRSS of ``pid`` plus that of all its descendants (0 for a vanished process)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return 0
    total = 0
    for line in status.splitlines():
        if line.startswith("VmRSS:"):
            total = int(line.split()[1]) * 1024
    for task in Path(f"/proc/{pid}/task").glob("*/children"):
        try:
            children = task.read_text().split()
        except FileNotFoundError:
            continue
        total += sum(_rss_bytes(int(child)) for child in children)
    return total


class PeakRss:
    """Samples ``_rss_bytes(pid)`` in a thread between ``__enter__`` and ``__exit__``."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.peak = 0
        self.samples = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while True:
            self.peak = max(self.peak, _rss_bytes(self.pid))
            self.samples += 1
            if self._stop.wait(0.01):
                return

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, _rss_bytes(self.pid))


def _chunk(index: int, base: bytes) -> bytes:
    """The ``index``-th 1 MiB chunk: ``base`` with the index stamped in front (all distinct)."""
    return index.to_bytes(8, "big") + base[8:]


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        while block := stream.read(MIB):
            digest.update(block)
    return digest.hexdigest()


def test_one_gib_artifact_streams_through_the_proxy_with_flat_server_memory(
    tmp_path: Path,
) -> None:
    base = hashlib.shake_256(b"kiln artifact streaming").digest(MIB)
    sent = hashlib.sha256()

    def body() -> Iterator[bytes]:
        for index in range(CHUNKS):
            chunk = _chunk(index, base)
            sent.update(chunk)
            yield chunk

    with server_process(f"sqlite:///{tmp_path / 'kiln.db'}", tmp_path / "server") as server:
        assert server.process is not None
        pid = server.process.pid
        with httpx.Client(base_url=server.url, timeout=120) as http:
            created = http.post(f"{API}/runs/create", json={"experiment_id": "0"})
            created.raise_for_status()
            run_id = created.json()["run"]["info"]["run_id"]
            url = f"{PROXY}/0/{run_id}/artifacts/big.bin"
            # warm the upload and download paths so the baseline includes their code
            http.put(f"{PROXY}/0/{run_id}/artifacts/warm.bin", content=b"x").raise_for_status()
            http.get(f"{PROXY}/0/{run_id}/artifacts/warm.bin").raise_for_status()

            baseline = _rss_bytes(pid)
            started = time.monotonic()
            with PeakRss(pid) as upload_rss:
                response = http.put(url, content=body())
            upload_s = time.monotonic() - started
            response.raise_for_status()

            stored = tmp_path / "server" / "artifacts" / "0" / run_id / "artifacts" / "big.bin"
            assert stored.stat().st_size == SIZE
            assert _file_sha256(stored) == sent.hexdigest()

            received = hashlib.sha256()
            received_bytes = 0
            download_baseline = _rss_bytes(pid)
            started = time.monotonic()
            with PeakRss(pid) as download_rss, http.stream("GET", url) as streamed:
                streamed.raise_for_status()
                for block in streamed.iter_bytes():
                    received.update(block)
                    received_bytes += len(block)
            download_s = time.monotonic() - started
            stored.unlink()

    upload_growth = upload_rss.peak - baseline
    download_growth = download_rss.peak - download_baseline
    report = (
        f"upload {upload_s:.1f} s peak RSS +{upload_growth / MIB:.1f} MiB "
        f"({upload_rss.samples} samples, baseline {baseline / MIB:.1f} MiB); "
        f"download {download_s:.1f} s peak RSS +{download_growth / MIB:.1f} MiB "
        f"({download_rss.samples} samples)"
    )
    print(report)
    assert upload_rss.samples > 10, report
    assert upload_growth < RSS_BUDGET, report
    assert received_bytes == SIZE
    assert received.hexdigest() == sent.hexdigest()
    assert download_rss.samples > 10, report
    assert download_growth < RSS_BUDGET, report
