"""Multi-teacher distillation with specialised teachers (SDST, Li et al. 2024).

PAPER FACTS (SDST abstract): a *general teacher* imparts basic knowledge to the student;
*specialised teachers* transfer knowledge for challenging attributes (occlusion and fast motion are
named); training has two processes, general-teacher -> student and specialised-teachers -> student.

OUR DESIGN CHOICES (the paper's exact weighting is not in our sources):

* every teacher ``k`` (column 0 = the general teacher, columns ``1..K`` = specialists) gives a
  per-sample response-map KD ``l_bk = T^2 KL(softmax(z_k/T) || softmax(z_S/T))`` (Hinton KD
  over the ``H*W`` positions of a SiamFC response map, :func:`~kdtrack_lite.distill.response.kd_loss`);
* a specialist is **gated** by the sample's attribute labels: ``g_bk = 1`` when search frame ``b``
  carries any attribute of specialist ``k`` (the general teacher is always on, ``g_b0 = 1``);
* the SDST loss is ``L = mean_b sum_k w_bk l_bk`` with per-sample weights ``w_b`` (rows sum to 1,
  so the KD *strength* of a sample is fixed and only its *target* moves between teachers):

  - ``"fixed"`` (attribute-gated fixed weights): ``w_bk ∝ g_bk * a_k`` with ``a_0 = general_weight``
    and ``a_k = specialist_weight``;
  - ``"confidence"`` (adaptive): ``w_b = softmax_k(c_bk / tau)`` over the gated teachers, where
    ``c_bk`` is teacher ``k``'s peak probability ``max softmax(z_k)`` on sample ``b``;
  - ``"loss"`` (adaptive): ``w_b = softmax_k(-e_bk / tau)`` over the gated teachers, where ``e_bk``
    is teacher ``k``'s own task loss on sample ``b`` against the ground truth (a teacher that is
    wrong on this sample teaches it less), after the adaptive multi-teacher KD of Liu et al. 2020.

A sample with no teacher gated in (a gate row of zeros; :func:`attribute_gate` never makes one,
column 0 is always 1) has no weights to normalise: both schemes refuse it with a ``ValueError``
naming the row, rather than give it NaN weights. The losses follow the input rule of
:mod:`kdtrack_lite.distill._shapes` (NaN/inf input -> ``ValueError`` naming the argument; empty
batch -> 0 that keeps the graph).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch

from ..config import Config
from ..data.sot_synth import ATTRIBUTES
from ._shapes import check_finite, check_same_shape, zero_loss
from .base import DistillContext, LossTerm
from .response import bernoulli_kl, kd_per_sample

SCHEMES = ("fixed", "confidence", "loss")
KD_FORMS = ("softmax", "bernoulli")
# SampleLoss(logits (B, 1, H, W), batch) -> (B,) a teacher's task loss per sample ("loss" scheme)
SampleLoss = Callable[[torch.Tensor, Mapping[str, Any]], torch.Tensor]


def per_sample_kd(logits_s: torch.Tensor, logits_t: torch.Tensor, T: float = 4.0,
                  form: str = "softmax") -> torch.Tensor:
    """Response KD per sample -> ``(B,)``, in one of two forms (:data:`KD_FORMS`):

    * ``"softmax"``: Hinton KD ``T^2 * KL(softmax(z_T/T) || softmax(z_S/T))``, the map's positions
      as one distribution (:func:`~kdtrack_lite.distill.response.kd_per_sample`); its batch mean
      equals :func:`~kdtrack_lite.distill.response.kd_loss`;
    * ``"bernoulli"``: ``T^2 * mean over positions of KL(Bern(sigmoid(z_T/T)) || Bern(sigmoid(z_S/T)))``
      (:func:`~kdtrack_lite.distill.response.bernoulli_kl`), each position its own probability, as
      SiamFC's logistic loss trains it and its tracker reads it.

    Args:
        logits_s: student logits ``(B, ...)`` (e.g. a response map ``(B, 1, H, W)``).
        logits_t: teacher logits, same shape; detached.
        T: temperature (> 0).
        form: ``"softmax"`` or ``"bernoulli"``.
    """
    check_finite("per_sample_kd", logits_s=logits_s, logits_t=logits_t)
    return _per_sample_kd(logits_s, logits_t, T, form)


def _per_sample_kd(logits_s: torch.Tensor, logits_t: torch.Tensor, T: float, form: str) -> torch.Tensor:
    """:func:`per_sample_kd` after its caller's finiteness check -> ``(B,)``; the softmax form is
    :func:`~kdtrack_lite.distill.response.kd_per_sample`."""
    check_same_shape("per_sample_kd", "logits_s", logits_s, "logits_t", logits_t)
    if form not in KD_FORMS:
        raise ValueError(f"per_sample_kd: form must be one of {KD_FORMS}, got {form!r}")
    if form == "bernoulli":
        return T * T * bernoulli_kl(logits_s, logits_t, T, "per_sample_kd").flatten(1).mean(dim=1)
    return kd_per_sample(logits_s, logits_t, T, where="per_sample_kd")


def attribute_gate(attributes: torch.Tensor, specialist_attributes: Sequence[Sequence[str]],
                   names: Sequence[str] = ATTRIBUTES) -> torch.Tensor:
    """Which teachers may teach which sample: ``(B, 1 + K)`` 0/1, column 0 = general (always 1).

    Args:
        attributes: ``(B, A)`` multi-hot attribute labels of the samples, columns in ``names`` order.
        specialist_attributes: for each of the ``K`` specialists, the attribute names it covers
            (a sample carrying *any* of them is gated in).
        names: attribute order of the columns (default: ``ATTRIBUTES`` of the synthetic engine).
    """
    if attributes.dim() != 2 or attributes.shape[1] != len(names):
        raise ValueError(f"attribute_gate: attributes must be (B, {len(names)}) multi-hot in {tuple(names)} "
                         f"order, got {tuple(attributes.shape)}")
    cols = [torch.ones(attributes.shape[0], dtype=attributes.dtype, device=attributes.device)]
    for k, attrs in enumerate(specialist_attributes):
        bad = sorted(set(attrs) - set(names))
        if bad or not attrs:
            raise ValueError(f"attribute_gate: specialist {k} has attributes {list(attrs)}; expected a "
                             f"non-empty subset of {tuple(names)}")
        idx = [names.index(a) for a in attrs]
        cols.append((attributes[:, idx] > 0.5).any(dim=1).to(attributes.dtype))
    return torch.stack(cols, dim=1).float()  # (B, 1 + K)


def fixed_weights(gate: torch.Tensor, general_weight: float = 1.0, specialist_weight: float = 1.0) -> torch.Tensor:
    """Attribute-gated fixed weights ``w_bk = g_bk a_k / sum_j g_bj a_j`` (module doc) -> ``(B, 1 + K)``.

    A sample with no attribute of any specialist is taught by the general teacher alone (weight 1);
    one with an occlusion frame by general and occlusion teacher, ``a_0 : a_k``.

    Raises:
        ValueError: a gate row with no teacher gated in (its weights would be 0 / 0), named.
    """
    if general_weight <= 0 or specialist_weight < 0:
        raise ValueError(f"fixed_weights: need general_weight > 0 and specialist_weight >= 0, "
                         f"got {general_weight}, {specialist_weight}")
    if gate.dim() != 2 or gate.shape[1] < 1:
        raise ValueError(f"fixed_weights: gate must be (B, 1 + K) 0/1, got {tuple(gate.shape)}")
    scale = torch.full((gate.shape[1],), float(specialist_weight), device=gate.device)
    scale[0] = general_weight
    raw = gate * scale  # (B, 1 + K)
    total = raw.sum(dim=1, keepdim=True)  # (B, 1)
    _check_rows_gated("fixed_weights", total[:, 0])
    return raw / total


def _check_rows_gated(where: str, gated: torch.Tensor) -> None:
    """``gated (B,)``: the gated weight (or teacher count) of each sample; none may be 0."""
    empty = (gated <= 0).nonzero()
    if len(empty):
        raise ValueError(f"{where}: sample {int(empty[0, 0])} has no teacher gated in (its gate row is all 0; "
                         f"column 0, the general teacher, must be 1)")


def adaptive_weights(scores: torch.Tensor, gate: torch.Tensor, tau: float = 1.0) -> torch.Tensor:
    """Adaptive weights ``w_b = softmax_k(scores_bk / tau)`` over the gated teachers -> ``(B, 1 + K)``.

    Args:
        scores: ``(B, 1 + K)`` how much to trust each teacher on each sample (higher = more): the
            teacher's confidence, or minus its own loss on the sample.
        gate: ``(B, 1 + K)`` 0/1 from :func:`attribute_gate`; gated-out teachers get weight 0.
        tau: softmax temperature (> 0); large ``tau`` -> uniform over the gated teachers.
    """
    check_same_shape("adaptive_weights", "scores", scores, "gate", gate)
    if tau <= 0:
        raise ValueError(f"adaptive_weights: tau must be > 0, got {tau}")
    _check_rows_gated("adaptive_weights", (gate >= 0.5).sum(dim=1))
    masked = (scores.detach() / tau).masked_fill(gate < 0.5, float("-inf"))
    return torch.softmax(masked, dim=1)


def peak_confidence(logits: torch.Tensor) -> torch.Tensor:
    """A teacher's confidence on each sample: ``max softmax(z)`` over the response map -> ``(B,)``."""
    return torch.softmax(logits.detach().flatten(1), dim=1).amax(dim=1)


def multi_teacher_kd_loss(logits_s: torch.Tensor, logits_teachers: Sequence[torch.Tensor], weights: torch.Tensor,
                          T: float = 4.0, form: str = "softmax") -> torch.Tensor:
    """``mean_b sum_k w_bk * per_sample_kd(z_S, z_k, T, form)_b`` (the SDST response loss, module doc).

    Args:
        logits_s: student response ``(B, 1, H, W)``.
        logits_teachers: ``1 + K`` teacher responses, each ``(B, 1, H, W)``; general first.
        weights: ``(B, 1 + K)`` per-sample teacher weights (detached).
        T: temperature.
        form: :func:`per_sample_kd`'s ``"softmax"`` or ``"bernoulli"``.

    Returns:
        Scalar; 0 that keeps the graph for an empty batch.

    Raises:
        ValueError: no teacher, NaN/inf in an argument (named, e.g. ``logits_teachers[1]``),
            ``weights`` not ``(B, 1 + K)``.
    """
    logits_teachers = list(logits_teachers)
    if not logits_teachers:
        raise ValueError("multi_teacher_kd_loss: logits_teachers is empty; give at least the general "
                         "teacher's logits (general first, then the specialists)")
    if weights.shape != (logits_s.shape[0], len(logits_teachers)):
        raise ValueError(f"multi_teacher_kd_loss: weights must be (B, n_teachers) = "
                         f"({logits_s.shape[0]}, {len(logits_teachers)}), got {tuple(weights.shape)}")
    check_finite("multi_teacher_kd_loss", logits_s=logits_s, weights=weights,
                 **{f"logits_teachers[{k}]": z for k, z in enumerate(logits_teachers)})
    if logits_s.shape[0] == 0:
        return zero_loss(logits_s)
    per = torch.stack([_per_sample_kd(logits_s, z_t, T, form) for z_t in logits_teachers], dim=1)  # (B, 1 + K)
    return (weights.detach() * per).sum(dim=1).mean()


@dataclass
class SDSTConfig(Config):
    """SDST response-KD term settings (OUR CHOICES; module doc).

    Attributes:
        general: key of the general teacher in ``Distiller.teachers``.
        specialists: ``{teacher key: attribute names}``, e.g. ``{"OCC": ("OCC",), "FM": ("FM",)}``.
        scheme: ``"fixed"``, ``"confidence"`` or ``"loss"``.
        temperature: response KD temperature ``T``.
        form: ``"softmax"`` (positions as one distribution) or ``"bernoulli"`` (each position its
            own probability), :func:`per_sample_kd`.
        weight: multiplier of ``loss_kd_sdst``.
        general_weight, specialist_weight: ``a_0`` and ``a_k`` of the fixed scheme.
        tau: softmax temperature of the adaptive schemes (confidence scores lie in (0, 1]; task
            losses of a trained teacher in about (0, 1)).
        attributes_key: batch key of the ``(B, A)`` multi-hot labels.
    """

    general: str = "general"
    specialists: dict[str, tuple[str, ...]] = field(default_factory=dict)
    scheme: str = "fixed"
    temperature: float = 4.0
    form: str = "softmax"
    weight: float = 1.0
    general_weight: float = 1.0
    specialist_weight: float = 1.0
    tau: float = 0.1
    attributes_key: str = "attributes"


class SDSTKD(LossTerm):
    """``loss_kd_sdst = weight * multi_teacher_kd_loss(z_S, [z_general, z_spec...], w, T)``.

    With no specialists this is plain response KD from the general teacher (the "general KD"
    baseline). The last batch's weights are kept in ``last_weights`` ``(B, 1 + K)`` for inspection.

    Args:
        cfg: :class:`SDSTConfig`; ``**overrides`` replace its fields.
        sample_loss: ``sample_loss(logits, batch) -> (B,)``, required by the ``"loss"`` scheme.
    """

    name = "kd_sdst"

    def __init__(self, cfg: SDSTConfig | None = None, sample_loss: SampleLoss | None = None, **overrides: Any):
        super().__init__()
        cfg = cfg or SDSTConfig()
        self.cfg = cfg.replace(**overrides) if overrides else cfg
        if self.cfg.scheme not in SCHEMES:
            raise ValueError(f"SDSTConfig.scheme must be one of {SCHEMES}, got {self.cfg.scheme!r}")
        if self.cfg.form not in KD_FORMS:
            raise ValueError(f"SDSTConfig.form must be one of {KD_FORMS}, got {self.cfg.form!r}")
        if self.cfg.scheme == "loss" and sample_loss is None:
            raise ValueError("SDSTKD: scheme 'loss' needs sample_loss(logits, batch) -> (B,)")
        self.sample_loss = sample_loss
        self.teacher_names = [self.cfg.general, *self.cfg.specialists]
        self.last_weights: torch.Tensor | None = None

    def weights(self, ctx: DistillContext) -> torch.Tensor:
        """Per-sample teacher weights ``(B, 1 + K)`` in ``teacher_names`` order."""
        cfg = self.cfg
        missing = [n for n in self.teacher_names if n not in ctx.teacher_outs]
        if missing:
            raise KeyError(f"SDSTKD: no teacher(s) {missing}; teachers are {sorted(ctx.teacher_outs)}")
        if cfg.attributes_key not in ctx.batch:
            raise KeyError(f"SDSTKD: the batch has no {cfg.attributes_key!r} (B, A) attribute labels")
        gate = attribute_gate(ctx.batch[cfg.attributes_key], list(cfg.specialists.values()))
        gate = gate.to(ctx.student_out.device)
        if cfg.scheme == "fixed":
            return fixed_weights(gate, cfg.general_weight, cfg.specialist_weight)
        outs = [ctx.teacher_outs[n] for n in self.teacher_names]
        if cfg.scheme == "confidence":
            scores = torch.stack([peak_confidence(z) for z in outs], dim=1)
        else:
            scores = -torch.stack([self.sample_loss(z.detach(), ctx.batch) for z in outs], dim=1)
        return adaptive_weights(scores, gate, cfg.tau)

    def forward(self, ctx: DistillContext) -> dict[str, torch.Tensor]:
        w = self.weights(ctx)
        self.last_weights = w.detach()
        outs = [ctx.teacher_outs[n] for n in self.teacher_names]
        return {"loss_kd_sdst": self.cfg.weight * multi_teacher_kd_loss(ctx.student_out, outs, w, self.cfg.temperature,
                                                                        self.cfg.form)}
