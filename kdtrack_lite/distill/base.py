"""The Distiller: one student, frozen teachers, and a list of loss terms.

``Distiller(student, teachers, losses)`` is the only training object in kdtrack_lite. A student
trained alone is a Distiller with no teachers (the *baseline*), so every comparison in the
notebooks runs the same loop with the same budget and differs only in its loss terms.

Contract (our design, after mdistiller's ``Distiller``):

* teachers are put in eval mode and frozen (``requires_grad=False``) and stay in eval mode when
  the distiller is set to train;
* features are read through forward hooks (:class:`~kdtrack_lite.distill.hooks.FeatureTaps`)
  on the sub-modules the student/teacher expose in ``taps()``;
* ``forward_train(batch) -> (student_out, {"loss_task": ..., "loss_<term>": ..., "task_<part>": ...})``:
  the loop sums every entry whose key starts with ``loss_``; the task loss's own parts (e.g.
  CenterTrack's ``loss_hm``, already weighted inside ``loss_task``) are renamed ``task_<part>``,
  logged but not summed a second time;
* loss terms are ``nn.Module`` s with trainable adapters (e.g. FitNets regressors) registered as
  sub-modules, so their parameters are trained with the student.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from .hooks import FeatureTaps

Batch = Mapping[str, Any]
# A model's forward on a batch: how a student or teacher consumes a batch dict.
ForwardFn = Callable[[nn.Module, Batch], Any]


@dataclass
class DistillContext:
    """What a loss term sees: outputs and tapped features of the student and each teacher."""

    batch: Batch
    student_out: Any
    student_feats: dict[str, torch.Tensor]
    teacher_outs: dict[str, Any] = field(default_factory=dict)
    teacher_feats: dict[str, dict[str, torch.Tensor]] = field(default_factory=dict)


class LossTerm(nn.Module):
    """Base of a distillation term: ``forward(ctx) -> {"loss_<name>": scalar tensor}``."""

    name: str = "kd"
    needs_teacher: bool = True

    def forward(self, ctx: DistillContext) -> dict[str, torch.Tensor]:  # pragma: no cover
        raise NotImplementedError


def _taps_of(model: nn.Module) -> dict[str, nn.Module]:
    return model.taps() if hasattr(model, "taps") else {}


class Distiller(nn.Module):
    """Student + frozen teachers + task loss + distillation terms.

    Args:
        student: the model being trained.
        task_loss: ``task_loss(student_out, batch) -> {"loss_task": ..., ...}`` (the ground-truth
            loss); an ``nn.Module`` with parameters (an identity classifier) is trained too.
        teachers: ``{name: model}``; frozen here.
        losses: distillation terms (see :class:`LossTerm`); empty = the student alone.
        forward: how a model consumes a batch (default ``model(batch)``).
        student_bn: ``"train"`` (default): the student's BatchNorm layers normalise by batch
            statistics while training, as usual; ``"frozen"``: they stay in eval mode, normalising by
            the running statistics the trained model is used with (their affine weights still train,
            the statistics stay as they were). OUR CHOICE for short fine-tunes of a trained student
            with small batches: a teacher is always in eval mode, and a train-mode student matching
            it learns outputs for batch statistics it will not see at test time.
    """

    STUDENT_BN = ("train", "frozen")

    def __init__(
        self,
        student: nn.Module,
        task_loss: Callable[[Any, Batch], dict[str, torch.Tensor]],
        teachers: Mapping[str, nn.Module] | None = None,
        losses: list[LossTerm] | None = None,
        forward: ForwardFn | None = None,
        student_bn: str = "train",
    ):
        super().__init__()
        if student_bn not in self.STUDENT_BN:
            raise ValueError(f"Distiller: student_bn must be one of {self.STUDENT_BN}, got {student_bn!r}")
        self.student_bn = student_bn
        self.student = student
        self.teachers = nn.ModuleDict(dict(teachers or {}))
        self.losses = nn.ModuleList(losses or [])
        self.task_loss = task_loss
        self._forward = forward or (lambda model, batch: model(batch))
        for teacher in self.teachers.values():
            teacher.eval()
            teacher.requires_grad_(False)
        needs = [t.name for t in self.losses if t.needs_teacher]
        if needs and not self.teachers:
            raise ValueError(f"loss term(s) {needs} need a teacher, but no teacher was given")
        self.student_taps: FeatureTaps | None = None
        self.teacher_taps: dict[str, FeatureTaps] = {}
        self.attach_taps()

    def attach_taps(self) -> None:
        """Hook the student's and the teachers' feature taps (done at construction; a no-op if attached)."""
        if self.student_taps is None:
            self.student_taps = FeatureTaps(_taps_of(self.student))
            self.teacher_taps = {n: FeatureTaps(_taps_of(t), detach=True) for n, t in self.teachers.items()}

    def remove_taps(self) -> None:
        """Remove every hook this distiller put on its models, so the trained student and the teachers
        run exactly as before (and a teacher shared by several distillers does not collect hooks).
        :func:`~kdtrack_lite.distill.loop.fit` calls it when it returns; :meth:`forward_train`
        re-attaches the taps if the distiller is used again."""
        for taps in [self.student_taps, *self.teacher_taps.values()]:
            if taps is not None:
                taps.remove()
        self.student_taps, self.teacher_taps = None, {}

    def train(self, mode: bool = True) -> "Distiller":
        super().train(mode)
        for teacher in self.teachers.values():
            teacher.eval()  # teachers never switch to train mode (BN statistics stay fixed)
        if mode and self.student_bn == "frozen":
            for module in self.student.modules():
                if isinstance(module, nn.modules.batchnorm._BatchNorm):
                    module.eval()
        return self

    def trainable_parameters(self) -> list[nn.Parameter]:
        """Student, task-loss (e.g. an identity classifier) and loss-term (adapter) parameters."""
        params = list(self.student.parameters()) + list(self.losses.parameters())
        if isinstance(self.task_loss, nn.Module):
            params += list(self.task_loss.parameters())
        return [p for p in params if p.requires_grad]

    def forward_train(self, batch: Batch) -> tuple[Any, dict[str, torch.Tensor]]:
        """One training forward: ``(student_out, {"loss_task": ..., "loss_<term>": ...})``."""
        self.attach_taps()
        teacher_outs, teacher_feats = {}, {}
        if self.losses and self.teachers:
            with torch.no_grad():
                for name, teacher in self.teachers.items():
                    teacher_outs[name] = self._forward(teacher, batch)
                    teacher_feats[name] = dict(self.teacher_taps[name].features)
        student_out = self._forward(self.student, batch)
        task = dict(self.task_loss(student_out, batch))
        if "loss_task" not in task:
            raise KeyError(f"task_loss must return a 'loss_task' entry, got {sorted(task)}")
        # ``loss_task`` already holds the weighted sum of the task's parts; the parts are kept for
        # logging as ``task_<part>`` so that summing every ``loss_*`` entry counts them once.
        losses = {"loss_task": task.pop("loss_task")}
        losses.update({"task_" + k.removeprefix("loss_"): v for k, v in task.items()})
        ctx = DistillContext(batch, student_out, dict(self.student_taps.features), teacher_outs, teacher_feats)
        for taps in [self.student_taps, *self.teacher_taps.values()]:
            taps.clear()  # the context holds this step's features; the hooks keep no reference to them
        for term in self.losses:
            for key, value in term(ctx).items():
                if not key.startswith("loss_") or key in losses:
                    raise KeyError(f"loss term {term.name!r} returned a bad or duplicate key {key!r}")
                losses[key] = value
        return student_out, losses


def total_loss(losses: Mapping[str, torch.Tensor]) -> torch.Tensor:
    """Sum of every ``loss_*`` entry (the loop's objective)."""
    return sum(v for k, v in losses.items() if k.startswith("loss_"))
