from dataclasses import dataclass

import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from kdtrack_lite.checkpoint import load_checkpoint
from kdtrack_lite.config import Config
from kdtrack_lite.distill import Distiller, FeatureTaps, LossTerm, TrainConfig, fit, total_loss
from kdtrack_lite.registry import register_builder
from kdtrack_lite.runtime import seed_everything


@dataclass
class NetCfg(Config):
    width: int = 8


class Net(nn.Module):
    def __init__(self, width=8):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(4, width), nn.BatchNorm1d(width), nn.ReLU())
        self.head = nn.Linear(width, 1)

    def taps(self):
        return {"body": self.body}

    def forward(self, batch):
        return self.head(self.body(batch["x"]))


@register_builder("test_distill_net", NetCfg)
def build_net(cfg=None):
    return Net((cfg or NetCfg()).width)


def mse_task(out, batch):
    return {"loss_task": nn.functional.mse_loss(out, batch["y"])}


class OutputMatch(LossTerm):
    name = "match"

    def forward(self, ctx):
        return {"loss_match": nn.functional.mse_loss(ctx.student_out, ctx.teacher_outs["t"])}


def _loader(n=64, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 4, generator=g)
    y = x.sum(1, keepdim=True)
    ds = TensorDataset(x, y)
    return DataLoader(ds, batch_size=16, shuffle=True, generator=g,
                      collate_fn=lambda items: {"x": torch.stack([a for a, _ in items]),
                                                "y": torch.stack([b for _, b in items])})


def test_feature_taps_record_and_remove():
    net = Net()
    taps = FeatureTaps(net.taps())
    net.eval()(({"x": torch.randn(2, 4)}))
    assert taps.features["body"].shape == (2, 8)
    taps.remove()
    taps.clear()
    net({"x": torch.randn(2, 4)})
    assert taps.features == {}
    with pytest.raises(KeyError, match="no sub-module"):
        FeatureTaps.from_names(net, ["nope"])


def test_teachers_frozen_and_stay_in_eval():
    teacher, student = Net(16), Net(4)
    d = Distiller(student, mse_task, teachers={"t": teacher}, losses=[OutputMatch()])
    d.train()
    assert not teacher.training and student.training
    assert all(not p.requires_grad for p in teacher.parameters())
    assert set(map(id, d.trainable_parameters())) == set(map(id, student.parameters()))
    before = [p.clone() for p in teacher.parameters()]
    bn_before = teacher.body[1].running_mean.clone()
    out, losses = d.forward_train({"x": torch.randn(8, 4), "y": torch.randn(8, 1)})
    sum(losses.values()).backward()
    assert set(losses) == {"loss_task", "loss_match"}
    assert all(torch.equal(a, b) for a, b in zip(before, teacher.parameters()))
    assert torch.equal(bn_before, teacher.body[1].running_mean)


def test_student_bn_frozen_keeps_running_statistics_and_trains_the_affine_weights():
    """``student_bn="frozen"``: the student's BN stays in eval mode through ``fit`` (running statistics
    untouched, outputs use them), while its affine weights and the other layers train."""
    seed_everything(0)
    student = Net(8)
    bn = student.body[1]
    stats = (bn.running_mean.clone(), bn.running_var.clone())
    weight = bn.weight.detach().clone()
    d = Distiller(student, mse_task, teachers={"t": Net(8)}, losses=[OutputMatch()], student_bn="frozen")
    d.train()
    assert student.training and not bn.training   # the rest of the student trains as usual
    fit(d, _loader(), TrainConfig.make(profile="fast", epochs=1, steps_per_epoch=4, lr=1e-2))
    assert torch.equal(bn.running_mean, stats[0]) and torch.equal(bn.running_var, stats[1])
    assert not torch.equal(bn.weight, weight)
    d.train(False)
    assert not bn.training
    plain = Distiller(Net(8), mse_task).train()
    assert plain.student.body[1].training   # the default is unchanged
    with pytest.raises(ValueError, match="student_bn must be one of"):
        Distiller(Net(), mse_task, student_bn="eval")


def test_kd_term_without_teacher_is_an_error():
    with pytest.raises(ValueError, match="need a teacher"):
        Distiller(Net(), mse_task, losses=[OutputMatch()])


def test_fit_learns_restores_best_and_writes_checkpoint(tmp_path):
    seed_everything(0)
    student = build_net(NetCfg(width=8))
    val_x = torch.randn(64, 4)

    def validate(model):
        return -nn.functional.mse_loss(model({"x": val_x}), val_x.sum(1, keepdim=True)).item()

    cfg = TrainConfig.make(profile="fast", epochs=4, steps_per_epoch=10, lr=1e-2)
    before = validate(student.eval())
    hist = fit(Distiller(student, mse_task), _loader(), cfg, validate=validate,
               checkpoint_path=tmp_path / "s.pt")
    assert len(hist.epochs) == 4 and hist.best_metric > before
    assert validate(student.eval()) == pytest.approx(hist.best_metric)
    ckpt = load_checkpoint(tmp_path / "s.pt")
    assert ckpt.builder == "test_distill_net" and ckpt.metrics["val"] == pytest.approx(hist.best_metric)
    assert ckpt.extra["history"]["best_epoch"] == hist.best_epoch
    assert len(ckpt.extra["history"]["epochs"]) == len(hist.epochs)


def test_fit_is_deterministic_per_seed():
    def run():
        seed_everything(5)
        student = Net()
        fit(Distiller(student, mse_task), _loader(seed=5), TrainConfig.make(profile="fast", epochs=2, steps_per_epoch=5))
        return [p.detach().clone() for p in student.parameters()]

    assert all(torch.equal(a, b) for a, b in zip(run(), run()))


def test_early_stopping_stops():
    student = Net()
    hist = fit(Distiller(student, mse_task), _loader(), TrainConfig.make(profile="full", epochs=10, steps_per_epoch=2, patience=2),
               validate=lambda m: 1.0)  # never improves after epoch 1
    assert hist.stopped_early and len(hist.epochs) == 3 and hist.best_epoch == 1


def test_task_loss_module_parameters_are_trained():
    class Scaled(nn.Module):
        def __init__(self):
            super().__init__()
            self.scale = nn.Parameter(torch.ones(()))

        def forward(self, out, batch):
            return {"loss_task": nn.functional.mse_loss(out * self.scale, batch["y"])}

    loss = Scaled()
    d = Distiller(Net(), loss)
    assert any(p is loss.scale for p in d.trainable_parameters())


def test_min_epochs_delays_early_stopping():
    hist = fit(Distiller(Net(), mse_task), _loader(),
               TrainConfig.make(profile="full", epochs=10, steps_per_epoch=2, patience=2, min_epochs=6),
               validate=lambda m: 0.0)  # a metric stuck at its floor
    assert hist.stopped_early and len(hist.epochs) == 6


def test_task_loss_parts_are_logged_but_counted_once():
    """The objective is loss_task + distillation terms; a task loss's parts are not added again."""

    def task_with_parts(out, batch):
        a = nn.functional.mse_loss(out, batch["y"])
        b = out.abs().mean()
        return {"loss_task": a + 0.1 * b, "loss_a": a, "loss_b": b}

    d = Distiller(Net(), task_with_parts)
    batch = {"x": torch.randn(8, 4), "y": torch.randn(8, 1)}
    out, losses = d.forward_train(batch)
    assert set(losses) == {"loss_task", "task_a", "task_b"}
    expected = nn.functional.mse_loss(out, batch["y"]) + 0.1 * out.abs().mean()  # hand-computed objective
    assert torch.allclose(total_loss(losses), expected)


def _hooks(model: nn.Module) -> int:
    return sum(len(m._forward_hooks) for m in model.modules())


def test_fit_leaves_no_hooks_on_student_or_shared_teacher():
    """A teacher shared by several distillations (the capstone runs four) must not collect hooks."""
    seed_everything(0)
    teacher = build_net(NetCfg(width=8)).eval()
    cfg = TrainConfig.make(profile="fast", epochs=1, steps_per_epoch=2)
    for _ in range(3):
        student = build_net(NetCfg(width=8))
        distiller = Distiller(student, mse_task, teachers={"t": teacher}, losses=[OutputMatch()])
        assert _hooks(student) == 1 and _hooks(teacher) == 1
        fit(distiller, _loader(), cfg)
        assert _hooks(student) == 0 and _hooks(teacher) == 0
    # used again after fit, the distiller re-attaches its taps and still reads features
    out, losses = distiller.forward_train(next(iter(_loader())))
    assert _hooks(student) == 1 and set(losses) == {"loss_task", "loss_match"}
    assert distiller.student_taps.features == {}  # cleared after each step: no graph kept alive


def test_fit_removes_hooks_when_training_raises():
    student = build_net(NetCfg(width=8))

    def broken_task(out, batch):
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        fit(Distiller(student, broken_task), _loader(), TrainConfig.make(profile="fast", epochs=1, steps_per_epoch=1))
    assert _hooks(student) == 0
