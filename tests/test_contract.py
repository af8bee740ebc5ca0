"""One home for every shared rule and number: zdce_core.contract, read by everything else.

Also: no import changes the process for others (umask, other libraries' loggers).
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from zdce_core import contract

ROOT = Path(__file__).resolve().parent.parent
PUBLIC = [name for name in vars(contract) if name.isupper()]


def _run(code: str, **env) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT,
                          env={**os.environ, **env}, timeout=120)


def test_contract_imports_nothing():
    done = _run("import sys; before = set(sys.modules); import zdce_core.contract; "
                "print(sorted(m for m in set(sys.modules) - before if m.split('.')[0] != 'zdce_core'))")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def _module_level_names(path: Path) -> set[str]:
    names = set()
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        targets = node.targets if isinstance(node, ast.Assign) else [node.target] if isinstance(node, ast.AnnAssign) else []
        for target in targets:
            for leaf in ast.walk(target):
                if isinstance(leaf, ast.Name):
                    names.add(leaf.id)
    return names


def test_each_shared_name_is_defined_once():
    """No module of ours assigns a name the contract owns (the host scripts' placeholders are filled in from it)."""
    placeholders = {ROOT / "plugins/gimp/zdce-low-light-enhance/zdce-low-light-enhance.py"}
    sources = [p for d in ("zdce_core", "plugins", "benchmarks") for p in (ROOT / d).rglob("*.py")]
    clashes = {
        f"{path.relative_to(ROOT)}: {name}"
        for path in sources if path.name != "contract.py" and path not in placeholders
        for name in _module_level_names(path) & set(PUBLIC)
    }
    assert not clashes
    # The placeholders are only that: filled in at install.
    for path in placeholders:
        text = path.read_text(encoding="utf-8")
        for name in ("MIN_STEPS", "MAX_STEPS", "DEFAULT_STEPS", "DEFAULT_STRENGTH", "DEFAULT_DENOISE", "STRENGTH_LEVELS"):
            assert f"\n{name} = None\n" in text


def test_network_shape_comes_from_the_contract_not_the_step_range():
    import torch

    from zdce_core.maths.network import SHAPES
    from zdce_core.training.model import DCENet

    assert SHAPES["conv7.weight"][0] == 3 * contract.CURVE_ITERATIONS
    assert SHAPES["conv1.weight"][:2] == (contract.NETWORK_WIDTH, contract.NETWORK_INPUTS)
    assert {k: tuple(v.shape) for k, v in DCENet().state_dict().items()} == SHAPES
    assert contract.MAX_STEPS <= contract.CURVE_ITERATIONS
    with torch.no_grad():
        assert DCENet()(torch.zeros(1, contract.NETWORK_INPUTS, 5, 5)).shape[1] == 3 * contract.CURVE_ITERATIONS


def test_signatures_and_options_read_the_contract():
    import inspect

    from zdce_core import enhance
    from zdce_core.app.batch import Settings
    from zdce_core.app.cli import build_parser

    sig = inspect.signature(enhance).parameters
    assert (sig["steps"].default, sig["strength"].default, sig["denoise"].default, sig["estimate_size"].default) == (
        contract.DEFAULT_STEPS, contract.DEFAULT_STRENGTH, contract.DEFAULT_DENOISE, contract.ESTIMATE_SIDE)
    assert (Settings().steps, Settings().strength, Settings().denoise, Settings().quality) == (
        contract.DEFAULT_STEPS, contract.DEFAULT_STRENGTH, contract.DEFAULT_DENOISE, contract.JPEG_QUALITY)
    args = build_parser("batch").parse_args(["batch", "x.jpg", "-o", "out"])
    assert (args.steps, args.strength, args.quality) == (contract.DEFAULT_STEPS, contract.DEFAULT_STRENGTH,
                                                        contract.JPEG_QUALITY)


def test_train_options_default_to_train_config():
    import inspect

    from zdce_core.app.cli import build_parser
    from zdce_core.app.commands.train import train_config
    from zdce_core.training.config import SAMPLE_EVERY, TrainConfig
    from zdce_core.training.runs import RunRecorder

    args = build_parser("train").parse_args(["train", "photos", "-o", "m.pt"])
    assert train_config(args) == TrainConfig()
    assert args.sample_every == SAMPLE_EVERY == inspect.signature(RunRecorder).parameters["sample_every"].default


def test_toe_settings_control_the_toe_term():
    """LossWeights.toe_low/toe_high are the toe term's band (they were not used by it); the defaults keep its values."""
    import torch

    from zdce_core.training.config import LossWeights
    from zdce_core.training.losses import toe, zero_reference_loss

    gen = torch.Generator().manual_seed(0)
    original = torch.rand(2, 3, 32, 32, generator=gen) * 0.04
    enhanced = (original * 6).clamp(0, 1)
    alphas = torch.zeros(2, 24, 8, 8)
    key = torch.full((2, 1, 1, 1), 0.02)
    weights = LossWeights()
    base = zero_reference_loss(enhanced, original, alphas, key, weights)
    assert float(base["toe"]) == pytest.approx(weights.toe * float(toe(enhanced, original, 0.01, 0.03)))
    wider = zero_reference_loss(enhanced, original, alphas, key, replace(weights, toe_low=0.02, toe_high=0.05))
    assert float(wider["toe"]) > float(base["toe"]) * 1.5
    # The exposure target's black band is its own setting: moving the toe band leaves that term alone.
    assert float(wider["exposure"]) == float(base["exposure"])


def test_importing_the_library_changes_no_process_state():
    """No umask round trip at import (it races with threads), no handlers on other libraries' loggers."""
    code = (
        "import logging, os\n"
        "def refuse(*a): raise AssertionError('os.umask called')\n"
        "os.umask(0o027); os.umask = refuse\n"
        "import zdce_core.io.images, zdce_core.io.atomic, zdce_core.app.batch\n"
        "print([len(logging.getLogger(n).handlers) for n in ('imagecodecs', 'tifffile')])\n"
        "import tempfile, pathlib\n"
        "d = pathlib.Path(tempfile.mkdtemp())\n"
        "with zdce_core.io.atomic.atomic_path(d / 'a.jpg') as t: t.write_bytes(b'x')\n"
        "with zdce_core.io.atomic.atomic_path(d / 'b.sh', mode=0o755) as t: t.write_bytes(b'x')\n"
        "print(oct((d / 'a.jpg').stat().st_mode & 0o777), oct((d / 'b.sh').stat().st_mode & 0o777))\n"
    )
    done = _run(code)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split("\n")[:2] == ["[0, 0]", "0o640 0o755"]


def test_commands_keep_codec_logs_off_the_console():
    from zdce_core.app.console import CODEC_LOGGERS

    code = (
        "import logging, sys\n"
        "from zdce_core.app import cli\n"
        "try: cli.main(['plugins', '--help'])\n"
        "except SystemExit: pass\n"
        f"print([len(logging.getLogger(n).handlers) for n in {CODEC_LOGGERS!r}], file=sys.stderr)\n"
    )
    done = _run(code)
    assert done.stderr.strip().splitlines()[-1] == str([1] * len(CODEC_LOGGERS))
