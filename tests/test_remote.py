"""``zdce batch`` with object storage: a real S3 API server (moto's server mode) on 127.0.0.1.

zdce reaches it as it reaches AWS, through s3fs with the endpoint in ``AWS_ENDPOINT_URL``; the
tests put and inspect objects with boto3, not with zdce's own code.
"""

from __future__ import annotations

import hashlib
import io
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

from test_batch import hashes, zdce_here

try:
    import boto3
    import dask
    import distributed
    import s3fs  # noqa: F401  (zdce's s3:// needs it)
    from moto.server import ThreadedMotoServer

    from test_cluster import Killer
    from zdce_core.app import cluster
except ImportError as exc:
    if os.environ.get("CI"):
        raise  # scripts/setup.sh installs the s3, dask and test extras: without them CI fails, never skips
    pytest.skip(f"needs the s3, dask and test extras: pip install -e '.[s3,dask,test]' ({exc})", allow_module_level=True)

SECRET = "zdce-test-secret-never-printed"


@pytest.fixture(scope="module")
def s3():
    """A moto S3 server on a free loopback port, and the environment zdce (and its workers) find it through."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    environment = dict(os.environ)
    os.environ.update(
        AWS_ENDPOINT_URL=f"http://{host}:{port}",
        AWS_ACCESS_KEY_ID="zdce-test-key",
        AWS_SECRET_ACCESS_KEY=SECRET,
        AWS_DEFAULT_REGION="us-east-1",
        # No profile or credentials file of the person running the tests takes part.
        AWS_CONFIG_FILE=os.devnull,
        AWS_SHARED_CREDENTIALS_FILE=os.devnull,
    )
    try:
        yield boto3.client("s3")
    finally:
        server.stop()
        # Dask's nanny (below) also writes into this process's environment for good.
        os.environ.clear()
        os.environ.update(environment)


@pytest.fixture(scope="module")
def scheduler(s3):
    """Two single-threaded worker processes, started with the S3 environment; yields (address, client)."""
    with dask.config.set({**cluster.SCHEDULER_CONFIG, **cluster.WORKER_CONFIG, "distributed.scheduler.allowed-failures": 1}):
        with distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address="127.0.0.1:0"
        ) as local, distributed.Client(local, set_as_default=False) as client:
            client.wait_for_workers(2, timeout=120)
            yield local.scheduler_address, client


def _photo_bytes(i: int, suffix: str, size: tuple[int, int] = (96, 128)) -> bytes:
    rng = np.random.default_rng(i)
    yy, xx = np.mgrid[0 : size[0], 0 : size[1]]
    base = 20 + 12 * np.sin(xx / (5.0 + i)) * np.cos(yy / 7.0)
    pixels = np.clip(base[..., None] + rng.normal(0, 2, (*size, 3)) + [i, 0, 3], 0, 255).astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="JPEG" if suffix == ".jpg" else "PNG", quality=90)
    return buffer.getvalue()


def _twenty(folder: Path) -> dict[str, bytes]:
    """20 photos (JPEG and PNG, two in a sub-folder), written to ``folder``; name -> bytes."""
    files = {}
    for i in range(20):
        name = f"{'sub/' if i >= 18 else ''}night{i:02d}{'.jpg' if i % 2 else '.png'}"
        files[name] = _photo_bytes(i, Path(name).suffix)
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(files[name])
    return files


def _bucket(s3, name: str, files: dict[str, bytes], prefix: str = "in/") -> str:
    s3.create_bucket(Bucket=name)
    for key, body in files.items():
        s3.put_object(Bucket=name, Key=prefix + key, Body=body)
    return f"s3://{name}/{prefix}"


def _objects(s3, bucket: str, prefix: str) -> dict[str, bytes]:
    keys = [o["Key"] for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
            for o in page.get("Contents", [])]
    return {k.removeprefix(prefix): s3.get_object(Bucket=bucket, Key=k)["Body"].read() for k in keys}


def _sha(objects: dict[str, bytes]) -> dict[str, str]:
    return {k: hashlib.sha256(v).hexdigest() for k, v in objects.items()}


def _report(stdout: str) -> dict:
    return json.loads(stdout)


def test_bucket_to_bucket_is_byte_equal_to_the_local_batch(s3, scheduler, tmp_path: Path, capsys) -> None:
    address, _ = scheduler
    files = _twenty(tmp_path / "in")
    url = _bucket(s3, "archive", files)
    local = zdce_here(capsys, "batch", tmp_path / "in", "-r", "-o", tmp_path / "local", "--workers", "2", "-q")
    assert local.returncode == 0, local.stderr
    reference = hashes(tmp_path / "local")
    assert len(reference) == 20

    threaded = zdce_here(capsys, "batch", url, "-r", "-o", "s3://archive/threads/", "--workers", "2", "--json")
    assert threaded.returncode == 0, threaded.stderr
    assert (_report(threaded.stdout)["done"], _report(threaded.stdout)["failed"]) == (20, 0)
    assert _sha(_objects(s3, "archive", "threads/")) == reference

    remote = zdce_here(capsys, "batch", url, "-r", "-o", "s3://archive/cluster", "--cluster", address, "--json")
    assert remote.returncode == 0, remote.stderr
    assert _sha(_objects(s3, "archive", "cluster/")) == reference
    # Results name the objects by URL; nothing printed holds the credentials.
    sources = {r["source"] for r in _report(remote.stdout)["results"]}
    assert sources == {f"s3://archive/in/{name}" for name in files}
    assert SECRET not in threaded.stdout + threaded.stderr + remote.stdout + remote.stderr

    # Without -r the sub-prefix is left out, as a sub-folder is.
    flat = zdce_here(capsys, "batch", url, "-o", tmp_path / "flat", "--json")
    assert _report(flat.stdout)["done"] == 18


def test_bucket_to_local_folder_with_a_bad_object(s3, tmp_path: Path, capsys) -> None:
    files = {f"night{i}.jpg": _photo_bytes(i, ".jpg") for i in range(3)}
    url = _bucket(s3, "mixed", {**files, "broken.png": b"\x89PNG\r\n\x1a\n not really", "notes.txt": b"hello"})
    out = tmp_path / "out"
    result = zdce_here(capsys, "batch", url, "-o", out)
    assert result.returncode == 1, result.stderr
    assert "3 done, 1 skipped, 1 failed" in result.stdout
    assert "failed: s3://mixed/in/broken.png: " in result.stdout
    assert sorted(p.name for p in out.iterdir()) == sorted(files)
    for name, body in files.items():
        (tmp_path / "ref-in").mkdir(exist_ok=True)
        (tmp_path / "ref-in" / name).write_bytes(body)
    zdce_here(capsys, "batch", tmp_path / "ref-in", "-o", tmp_path / "ref", "-q")
    assert hashes(out) == hashes(tmp_path / "ref")
    assert SECRET not in result.stdout + result.stderr

    missing = zdce_here(capsys, "batch", "s3://mixed/nothing-here/", "-o", out)
    assert missing.returncode == 1
    assert "failed: s3://mixed/nothing-here: no such object or prefix" in missing.stdout


def test_folder_and_bucket_inputs_in_one_batch(s3, tmp_path: Path, capsys) -> None:
    url = _bucket(s3, "both", {"cam1/night0.jpg": _photo_bytes(0, ".jpg")})
    (tmp_path / "cam2").mkdir()
    (tmp_path / "cam2" / "night1.png").write_bytes(_photo_bytes(1, ".png"))
    result = zdce_here(capsys, "batch", url, tmp_path / "cam2", "-r", "-o", "s3://both/out/", "--json")
    assert result.returncode == 0, result.stderr
    assert _report(result.stdout)["done"] == 2
    assert sorted(_objects(s3, "both", "out/")) == ["cam1/night0.jpg", "night1.png"]


def test_globs_on_keys_keep_the_structure_below_the_wildcard(s3, tmp_path: Path, capsys) -> None:
    files = {"2024-01/cam1/a.jpg": _photo_bytes(0, ".jpg"), "2024-02/cam2/b.jpg": _photo_bytes(1, ".jpg"),
             "2024-02/cam2/c.png": _photo_bytes(2, ".png"), "2023-12/cam1/d.jpg": _photo_bytes(3, ".jpg")}
    _bucket(s3, "globs", files)
    result = zdce_here(capsys, "batch", "s3://globs/in/2024-*/cam?/*.jpg", "-o", tmp_path / "out", "--json")
    assert result.returncode == 0, result.stderr
    written = sorted(str(p.relative_to(tmp_path / "out")) for p in (tmp_path / "out").rglob("*") if p.is_file())
    assert written == ["2024-01/cam1/a.jpg", "2024-02/cam2/b.jpg"]
    nothing = zdce_here(capsys, "batch", "s3://globs/in/*.tif", "-o", tmp_path / "out")
    assert nothing.returncode == 1 and "s3://globs/in/*.tif: no objects match this pattern" in nothing.stdout


def test_skip_existing_rerun_checks_the_bucket(s3, tmp_path: Path, capsys) -> None:
    files = {f"night{i}.png": _photo_bytes(i, ".png") for i in range(5)}
    url = _bucket(s3, "resume", files)
    first = zdce_here(capsys, "batch", url, "-o", "s3://resume/out/", "-q")
    assert first.returncode == 0, first.stderr
    before = {o["Key"]: o["LastModified"] for o in s3.list_objects_v2(Bucket="resume", Prefix="out/")["Contents"]}
    s3.delete_object(Bucket="resume", Key="out/night2.png")
    rerun = zdce_here(capsys, "batch", url, "-o", "s3://resume/out/", "--skip-existing", "--json")
    assert rerun.returncode == 0, rerun.stderr
    report = _report(rerun.stdout)
    assert (report["done"], report["skipped"]) == (1, 4)
    assert [r["source"] for r in report["results"] if r["status"] == "done"] == [f"{url}night2.png"]
    after = {o["Key"]: o["LastModified"] for o in s3.list_objects_v2(Bucket="resume", Prefix="out/")["Contents"]}
    assert set(after) == set(before)
    assert {k: v for k, v in after.items() if k != "out/night2.png"} == {
        k: v for k, v in before.items() if k != "out/night2.png"
    }, "an existing object was written again"


def _reference(tmp_path: Path, files: dict[str, bytes], capsys) -> dict[str, str]:
    folder = tmp_path / "ref-in"
    for name, body in files.items():
        folder.mkdir(exist_ok=True)
        (folder / name).write_bytes(body)
    result = zdce_here(capsys, "batch", folder, "-o", tmp_path / "ref", "-q")
    assert result.returncode == 0, result.stderr
    return hashes(tmp_path / "ref")


def test_worker_killed_mid_run_leaves_every_object_whole(s3, scheduler, tmp_path: Path, capsys) -> None:
    address, client = scheduler
    files = {f"night{i:02d}.png": _photo_bytes(i, ".png", (240, 320)) for i in range(24)}
    url = _bucket(s3, "killed", files)
    reference = _reference(tmp_path, files, capsys)
    # A photo in the middle: 12 photos are queued behind it when its worker dies.
    with Killer(client, "night12.png", limit=1) as killer:
        result = zdce_here(capsys, "batch", url, "-o", "s3://killed/out/", "--cluster", address, "--json")
    assert len(killer.kills) == 1, "no worker was seen processing the photo"
    assert result.returncode == 0, result.stderr
    assert (_report(result.stdout)["done"], _report(result.stdout)["failed"]) == (24, 0)
    # Every key is a whole photo, the same as an undisturbed run's; no temporary or partial key exists.
    assert _sha(_objects(s3, "killed", "out/")) == reference
    client.wait_for_workers(2, timeout=120)


def test_killed_batch_leaves_no_partial_object(s3, tmp_path: Path, capsys) -> None:
    files = {f"night{i:02d}.png": _photo_bytes(i, ".png", (240, 320)) for i in range(16)}
    url = _bucket(s3, "sigkill", files)
    reference = _reference(tmp_path, files, capsys)
    args = [sys.executable, "-m", "zdce_core", "batch", url, "-o", "s3://sigkill/out/", "--workers", "2", "-q"]
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 300
    while not _objects(s3, "sigkill", "out/") and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)  # no chance to tidy up or finish an upload
    proc.wait()
    written = _sha(_objects(s3, "sigkill", "out/"))
    assert 1 <= len(written) < len(files), f"{len(written)} objects before the kill"
    assert written == {k: reference[k] for k in written}, "an object at its final key is not the whole photo"
    resumed = zdce_here(capsys, "batch", url, "-o", "s3://sigkill/out/", "--skip-existing", "--json")
    assert _report(resumed.stdout)["skipped"] == len(written)
    assert _sha(_objects(s3, "sigkill", "out/")) == reference


def test_missing_storage_package_is_a_one_line_hint(tmp_path: Path, capsys, monkeypatch: pytest.MonkeyPatch) -> None:
    # None in sys.modules makes `import gcsfs` fail exactly as when it is not installed.
    monkeypatch.setitem(sys.modules, "gcsfs", None)
    result = zdce_here(capsys, "batch", "gs://archive/night/", "-o", tmp_path / "out")
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "zdce: error: gs://archive/night/: gs:// URLs need gcsfs; install it with: pip install 'zdce[gcs]' "
        "(see zdce batch --help)"
    ]
    unknown = zdce_here(capsys, "batch", "nosuch://archive/night/", "-o", tmp_path / "out")
    assert unknown.returncode == 2 and len(unknown.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "out").exists()
