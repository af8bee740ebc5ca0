"""Several writers on one output folder, and signals (issue 21, defect 6 and the SIGHUP case).

Real processes and real files; each test failed on the code before its fix.
"""

from __future__ import annotations

import fcntl
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from zdce_core.io import atomic
from zdce_core.io.atomic import remove_stale

# A writer in another PID namespace: it holds its temporary's lock, and its PID means nothing here.
_HOLDER = (
    "import fcntl, os, sys, time\n"
    "fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT)\n"
    "fcntl.flock(fd, fcntl.LOCK_EX)\n"
    "print('locked', flush=True)\n"
    "time.sleep(60)\n"
)


def _dead_pid() -> int:
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    return gone.pid


def test_live_writer_elsewhere_is_never_robbed(tmp_path: Path) -> None:
    # Named as zdce names its temporaries, with a PID that is dead here (it lives in another namespace).
    theirs = tmp_path / f".photo.jpg.{_dead_pid()}-abcdefgh.part"
    holder = subprocess.Popen([sys.executable, "-c", _HOLDER, str(theirs)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        assert remove_stale(tmp_path) == []
        assert theirs.exists()
    finally:
        holder.kill()
        holder.wait()
    # Its writer gone (lock released), the same file is a leftover.
    assert remove_stale(tmp_path) == [theirs]


def test_other_hosts_temporary_is_judged_by_age(tmp_path: Path) -> None:
    other = "0123abcd" if atomic.HOST != "0123abcd" else "abcd0123"
    fresh = tmp_path / f".a.jpg.{other}-{_dead_pid()}-abcdefgh.part"
    old = tmp_path / f".b.jpg.{other}-{os.getpid()}-abcdefgh.part"
    for path in (fresh, old):
        path.write_bytes(b"partial")
    past = time.time() - atomic.STALE_AFTER - 60
    os.utime(old, (past, past))
    assert remove_stale(tmp_path) == [old]
    assert fresh.exists()


def test_photo_whose_temporary_vanished_is_written_again(tmp_path: Path) -> None:
    target = tmp_path / "photo.png"
    tries = []

    def write(tmp: Path) -> None:
        Image.fromarray(np.full((4, 5, 3), len(tries) * 40, np.uint8)).save(tmp, format="PNG")
        tries.append(tmp)
        if len(tries) == 1:
            tmp.unlink()  # what another run's stale-file sweep did to the first try

    atomic.atomic_write(target, write)
    assert len(tries) == 2
    assert np.asarray(Image.open(target)).max() == 40
    assert [p.name for p in tmp_path.iterdir()] == ["photo.png"]


def test_two_batches_on_one_folder_both_finish(tmp_path: Path) -> None:
    # Each batch sweeps the output folder when it starts; neither may take the other's temporaries.
    folder = tmp_path / "in"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for i in range(6):
        Image.fromarray(rng.integers(0, 60, (300, 400, 3), dtype=np.uint8)).save(folder / f"p{i}.png")
    out = tmp_path / "out"
    runs = [
        subprocess.Popen(
            [sys.executable, "-m", "zdce_core", "batch", str(folder), "-o", str(out), "--json"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        for _ in range(2)
    ]
    for run in runs:
        stdout, stderr = run.communicate(timeout=300)
        assert run.returncode == 0, stderr
        assert json.loads(stdout)["failed"] == 0
    assert sorted(p.name for p in out.iterdir()) == [f"p{i}.png" for i in range(6)]


def test_sighup_is_treated_like_sigterm(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    rng = np.random.default_rng(1)
    for i in range(40):
        Image.fromarray(rng.integers(0, 60, (400, 600, 3), dtype=np.uint8)).save(folder / f"p{i:02}.png")
    out = tmp_path / "out"
    proc = subprocess.Popen(
        [sys.executable, "-m", "zdce_core", "batch", str(folder), "-o", str(out), "--json"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    deadline = time.monotonic() + 120
    while not (out.exists() and any(p.suffix == ".png" for p in out.iterdir())) and time.monotonic() < deadline:
        time.sleep(0.01)
    proc.send_signal(signal.SIGHUP)
    stdout, _ = proc.communicate(timeout=120)
    assert proc.returncode == 128 + signal.SIGHUP
    summary = json.loads(stdout)
    assert summary["interrupted"]
    written = sorted(p.name for p in out.iterdir())
    assert not [n for n in written if n.endswith(".part")], written
    assert summary["done"] == len(written) >= 1
    assert 0 < len(written) < 40


def test_atomic_write_lock_is_held_while_writing(tmp_path: Path) -> None:
    seen = []

    def write(tmp: Path) -> None:
        fd = os.open(tmp, os.O_RDWR)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            seen.append("locked")
        finally:
            os.close(fd)
        tmp.write_bytes(b"x")

    atomic.atomic_write(tmp_path / "f.bin", write)
    assert seen == ["locked"]


@pytest.mark.parametrize("engine", [["--workers", "2"], ["--cluster", "local:2"]], ids=["threads", "dask"])
def test_summary_after_two_interrupts_matches_the_disk(tmp_path: Path, engine: list[str]) -> None:
    # Also seen: after two Ctrl-C on a Dask run the summary counted 2 done with 4 whole files on disk.
    folder = tmp_path / "in"
    folder.mkdir()
    rng = np.random.default_rng(2)
    for i in range(16):
        Image.fromarray(rng.integers(0, 60, (600, 800, 3), dtype=np.uint8)).save(folder / f"p{i:02}.png")
    out = tmp_path / "out"
    proc = subprocess.Popen(
        [sys.executable, "-m", "zdce_core", "batch", str(folder), "-o", str(out), "--json", *engine],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    deadline = time.monotonic() + 240

    def written() -> list[str]:
        return sorted(p.name for p in out.glob("*.png")) if out.exists() else []

    while not written() and time.monotonic() < deadline:
        time.sleep(0.01)
    proc.send_signal(signal.SIGINT)
    # The second Ctrl-C once the first is seen, while photos are still in flight (a fixed pause may
    # let a loaded machine finish them first, and the signal then meets a process already exiting).
    seen = []
    while not seen or not seen[-1].startswith("zdce batch: stopping"):
        seen.append(proc.stderr.readline())
        assert seen[-1], "the batch ended before it reported stopping"
    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=240)
    assert proc.returncode == 128 + signal.SIGINT, "".join(seen) + stderr
    summary = json.loads(stdout)
    done = sorted(Path(r["source"]).name for r in summary["results"] if r["status"] == "done")
    assert done == written(), "the summary does not match the outputs on disk"
