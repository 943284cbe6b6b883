"""Multi-process training (torchrun / DDP, gloo on CPU) and resumable runs.

Tolerance of the DDP-vs-one-process check: 1e-5 absolute on every weight. The two runs see the
same global batches; with a BN-free model and mean-reduced losses, DDP's averaged per-rank
gradients equal the one-process gradient up to float32 summation order.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import torch.multiprocessing as mp
from torch import nn
from torch.utils.data import Dataset

from kdtrack_lite.checkpoint import load_checkpoint
from kdtrack_lite.distill.base import Distiller
from kdtrack_lite.distill.loop import TrainConfig, fit, resume_path
from kdtrack_lite.distributed import all_same, make_loader

ROOT = Path(__file__).resolve().parents[1]


class _Points(Dataset):
    """64 fixed (input, target) pairs of a noisy linear map: deterministic, no files."""

    def __init__(self):
        g = torch.Generator().manual_seed(0)
        self.x = torch.randn(64, 3, 4, 4, generator=g)
        self.y = self.x.mean((2, 3)) @ torch.randn(3, 2, generator=g) + 0.1 * torch.randn(64, 2, generator=g)

    def __len__(self):
        return len(self.x)

    def __getitem__(self, i):
        return {"x": self.x[i], "y": self.y[i]}


def _model() -> nn.Module:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                          nn.Linear(8, 2))
    model.kdtrack_builder = "test_points"  # lets fit write its (self-describing) checkpoint
    return model


def _distiller(model: nn.Module) -> Distiller:
    return Distiller(model, lambda out, b: {"loss_task": ((out - b["y"]) ** 2).mean()}, forward=lambda m, b: m(b["x"]))


CFG = TrainConfig(epochs=3, steps_per_epoch=4, lr=0.05, warmup_steps=2, patience=0)


def _weights(model: nn.Module) -> list[torch.Tensor]:
    return [p.detach().clone() for p in model.state_dict().values()]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _rank_main(rank: int, world: int, port: int, out_dir: str) -> None:
    import torch.distributed as dist

    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    torch.set_num_threads(1)
    dist.init_process_group("gloo", rank=rank, world_size=world)
    try:
        model = _model()
        loader = make_loader(_Points(), batch_size=8, seed=3)
        assert loader.batch_size == 4  # the global batch of 8, split over 2 ranks
        fit(_distiller(model), loader, CFG)
        same = all_same(list(model.state_dict().values()))
        torch.save({"weights": _weights(model), "same": same}, Path(out_dir) / f"rank{rank}.pt")
    finally:
        dist.destroy_process_group()


def test_two_gloo_processes_train_the_same_model_as_one_process(tmp_path):
    mp.spawn(_rank_main, args=(2, _free_port(), str(tmp_path)), nprocs=2, join=True)
    ranks = [torch.load(tmp_path / f"rank{r}.pt") for r in range(2)]
    assert ranks[0]["same"] and ranks[1]["same"]
    for a, b in zip(ranks[0]["weights"], ranks[1]["weights"]):
        assert torch.equal(a, b), "ranks ended with different weights"
    # one process, same global batches (DistributedSampler with one replica, same seed)
    model = _model()
    fit(_distiller(model), make_loader(_Points(), batch_size=8, seed=3, distributed=True), CFG)
    start = _weights(_model())
    moved = max(float((w - s).abs().max()) for w, s in zip(_weights(model), start))
    assert moved > 1e-2  # training did change the weights, so the comparison means something
    for single, ddp in zip(_weights(model), ranks[0]["weights"]):
        torch.testing.assert_close(ddp, single, atol=1e-5, rtol=0)


class _Interrupt(RuntimeError):
    pass


def _improving():
    """A validation score that rises every epoch, so the last epoch is the best one kept."""
    calls = []
    return lambda model: float(calls.append(1) or len(calls))


def test_a_killed_run_resumes_to_the_same_weights(tmp_path):
    uninterrupted = _model()
    fit(_distiller(uninterrupted), make_loader(_Points(), 8, seed=5), CFG,
        validate=_improving(), checkpoint_path=tmp_path / "a.pt", resume=True)
    assert not resume_path(tmp_path / "a.pt").exists()  # removed once the run finished

    calls = []

    def dies_in_epoch_2(model):
        calls.append(1)
        if len(calls) == 2:
            raise _Interrupt("killed")
        return float(len(calls))

    with pytest.raises(_Interrupt):
        fit(_distiller(_model()), make_loader(_Points(), 8, seed=5), CFG, validate=dies_in_epoch_2,
            checkpoint_path=tmp_path / "b.pt", resume=True)
    state = resume_path(tmp_path / "b.pt")
    assert state.exists() and torch.load(state, weights_only=True)["epoch"] == 1
    resumed = _model()  # a fresh process: new model, new loader, same command
    history = fit(_distiller(resumed), make_loader(_Points(), 8, seed=5), CFG,
                  validate=_improving(), checkpoint_path=tmp_path / "b.pt", resume=True)
    assert [e["epoch"] for e in history.epochs] == [1, 2, 3] and history.best_epoch == 3
    for a, b in zip(_weights(uninterrupted), _weights(resumed)):
        assert torch.equal(a, b)


def test_bf16_autocast_trains_on_cpu():
    model = _model()
    before = _weights(model)
    history = fit(_distiller(model), make_loader(_Points(), 8, seed=1), CFG.replace(amp="bf16", epochs=1))
    assert all(torch.isfinite(torch.tensor(e["loss"])) for e in history.epochs)
    assert any(not torch.equal(a, b) for a, b in zip(before, _weights(model)))
    with pytest.raises(ValueError, match="amp"):
        fit(_distiller(_model()), make_loader(_Points(), 8, seed=1), CFG.replace(amp="fp8", epochs=1))


def test_distributed_loader_rejects_an_uneven_global_batch():
    # one replica always divides; the check matters for W > 1 and a custom sampler
    with pytest.raises(ValueError, match="custom sampler"):
        make_loader(_Points(), 8, seed=0, sampler=torch.utils.data.SequentialSampler(range(64)), distributed=True)


def test_readme_torchrun_command_trains_with_two_cpu_processes(tmp_path):
    """The README's scale-up command, at a tiny budget: 2 gloo ranks, rank 0 writes the checkpoint."""
    out = tmp_path / "sot_student.pt"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
           "-m", "kdtrack_lite.cli", "train", "sot", "--role", "student", "--fast", "--epochs", "1", "--steps", "2",
           "--threads", "1", "--resume", "--out", str(out)]
    env = {**os.environ, "KDTRACK_PROGRESS": "0", "OMP_NUM_THREADS": "1"}
    done = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, env=env, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert '"processes": 2' in done.stdout
    ckpt = load_checkpoint(out)
    assert ckpt.builder == "siamfc" and ckpt.extra["train_config"]["steps_per_epoch"] == 2
    assert not resume_path(out).exists()


def test_loader_workers_give_the_same_batches():
    plain = [b["x"] for b in make_loader(_Points(), 8, seed=2)]
    workers = [b["x"] for b in make_loader(_Points(), 8, seed=2, num_workers=2)]
    assert len(plain) == len(workers) == 8
    assert all(torch.equal(a, b) for a, b in zip(plain, workers))
