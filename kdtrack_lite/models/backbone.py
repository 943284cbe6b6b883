"""Backbone family: one configurable CNN with teacher and student presets at shared strides.

OUR DESIGN CHOICE: distillation needs teacher and student features at the
same spatial strides, so both come from one family. A stem halves the resolution (stride 2), then
each stage halves it again: with three stages the features are at strides 4, 8 and 16 and are
named ``"s4"``, ``"s8"``, ``"s16"`` (two stages: ``"s4"``, ``"s8"``, the SiamFC stride).

* teacher preset: wide ResNet-style basic blocks (two 3x3 conv-BN, identity shortcut;
  He et al. 2016).
* student preset: narrow depthwise-separable blocks (3x3 depthwise + 1x1 pointwise;
  MobileNet, Howard et al. 2017), at least 8x fewer parameters (checked in the tests).

Feature taps for FitNets hints and attention transfer are exposed through :meth:`Backbone.taps`
(name -> module whose *output* is that feature), so a Distiller attaches forward hooks and never
rewrites ``forward``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch
from torch import nn

from ..config import Config

BLOCK_TYPES = ("residual", "dwsep")


@dataclass
class BackboneConfig(Config):
    """Shape of a backbone (OUR DESIGN CHOICE; sizes picked to train on a 2-core CPU in minutes).

    Attributes:
        in_channels: image channels (3 = RGB).
        stem_channels: channels after the stride-2 stem.
        stem_kernel: kernel size of the stem conv.
        widths: channels of each stage; stage ``i`` has stride ``2 ** (i + 2)``.
        blocks: blocks per stage (the first block of a stage downsamples by 2).
        block: ``"residual"`` (basic residual block) or ``"dwsep"`` (depthwise-separable).
    """

    in_channels: int = 3
    stem_channels: int = 24
    stem_kernel: int = 3
    widths: tuple[int, ...] = (48, 96, 160)
    blocks: tuple[int, ...] = (1, 2, 2)
    block: str = "residual"

    PRESETS: ClassVar[dict[str, dict]] = {
        "teacher": dict(stem_channels=24, widths=(48, 96, 160), blocks=(1, 2, 2), block="residual"),
        "student": dict(stem_channels=8, widths=(16, 32, 64), blocks=(1, 2, 2), block="dwsep"),
        # two and three times the student's widths: students between the student and the teacher,
        # to see how the capacity gap limits distillation
        "student_x2": dict(stem_channels=16, widths=(32, 64, 128), blocks=(1, 2, 2), block="dwsep"),
        "student_x3": dict(stem_channels=24, widths=(48, 96, 192), blocks=(1, 2, 2), block="dwsep"),
    }
    # student_m: student_x3's backbone (its detector preset puts student_x2's neck and head on it)
    PRESETS["student_m"] = PRESETS["student_x3"]

    @classmethod
    def preset(cls, name: str, **overrides) -> "BackboneConfig":
        """The named preset (``"teacher"``, ``"student"``, ``"student_x2"``, ``"student_x3"``,
        ``"student_m"``) with ``overrides`` applied."""
        if name not in cls.PRESETS:
            raise ValueError(f"BackboneConfig.preset: unknown preset {name!r}; known: {sorted(cls.PRESETS)}")
        return cls.from_dict({**cls.PRESETS[name], **overrides})

    def __post_init__(self) -> None:
        self.widths, self.blocks = tuple(self.widths), tuple(self.blocks)
        if self.block not in BLOCK_TYPES:
            raise ValueError(f"BackboneConfig.block: expected one of {BLOCK_TYPES}, got {self.block!r}")
        if len(self.widths) != len(self.blocks) or not self.widths:
            raise ValueError(
                f"BackboneConfig: widths {self.widths} and blocks {self.blocks} must be non-empty and of equal length"
            )
        if min(self.blocks) < 1:
            raise ValueError(f"BackboneConfig.blocks: every stage needs >= 1 block, got {self.blocks}")

    @property
    def tap_names(self) -> tuple[str, ...]:
        return tuple(f"s{2 ** (i + 2)}" for i in range(len(self.widths)))

    @property
    def stride(self) -> int:
        """Stride of the last stage."""
        return 2 ** (len(self.widths) + 1)


def conv_bn_relu(c_in: int, c_out: int, kernel: int = 3, stride: int = 1, groups: int = 1) -> nn.Sequential:
    """``Conv(k, stride, 'same' padding, no bias) -> BN -> ReLU``."""
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, kernel, stride, kernel // 2, groups=groups, bias=False),
        nn.BatchNorm2d(c_out),
        nn.ReLU(inplace=True),
    )


class ResidualBlock(nn.Module):
    """Basic residual block (He et al. 2016): ``relu(x' + BN(conv(relu(BN(conv(x))))))``.

    ``x'`` is ``x`` or, when the shape changes, a strided 1x1 conv + BN projection of ``x``.
    """

    def __init__(self, c_in: int, c_out: int, stride: int = 1):
        super().__init__()
        self.conv1 = conv_bn_relu(c_in, c_out, 3, stride)
        self.conv2 = nn.Sequential(nn.Conv2d(c_out, c_out, 3, 1, 1, bias=False), nn.BatchNorm2d(c_out))
        self.shortcut = (
            nn.Identity() if stride == 1 and c_in == c_out
            else nn.Sequential(nn.Conv2d(c_in, c_out, 1, stride, bias=False), nn.BatchNorm2d(c_out))
        )
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.relu(self.shortcut(x) + self.conv2(self.conv1(x)))


class DepthwiseSeparableBlock(nn.Module):
    """3x3 depthwise conv-BN-ReLU then 1x1 pointwise conv-BN-ReLU (MobileNet v1 block).

    OUR CHOICE: an identity shortcut is added when input and output shapes agree.
    """

    def __init__(self, c_in: int, c_out: int, stride: int = 1):
        super().__init__()
        self.depthwise = conv_bn_relu(c_in, c_in, 3, stride, groups=c_in)
        self.pointwise = conv_bn_relu(c_in, c_out, 1)
        self.residual = stride == 1 and c_in == c_out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.pointwise(self.depthwise(x))
        return x + y if self.residual else y


_BLOCKS = {"residual": ResidualBlock, "dwsep": DepthwiseSeparableBlock}


class Backbone(nn.Module):
    """Stem (stride 2) + stages (each stride 2) returning every stage's features by name.

    Args:
        cfg: the :class:`BackboneConfig`.

    ``forward(x (B, C_in, H, W), stem_extra=None) -> {"s4": (B, w0, H/4, W/4), "s8": ..., ...}``.
    ``stem_extra (B, stem_channels, H/2, W/2)`` is *added* to the stem output before the stages:
    that is where CenterTrack's previous-frame and prior-heatmap stems join.
    """

    def __init__(self, cfg: BackboneConfig | None = None):
        super().__init__()
        self.cfg = cfg = cfg or BackboneConfig()
        self.stem = conv_bn_relu(cfg.in_channels, cfg.stem_channels, cfg.stem_kernel, 2)
        block = _BLOCKS[cfg.block]
        stages, c_in = [], cfg.stem_channels
        for width, n_blocks in zip(cfg.widths, cfg.blocks):
            layers = [block(c_in, width, stride=2)] + [block(width, width) for _ in range(n_blocks - 1)]
            stages.append(nn.Sequential(*layers))
            c_in = width
        self.stages = nn.ModuleList(stages)
        self.tap_names = cfg.tap_names
        self.out_channels = dict(zip(cfg.tap_names, cfg.widths))

    def taps(self) -> dict[str, nn.Module]:
        """Feature taps: name (``"s4"``, ``"s8"``, ...) -> module whose output is that feature."""
        return dict(zip(self.tap_names, self.stages))

    def forward(self, x: torch.Tensor, stem_extra: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        if x.ndim != 4 or x.shape[1] != self.cfg.in_channels:
            raise ValueError(
                f"Backbone.forward: expected x of shape (B, {self.cfg.in_channels}, H, W), got {tuple(x.shape)}"
            )
        h = self.stem(x)  # (B, stem_channels, H/2, W/2)
        if stem_extra is not None:
            h = h + stem_extra
        feats = {}
        for name, stage in zip(self.tap_names, self.stages):
            h = stage(h)
            feats[name] = h
        return feats


def count_parameters(model: nn.Module, trainable_only: bool = False) -> int:
    """Number of parameters (all, or only those with ``requires_grad``)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)
