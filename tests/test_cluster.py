"""``zdce batch --cluster`` on a real Dask distributed cluster of two worker processes on 127.0.0.1."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from test_batch import GOOD, hashes, make_mixed_folder, zdce_here
from zdce_core.io.images import read_photo

try:
    import dask
    import distributed

    from zdce_core.app import cluster
except ImportError as exc:
    if os.environ.get("CI"):
        raise  # scripts/setup.sh installs the dask extra: without it CI fails, never skips
    pytest.skip(f"needs the dask extra: pip install -e '.[dask]' ({exc})", allow_module_level=True)

# One worker death is retried, two fail the photo: keeps the repeated-crash test short.
ALLOWED_FAILURES = 1
SCHEDULER_CONFIG = {
    **cluster.SCHEDULER_CONFIG, **cluster.WORKER_CONFIG, "distributed.scheduler.allowed-failures": ALLOWED_FAILURES
}


@pytest.fixture(scope="module")
def scheduler():
    """A LocalCluster of 2 single-threaded worker processes, set up as docs/cluster.md advises; yields (address, client)."""
    # Dask's nanny writes OMP_NUM_THREADS=1 and other thread settings into this process's environment
    # for good (distributed's pre-spawn-environ): the tests after these must not start programs with them.
    environment = dict(os.environ)
    try:
        with dask.config.set(SCHEDULER_CONFIG):
            with distributed.LocalCluster(
                n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address="127.0.0.1:0"
            ) as local, distributed.Client(local, set_as_default=False) as client:
                yield local.scheduler_address, client
    finally:
        os.environ.clear()
        os.environ.update(environment)


@pytest.fixture
def own_scheduler():
    """A cluster like ``scheduler``'s for one test that kills workers again and again.

    After the poison test's kills the shared cluster was twice left with one worker for good (the
    next test waited 120 s for its second; in 5 and 1 runs of 20-run loops, under load 13-17); where
    in Dask's nanny the restart was lost is not pinned down. Its own cluster keeps the shared one whole.
    """
    environment = dict(os.environ)
    try:
        with dask.config.set(SCHEDULER_CONFIG):
            with distributed.LocalCluster(
                n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address="127.0.0.1:0"
            ) as local, distributed.Client(local, set_as_default=False) as client:
                yield local.scheduler_address, client
    finally:
        os.environ.clear()
        os.environ.update(environment)


def _two_workers(client) -> dict[str, dict[str, int]]:
    client.wait_for_workers(2, timeout=120)
    return client.run(cluster.worker_stats)


def _pids(client) -> dict[str, int]:
    """Worker address -> process id, for the workers that answer (one may be dying)."""
    return client.run(os.getpid, on_error="ignore")


def _photos(folder: Path, count: int, size: tuple[int, int] = (96, 128)) -> list[Path]:
    folder.mkdir(parents=True)
    rng = np.random.default_rng(3)
    paths = []
    for i in range(count):
        pixels = (rng.random((*size, 3)) * 40 + i).astype(np.uint8)
        path = folder / f"night{i:02d}.png"
        Image.fromarray(pixels).save(path)
        paths.append(path)
    return paths


def _visible(folder: Path) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file() and not p.name.startswith(".")}


def _statuses(stdout: str, root: Path) -> dict[str, tuple[str, str]]:
    report = json.loads(stdout)
    return {str(Path(r["source"]).relative_to(root)): (r["status"], r["reason"]) for r in report["results"]}


def test_cluster_batch_equals_local_batch_and_loads_the_model_once_per_worker(
    scheduler, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    address, client = scheduler
    shots = tmp_path / "shots"
    make_mixed_folder(shots)
    before = _two_workers(client)
    local = zdce_here(capsys, "batch", shots, "-r", "-o", tmp_path / "local", "--workers", "2", "--json")
    remote = zdce_here(capsys, "batch", shots, "-r", "-o", tmp_path / "remote", "--cluster", address, "--json")
    assert local.returncode == remote.returncode == 1, remote.stderr
    # The same files with the same bytes (lossless and lossy alike: the same engine, one thread per photo).
    assert hashes(tmp_path / "remote") == hashes(tmp_path / "local")
    assert _visible(tmp_path / "remote") == GOOD
    # Bad files fail with the same reasons; the summary counts the same.
    assert _statuses(remote.stdout, shots) == _statuses(local.stdout, shots)
    assert {k: json.loads(remote.stdout)[k] for k in ("done", "skipped", "failed")} == {"done": 15, "skipped": 0, "failed": 5}

    after = _two_workers(client)
    assert set(after) == set(before), "a worker restarted during the run"
    assert all(stats["model_loads"] == 1 for stats in after.values()), after
    assert sum(a["photos"] - before[w]["photos"] for w, a in after.items()) == 20, "each of the 20 jobs ran once"

    # A rerun with --skip-existing writes nothing; only the 5 bad files (no output) are tried again.
    written = {p: p.stat().st_mtime_ns for p in (tmp_path / "remote").rglob("*")}
    rerun = zdce_here(capsys, "batch", shots, "-r", "-o", tmp_path / "remote", "--cluster", address, "--skip-existing")
    assert rerun.returncode == 1
    assert "0 done, 15 skipped, 5 failed" in rerun.stdout
    assert {p: p.stat().st_mtime_ns for p in (tmp_path / "remote").rglob("*")} == written
    again = _two_workers(client)
    assert all(stats["model_loads"] == 1 for stats in again.values()), "the second batch loaded the model again"
    # The engine plug-in reset each worker's heap: arrays reuse memory instead of new mappings.
    assert all(faults < 10 for faults in client.run(page_faults_per_array).values())


def page_faults_per_array() -> float:
    """Minor page faults of this process per 8 MiB array made and dropped (after one untimed)."""
    import resource

    np.ones(2**20)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(20):
        np.ones(2**20)
    return (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) / 20


def test_reset_heap_undoes_the_nannys_trim_threshold() -> None:
    # The variable as Dask's nanny sets it: every photo-sized array is a fresh mapping, faulted in page by
    # page (about 500 faults per 8 MiB here, the kernel mapping several pages per fault); after the reset none.
    code = (
        "import json, test_cluster; from zdce_core.app import cluster;"
        "before = test_cluster.page_faults_per_array(); reset = cluster.reset_heap();"
        "print(json.dumps([before, reset, test_cluster.page_faults_per_array()]))"
    )
    env = {**os.environ, "MALLOC_TRIM_THRESHOLD_": "65536", "PYTHONPATH": str(Path(__file__).parent)}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    before, reset, after = json.loads(out.stdout)
    assert reset is True
    assert before > 100, before
    assert after < 10, after


def _executing(dask_worker) -> list[str]:
    return [task.key for task in dask_worker.state.executing]


class Killer:
    """Kills (SIGKILL) each worker process seen executing a photo named ``name``, at most ``limit`` of them.

    Stands in for a decoder crash, the kernel's OOM killer or a lost node. Chosen by photo, not by
    time: a kill that waits for outputs to appear races the run (fast workers finish first). Only a
    worker executing the photo is killed, as a crash would: one the scheduler has merely assigned it
    to may still be starting (loading the model), and a nanny whose new worker dies before reporting
    its start gives up restarting it ("Failed to restart worker after its process exited" in
    distributed's nanny), which once left the next test waiting 120 s for its second worker.
    """

    def __init__(self, client, name: str, limit: int) -> None:
        self.client, self.name, self.limit = client, name, limit
        self.kills: list[int] = []
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)

    def _watch(self) -> None:
        while not self._done.is_set() and len(self.kills) < self.limit:
            pids = _pids(self.client)
            for worker, keys in self.client.run(_executing, on_error="ignore").items():
                pid = pids.get(worker)
                if pid and pid not in self.kills and any(key.endswith(f"-{self.name}") for key in keys):
                    os.kill(pid, signal.SIGKILL)
                    self.kills.append(pid)
            time.sleep(0.02)

    def __enter__(self) -> Killer:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._done.set()
        self._thread.join()


def test_worker_killed_mid_run_still_gives_every_output(scheduler, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    address, client = scheduler
    photos = _photos(tmp_path / "in", 24, size=(240, 320))
    _two_workers(client)
    reference = zdce_here(capsys, "batch", tmp_path / "in", "-o", tmp_path / "ref", "--workers", "2", "-q")
    assert reference.returncode == 0, reference.stderr
    out = tmp_path / "out"
    # A photo in the middle: 12 photos are queued behind it when its worker dies.
    with Killer(client, photos[12].name, limit=1) as killer:
        result = zdce_here(capsys, "batch", tmp_path / "in", "-o", out, "--cluster", address, "--json")
    assert len(killer.kills) == 1, "no worker was seen processing the photo"
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert (report["done"], report["failed"]) == (len(photos), 0)
    # Complete, valid and the same as an undisturbed run: redone photos replaced atomically.
    # A killed writer may leave its hidden ".NAME.*.part" temporary; planning never picks those up.
    assert {k: v for k, v in hashes(out).items() if not Path(k).name.startswith(".")} == hashes(tmp_path / "ref")
    for path in photos:
        read_photo(out / path.name)
    assert killer.kills[0] not in _pids(client).values()


def test_a_photo_that_kills_every_worker_fails_after_bounded_tries(
    own_scheduler, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    address, client = own_scheduler
    photos = _photos(tmp_path / "in", 6)
    poison = _photos(tmp_path / "big", 1, size=(1200, 1600))[0].rename(tmp_path / "in" / "poison.png")
    _two_workers(client)
    with Killer(client, poison.name, limit=ALLOWED_FAILURES + 1) as killer:
        result = zdce_here(capsys, "batch", tmp_path / "in", "-o", tmp_path / "out", "--cluster", address)
    assert result.returncode == 1, result.stderr
    assert "6 done, 0 skipped, 1 failed" in result.stdout
    assert f"failed: {poison}: the worker processing it died each time after {ALLOWED_FAILURES + 1} tries" in result.stdout
    assert len(set(killer.kills)) == ALLOWED_FAILURES + 1, killer.kills
    assert _visible(tmp_path / "out") == {p.name for p in photos}


def test_interrupt_cancels_what_has_not_started_and_reports_what_finished(scheduler, tmp_path: Path) -> None:
    address, client = scheduler
    photos = _photos(tmp_path / "in", 40)
    _two_workers(client)
    out = tmp_path / "out"
    args = [sys.executable, "-m", "zdce_core", "batch", tmp_path / "in", "-o", out, "--cluster", address, "--json"]
    proc = subprocess.Popen(list(map(str, args)), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while not (out.exists() and _visible(out)) and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 130, stderr
    report = json.loads(stdout)
    assert report["interrupted"] is True
    time.sleep(1)  # anything still running on a worker would write now
    assert 1 <= report["done"] < len(photos)
    assert report["done"] == len(_visible(out))


def test_unreachable_scheduler_fails_fast_with_one_line(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    _photos(tmp_path / "in", 1)
    start = time.monotonic()
    result = zdce_here(capsys, "batch", tmp_path / "in", "-o", tmp_path / "out", "--cluster", f"tcp://127.0.0.1:{port}")
    elapsed = time.monotonic() - start
    assert result.returncode == 2
    assert elapsed < 15, f"took {elapsed:.1f} s"
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert f"tcp://127.0.0.1:{port}" in result.stderr and "dask scheduler" in result.stderr
    assert not (tmp_path / "out").exists() or not _visible(tmp_path / "out")


def test_malformed_local_cluster_is_a_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    _photos(tmp_path / "in", 1)
    result = zdce_here(capsys, "batch", tmp_path / "in", "-o", tmp_path / "out", "--cluster", "local:zero")
    assert result.returncode == 2
    assert "local:N" in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_workers_with_cluster_is_a_usage_error_not_ignored(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    _photos(tmp_path / "in", 1)
    result = zdce_here(capsys, "batch", tmp_path / "in", "-o", tmp_path / "out", "--cluster", "local:2", "--workers", "2")
    assert result.returncode == 2
    assert "--workers does not apply with --cluster" in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "out").exists()


def test_without_the_dask_extra_the_error_names_the_install_command(
    tmp_path: Path, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    _photos(tmp_path / "in", 1)
    # None in sys.modules makes `import distributed` fail exactly as when it is not installed.
    monkeypatch.setitem(sys.modules, "distributed", None)
    monkeypatch.delitem(sys.modules, "zdce_core.app.cluster")
    monkeypatch.delattr("zdce_core.app.cluster")
    result = zdce_here(capsys, "batch", tmp_path / "in", "-o", tmp_path / "out", "--cluster", "local:2")
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "zdce: error: --cluster needs Dask distributed; install it with: pip install 'zdce[dask]' (see zdce batch --help)"
    )


def test_file_urls_name_local_folders(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    # Object storage URLs (s3://, gs://): tests/test_remote.py.
    photos = _photos(tmp_path / "night shots", 2)
    out = tmp_path / "out"
    result = zdce_here(capsys, "batch", (tmp_path / "night shots").as_uri(), "-o", out.as_uri(), "-q")
    assert result.returncode == 0, result.stderr
    assert _visible(out) == {p.name for p in photos}
