"""SiamFC: fully-convolutional Siamese tracker head, its labels and its balanced logistic loss.

PAPER FACTS (SiamFC, Bertinetto et al. 2016): one embedding network ``phi`` is
applied to the exemplar (template) ``z`` and the search image ``x``; the response map is their
cross-correlation ``f(z, x) = s * (phi(z) ⋆ phi(x)) + b``, computed as a grouped ``conv2d`` with
the template features as the kernel, ``s = 0.001``; the network stride is 8. Training labels are
positive where the distance to the target centre is ``<= r_pos / stride`` (L1 distance) and
negative elsewhere; the logistic loss is balanced so that positives and negatives weigh the same.

OUR DESIGN CHOICES: the backbone family of :mod:`kdtrack_lite.models.backbone` with two stages
(strides 4, 8) plus a linear 1x1 ``adjust`` conv + BN (SiamFC's last layer has no ReLU); lite crops
(template 64, search 128 -> response 9 x 9; 192 -> 17 x 17 as an option); optional per-crop input
standardisation (``input_norm``);
"same" padding; a learnable bias ``b``; positive and negative halves of the loss each weigh 1/2.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

import torch
import torch.nn.functional as F
from torch import nn

from ..config import Config
from ..registry import register_builder
from .backbone import Backbone, BackboneConfig


@dataclass
class SiamFCConfig(Config):
    """SiamFC model shape. ``response_scale`` = 0.001 is SiamFC's ``s`` (PAPER FACT); rest ours.

    Attributes:
        backbone: two stages (stride 8).
        feature_channels: channels of ``phi`` after the 1x1 adjust conv.
        response_scale: ``s`` in ``s * xcorr + b``.
        template_size, search_size: crop sides in pixels (lite sizes, OUR CHOICE).
        input_norm: ``"none"`` (crops enter as raw [0, 1] RGB) or ``"crop"``: each crop is
            standardised by its own mean and standard deviation over all pixels and channels,
            ``x' = (x - mean(x)) / (std(x) + input_norm_eps)`` (OUR CHOICE). A global lighting
            change ``x -> g x + o`` (the IV attribute) then leaves ``x'`` unchanged, and one scalar
            for all channels keeps the colour ratios that tell objects apart.
        input_norm_eps: the ``eps`` above (keeps flat crops finite).

    The defaults (search 128, no standardisation) are what the shipped checkpoints use, and the
    presets keep them. ``search_size=192`` (17 x 17 response map, reach +-2 target sides instead of
    +-1) with ``input_norm="crop"`` is the option for fast motion and lighting changes; it needs a
    longer training schedule than the lite budget.
    """

    backbone: BackboneConfig = field(default_factory=lambda: BackboneConfig.preset(
        "teacher", widths=(64, 128), blocks=(1, 3)))
    feature_channels: int = 64
    response_scale: float = 0.001
    template_size: int = 64
    search_size: int = 128
    input_norm: str = "none"
    input_norm_eps: float = 1e-2

    PRESETS: ClassVar[dict[str, dict]] = {
        "teacher": dict(backbone=dict(widths=(64, 128), blocks=(1, 3)), feature_channels=64),
        "student": dict(backbone=dict(widths=(16, 48), blocks=(1, 2)), feature_channels=32),
        # the student at two and four times its widths (OUR CHOICE): students between the student and
        # the teacher, to see how the capacity gap limits distillation
        "student_x2": dict(backbone=dict(stem_channels=16, widths=(32, 96), blocks=(1, 2)), feature_channels=64),
        "student_x4": dict(backbone=dict(stem_channels=32, widths=(64, 192), blocks=(1, 2)), feature_channels=128),
    }
    INPUT_NORMS: ClassVar[tuple[str, ...]] = ("none", "crop")

    def __post_init__(self) -> None:
        if self.input_norm not in self.INPUT_NORMS:
            raise ValueError(f"SiamFCConfig.input_norm must be one of {self.INPUT_NORMS}, got {self.input_norm!r}")
        if (self.search_size - self.template_size) % self.backbone.stride:
            raise ValueError(f"SiamFCConfig: search_size - template_size = {self.search_size - self.template_size} "
                             f"must be a multiple of the stride {self.backbone.stride}")

    @classmethod
    def preset(cls, name: str, **overrides) -> "SiamFCConfig":
        """``"teacher"``, ``"student"`` or a wider student ``"student_x2"`` / ``"student_x4"`` SiamFC:
        two stages of the teacher's residual blocks or of the student's depthwise-separable ones."""
        if name not in cls.PRESETS:
            raise ValueError(f"SiamFCConfig.preset: unknown preset {name!r}; known: {sorted(cls.PRESETS)}")
        values = dict(cls.PRESETS[name])
        blocks_of = "teacher" if name == "teacher" else "student"
        values["backbone"] = BackboneConfig.preset(blocks_of, **values["backbone"]).to_dict()
        return cls.from_dict({**values, **overrides})

    @property
    def stride(self) -> int:
        return self.backbone.stride

    @property
    def response_size(self) -> int:
        return (self.search_size - self.template_size) // self.stride + 1


def standardize_crops(images: torch.Tensor, eps: float = 1e-2) -> torch.Tensor:
    """Per-crop standardisation ``(x - mean(x)) / (std(x) + eps)``, one mean and one (population)
    std per crop over all channels and pixels (OUR CHOICE, see :class:`SiamFCConfig`).

    Args:
        images: ``(B, C, H, W)`` crops.

    Returns:
        ``(B, C, H, W)``; invariant to ``x -> g x + o`` for ``g > 0`` up to ``eps``.
    """
    mean = images.mean(dim=(1, 2, 3), keepdim=True)  # (B, 1, 1, 1)
    std = images.std(dim=(1, 2, 3), keepdim=True, unbiased=False)
    return (images - mean) / (std + eps)


def xcorr(z_feat: torch.Tensor, x_feat: torch.Tensor) -> torch.Tensor:
    """Cross-correlate each template with its search features via one grouped ``conv2d``.

    Args:
        z_feat: ``(B, C, hz, wz)`` template features (or ``(1, C, hz, wz)``, shared by all ``B``).
        x_feat: ``(B, C, hx, wx)`` search features.

    Returns:
        ``(B, 1, hx - hz + 1, wx - wz + 1)`` un-scaled responses.
    """
    b, c, hx, wx = x_feat.shape
    if z_feat.shape[0] == 1 and b > 1:
        z_feat = z_feat.expand(b, -1, -1, -1)
    if z_feat.shape[:2] != (b, c):
        raise ValueError(f"xcorr: template features {tuple(z_feat.shape)} do not fit search features {tuple(x_feat.shape)}")
    out = F.conv2d(x_feat.reshape(1, b * c, hx, wx), z_feat, groups=b)  # (1, B, ho, wo)
    return out.reshape(b, 1, out.shape[-2], out.shape[-1])


class SiamFC(nn.Module):
    """``forward(template (B,3,64,64), search (B,3,X,X)) -> logits (B, 1, R, R)``, ``R = (X - 64) / 8 + 1``
    (X = 128, R = 9 in the presets).

    For tracking, :meth:`features` embeds crops once and :meth:`response` correlates cached
    template features with several search crops. Feature taps: :meth:`taps`.
    """

    def __init__(self, cfg: SiamFCConfig | None = None):
        super().__init__()
        self.cfg = cfg = cfg or SiamFCConfig()
        self.backbone = Backbone(cfg.backbone)
        # linear 1x1 conv + BN: BN keeps phi at unit scale so that s = 0.001 gives usable logits
        self.adjust = nn.Sequential(nn.Conv2d(cfg.backbone.widths[-1], cfg.feature_channels, 1, bias=False),
                                    nn.BatchNorm2d(cfg.feature_channels))
        self.bias = nn.Parameter(torch.zeros(1))

    def taps(self) -> dict[str, nn.Module]:
        """Backbone taps (``"s4"``, ``"s8"``) plus ``"adjust"`` (the embedding ``phi``)."""
        return {**self.backbone.taps(), "adjust": self.adjust}

    def features(self, images: torch.Tensor) -> torch.Tensor:
        """``phi``: ``(B, 3, S, S)`` crops in [0, 1] -> ``(B, C, S / 8, S / 8)`` (standardised
        first when ``cfg.input_norm == "crop"``)."""
        if self.cfg.input_norm == "crop":
            images = standardize_crops(images, self.cfg.input_norm_eps)
        last = self.backbone(images)[self.cfg.backbone.tap_names[-1]]
        return self.adjust(last)

    def response(self, z_feat: torch.Tensor, x_feat: torch.Tensor) -> torch.Tensor:
        """Response logits ``s * xcorr(z_feat, x_feat) + b`` -> ``(B, 1, R, R)``."""
        return self.cfg.response_scale * xcorr(z_feat, x_feat) + self.bias

    def forward(self, template: torch.Tensor, search: torch.Tensor) -> torch.Tensor:
        return self.response(self.features(template), self.features(search))


@register_builder("siamfc", SiamFCConfig)
def build_siamfc(cfg: SiamFCConfig | None = None) -> SiamFC:
    """Registry builder ``"siamfc"``; presets: ``SiamFCConfig.preset("teacher"|"student")``."""
    return SiamFC(cfg or SiamFCConfig())


def siamfc_labels(response_size: int, target_offset: torch.Tensor, stride: int, r_pos: float) -> torch.Tensor:
    """SiamFC training labels: 1 within L1 distance ``r_pos / stride`` of the target, else 0.

    Args:
        response_size: side ``R`` of the response map.
        target_offset: ``(B, 2)`` target centre minus search-crop centre, in search pixels (x, y).
        stride: search pixels per response cell.
        r_pos: positive radius in search pixels.

    Returns:
        ``(B, 1, R, R)`` float labels.
    """
    c = (response_size - 1) / 2
    grid = torch.arange(response_size, dtype=torch.float32, device=target_offset.device)
    tx = c + target_offset[:, 0].float() / stride  # (B,) target position in response cells
    ty = c + target_offset[:, 1].float() / stride
    dist = (grid[None, None, :] - tx[:, None, None]).abs() + (grid[None, :, None] - ty[:, None, None]).abs()
    return (dist <= r_pos / stride).float()[:, None]  # (B, 1, R, R)


def pair_labels(logits: torch.Tensor, batch: dict[str, torch.Tensor], stride: int, r_pos: float) -> torch.Tensor:
    """Labels ``(B, 1, R, R)`` of a :class:`~kdtrack_lite.data.datasets.SiamesePairs` batch for
    ``logits (B, 1, R, R)``: :func:`siamfc_labels` at ``batch["target_offset"]``, all negative where
    ``batch["visible"]`` is 0 (no target in the search crop)."""
    labels = siamfc_labels(logits.shape[-1], batch["target_offset"], stride, r_pos)
    if "visible" in batch:
        labels = labels * (batch["visible"].float() > 0.5).float()[:, None, None, None]
    return labels


def balanced_logistic_loss(logits: torch.Tensor, labels: torch.Tensor, per_sample: bool = False) -> torch.Tensor:
    """Balanced logistic loss: ``1/2 mean_pos BCE + 1/2 mean_neg BCE`` over the whole batch.

    Every positive weighs ``1 / (2 N_pos)`` and every negative ``1 / (2 N_neg)`` (SiamFC's
    balancing; the 1/2 is OUR normalisation so the weights sum to 1). With no positive (target
    invisible) the negatives carry the whole weight.

    Args:
        logits: ``(B, 1, R, R)`` response logits.
        labels: same shape, 1 = positive, 0 = negative.
        per_sample: balance each sample alone and return ``(B,)`` (a task loss per sample, as
            SDST's loss-based teacher weights need) instead of one scalar for the batch.
    """
    if logits.shape != labels.shape:
        raise ValueError(f"balanced_logistic_loss: logits {tuple(logits.shape)} and labels {tuple(labels.shape)} differ")
    bce = F.binary_cross_entropy_with_logits(logits, labels, reduction="none")
    pos = labels > 0.5
    if per_sample:
        return torch.stack([_balanced_mean(bce_b, pos_b) for bce_b, pos_b in zip(bce, pos)])  # (B,)
    return _balanced_mean(bce, pos)


def _balanced_mean(bce: torch.Tensor, pos: torch.Tensor) -> torch.Tensor:
    """``1/2 mean(bce[pos]) + 1/2 mean(bce[~pos])``, or ``mean(bce)`` when either set is empty."""
    n_pos, n_neg = pos.sum(), (~pos).sum()
    if n_pos == 0 or n_neg == 0:
        return bce.mean()
    return 0.5 * bce[pos].sum() / n_pos + 0.5 * bce[~pos].sum() / n_neg


@dataclass
class SiamFCLossConfig(Config):
    """``r_pos``: positive radius in search pixels (OUR CHOICE for the 128-pixel search crop)."""

    r_pos: float = 8.0


def siamfc_sample_loss(logits: torch.Tensor, batch: dict[str, torch.Tensor],
                       cfg: SiamFCLossConfig | None = None, stride: int = 8) -> torch.Tensor:
    """SiamFC's balanced logistic loss of each sample alone -> ``(B,)`` (SDST's ``e_bk``, the
    task loss by which the adaptive scheme weighs a teacher on a sample)."""
    labels = pair_labels(logits, batch, stride, (cfg or SiamFCLossConfig()).r_pos)
    return balanced_logistic_loss(logits, labels, per_sample=True)


class SiamFCLoss(nn.Module):
    """Thin module: :func:`pair_labels` of the batch, then :func:`balanced_logistic_loss`.
    ``forward(logits, batch) -> {"loss_task": scalar}``."""

    def __init__(self, cfg: SiamFCLossConfig | None = None, stride: int = 8):
        super().__init__()
        self.cfg, self.stride = cfg or SiamFCLossConfig(), stride

    def forward(self, logits: torch.Tensor, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        labels = pair_labels(logits, batch, self.stride, self.cfg.r_pos)
        return {"loss_task": balanced_logistic_loss(logits, labels)}
