"""Inference-time deployment: Conv+BatchNorm folding and channels-last memory (standard steps, not new methods).

In eval mode BatchNorm is a fixed per-channel affine map, so it folds into the convolution
before it: ``W' = W * g / sqrt(v + eps)``, ``b' = (b - m) * g / sqrt(v + eps) + beta`` (per output
channel, with running mean ``m``, variance ``v``, weight ``g``, bias ``beta``). The outputs are
unchanged up to float rounding and one memory pass per BN layer disappears, which matters most
for small, memory-bound students on a CPU.

:func:`deploy` also stores the weights channels-last (NHWC, ``torch.channels_last``), the layout
the CPU convolution library (oneDNN) computes in, so no layout conversion runs around each
convolution. A frame from :func:`~kdtrack_lite.track.pipeline.frame_to_tensor` is already NHWC
in memory (a permuted view of the ``(H, W, 3)`` image). Speed tables deploy every model the same way.
"""

from __future__ import annotations

import copy

import torch
from torch import nn
from torch.nn.utils.fusion import fuse_conv_bn_eval


def fuse_conv_bn(model: nn.Module) -> nn.Module:
    """An eval-mode copy of ``model`` with every ``Conv2d`` directly followed by a ``BatchNorm2d``
    (inside an ``nn.Sequential``) folded into one ``Conv2d``; the BN becomes ``nn.Identity``.

    The copy keeps the model's attributes (config, builder tag), so it runs in the same pipelines;
    it is for inference only (its state dict no longer matches the training checkpoint).
    """
    fused = copy.deepcopy(model).eval()
    for module in fused.modules():
        if not isinstance(module, nn.Sequential):
            continue
        children = list(module._modules.items())
        for (name_a, a), (name_b, b) in zip(children, children[1:]):
            if isinstance(a, nn.Conv2d) and isinstance(b, nn.BatchNorm2d) and b.track_running_stats:
                module._modules[name_a] = fuse_conv_bn_eval(a, b)
                module._modules[name_b] = nn.Identity()
    return fused


def deploy(model: nn.Module, channels_last: bool = True) -> nn.Module:
    """The inference form every speed table and pipeline benchmark runs: an eval-mode copy with
    Conv+BN folded (:func:`fuse_conv_bn`) and, with ``channels_last``, 4-D weights stored
    channels-last. Outputs equal the model's up to float rounding (about 1e-5 here)."""
    fused = fuse_conv_bn(model)
    return fused.to(memory_format=torch.channels_last) if channels_last else fused
