"""System metrics of a run, as MLflow logs them: ``kiln.enable_system_metrics_logging()``
or ``start_run(log_system_metrics=True)``.

While the run is active a daemon thread samples the machine every sampling interval
(10 s by default) and, every ``samples_before_logging`` samples (1), logs their
average under MLflow's names: ``system/cpu_utilization_percentage``,
``system/system_memory_usage_megabytes`` and ``..._percentage``,
``system/disk_usage_percentage``, ``system/disk_usage_megabytes``,
``system/disk_available_megabytes``, ``system/network_receive_megabytes`` and
``system/network_transmit_megabytes`` (since monitoring began), at steps 0, 1, ...
(after the run's last system step when a run is resumed). A node id puts them under
``system/<node id>/``. GPU metrics are not collected.

The readings come from ``psutil`` when it is installed, else from Linux's ``/proc``;
with neither, a warning says so and the run goes on unmonitored. Settings are this
process's (the setters), else MLflow's variables ``MLFLOW_ENABLE_SYSTEM_METRICS_LOGGING``,
``MLFLOW_SYSTEM_METRICS_SAMPLING_INTERVAL``, ``..._SAMPLES_BEFORE_LOGGING`` and
``..._NODE_ID``.
"""

from __future__ import annotations

import importlib
import logging
import os
import shutil
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from kiln.entities import Metric
from kiln.errors import InvalidInput, KilnError

if TYPE_CHECKING:
    from kiln.tracking.client import KilnClient

_log = logging.getLogger(__name__)
PREFIX = "system/"
ENABLE_ENV = "MLFLOW_ENABLE_SYSTEM_METRICS_LOGGING"
INTERVAL_ENV = "MLFLOW_SYSTEM_METRICS_SAMPLING_INTERVAL"
SAMPLES_ENV = "MLFLOW_SYSTEM_METRICS_SAMPLES_BEFORE_LOGGING"
NODE_ENV = "MLFLOW_SYSTEM_METRICS_NODE_ID"
DEFAULT_INTERVAL_S = 10.0
_MB = 1e6
_settings: dict[str, object] = {}  # what the setters chose; None: back to the variable
_monitors: dict[str, _Monitor] = {}
_lock = threading.Lock()
Sampler = Callable[[], dict[str, float]]


def enable_system_metrics_logging() -> None:
    """Monitor every run this process starts (``start_run`` may still say otherwise)."""
    _settings["enabled"] = True


def disable_system_metrics_logging() -> None:
    _settings["enabled"] = False


def set_system_metrics_sampling_interval(interval: float | None) -> None:
    """Seconds between samples; None: the variable, else 10."""
    _settings["interval"] = None if interval is None else _positive("interval", interval)


def set_system_metrics_samples_before_logging(samples: int | None) -> None:
    """Samples averaged into each logged point; None: the variable, else 1."""
    _settings["samples"] = None if samples is None else int(_positive("samples", samples))


def set_system_metrics_node_id(node_id: str | None) -> None:
    """Log under ``system/<node_id>/`` (one name per machine of a distributed run)."""
    _settings["node_id"] = node_id


def _positive(name: str, value: float) -> float:
    if not isinstance(value, (int, float)) or value <= 0:
        raise InvalidInput(f"the system metrics {name} must be a positive number, got {value!r}")
    return float(value)


def _setting(key: str, env: str) -> str | None:
    chosen = _settings.get(key)
    if chosen is not None:
        return str(chosen)
    return os.environ.get(env) or None


def enabled() -> bool:
    """Whether runs are monitored when ``start_run`` leaves ``log_system_metrics`` unset."""
    raw = _setting("enabled", ENABLE_ENV)
    return raw is not None and raw.strip().lower() in ("true", "1")


# readings ---------------------------------------------------------------------------
def _psutil_sampler() -> Sampler | None:
    try:
        psutil = importlib.import_module("psutil")
    except ImportError:
        return None

    def sample() -> dict[str, float]:
        memory, disk = psutil.virtual_memory(), psutil.disk_usage(os.sep)
        net = psutil.net_io_counters()
        return {
            "cpu_utilization_percentage": psutil.cpu_percent(),
            "system_memory_usage_megabytes": memory.used / _MB,
            "system_memory_usage_percentage": memory.percent,
            "disk_usage_percentage": disk.percent,
            "disk_usage_megabytes": disk.used / _MB,
            "disk_available_megabytes": disk.free / _MB,
            "network_receive_bytes": float(net.bytes_recv),
            "network_transmit_bytes": float(net.bytes_sent),
        }

    return sample


def _proc_sampler(root: Path = Path("/proc")) -> Sampler | None:
    """Readings from Linux's /proc (psutil's formulas) where psutil is not installed."""
    if not (root / "stat").is_file():
        return None
    last: list[float] = []

    def cpu() -> float:
        fields = [float(v) for v in (root / "stat").read_text().split("\n", 1)[0].split()[1:]]
        idle, total = fields[3] + (fields[4] if len(fields) > 4 else 0.0), sum(fields[:8])
        busy = 0.0
        if last and total > last[1]:
            busy = 100.0 * (1.0 - (idle - last[0]) / (total - last[1]))
        last[:] = [idle, total]
        return round(busy, 1)

    def sample() -> dict[str, float]:
        info = {}
        for line in (root / "meminfo").read_text().splitlines():
            name, _, rest = line.partition(":")
            info[name] = float(rest.split()[0]) * 1024 if rest.split() else 0.0
        used = info["MemTotal"] - info.get("MemAvailable", info.get("MemFree", 0.0))
        disk = shutil.disk_usage(os.sep)
        received = sent = 0.0
        for line in (root / "net" / "dev").read_text().splitlines()[2:]:
            counters = line.partition(":")[2].split()
            received, sent = received + float(counters[0]), sent + float(counters[8])
        return {
            "cpu_utilization_percentage": cpu(),
            "system_memory_usage_megabytes": used / _MB,
            "system_memory_usage_percentage": round(100.0 * used / info["MemTotal"], 1),
            "disk_usage_percentage": round(100.0 * disk.used / (disk.used + disk.free), 1),
            "disk_usage_megabytes": disk.used / _MB,
            "disk_available_megabytes": disk.free / _MB,
            "network_receive_bytes": received,
            "network_transmit_bytes": sent,
        }

    cpu()  # the first CPU reading is the baseline of the next
    return sample


def default_sampler() -> Sampler | None:
    return _psutil_sampler() or _proc_sampler()


# monitoring -------------------------------------------------------------------------
class _Monitor:
    """The thread that samples and logs one run's system metrics."""

    def __init__(self, client: KilnClient, run_id: str, sampler: Sampler, first_step: int) -> None:
        self.client, self.run_id, self.sampler, self.step = client, run_id, sampler, first_step
        self.interval = float(_setting("interval", INTERVAL_ENV) or DEFAULT_INTERVAL_S)
        self.samples = int(_setting("samples", SAMPLES_ENV) or 1)
        node = _setting("node_id", NODE_ENV)
        self.prefix = PREFIX + (f"{node}/" if node else "")
        self.stop = threading.Event()
        self.baseline = sampler()  # network counters count from here
        self.thread = threading.Thread(target=self._run, name="kiln-system-metrics", daemon=True)

    def _run(self) -> None:
        while not self.stop.is_set():
            readings: list[dict[str, float]] = []
            while len(readings) < self.samples:
                if self.stop.wait(self.interval):
                    return
                readings.append(self.sampler())
            try:
                self._log(readings)
            except KilnError as exc:  # the run or store went away: stop quietly
                _log.warning("system metrics of run %s stopped: %s", self.run_id, exc)
                return

    def _log(self, readings: list[dict[str, float]]) -> None:
        values = {k: round(sum(r[k] for r in readings) / len(readings), 1) for k in readings[0]}
        for direction in ("receive", "transmit"):
            total = readings[-1][f"network_{direction}_bytes"]
            values.pop(f"network_{direction}_bytes")
            since = total - self.baseline[f"network_{direction}_bytes"]
            values[f"network_{direction}_megabytes"] = since / _MB
        when = self.client.now()
        points = [Metric(self.prefix + k, v, when, self.step) for k, v in values.items()]
        self.client.log_batch(self.run_id, metrics=points)
        self.step += 1


def _next_step(client: KilnClient, run_id: str) -> int:
    """After the run's last system-metric step (a resumed run), else 0."""
    steps = [
        metric.step
        for key in client.get_run(run_id).data.metrics
        if key.startswith(PREFIX)
        for metric in client.get_metric_history(run_id, key)[-1:]
    ]
    return max(steps) + 1 if steps else 0


def start(
    client: KilnClient, run_id: str, resumed: bool = False, sampler: Sampler | None = None
) -> bool:
    """Monitor ``run_id`` until ``stop``; False (with a warning) when nothing can be read."""
    sampler = sampler or default_sampler()
    if sampler is None:
        _log.warning(
            "cannot log system metrics: install psutil (pip install psutil) on this machine"
        )
        return False
    monitor = _Monitor(client, run_id, sampler, _next_step(client, run_id) if resumed else 0)
    with _lock:
        previous = _monitors.pop(run_id, None)
        _monitors[run_id] = monitor
    if previous is not None:
        previous.stop.set()
    monitor.thread.start()
    return True


def stop(run_id: str) -> None:
    """Stop monitoring ``run_id`` (if it is) and wait for its thread."""
    with _lock:
        monitor = _monitors.pop(run_id, None)
    if monitor is not None:
        monitor.stop.set()
        monitor.thread.join()


__all__ = [
    "PREFIX",
    "default_sampler",
    "disable_system_metrics_logging",
    "enable_system_metrics_logging",
    "enabled",
    "set_system_metrics_node_id",
    "set_system_metrics_samples_before_logging",
    "set_system_metrics_sampling_interval",
    "start",
    "stop",
]
