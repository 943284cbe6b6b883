"""Inference-time Conv+BatchNorm folding (a standard deployment step, not a new method).

In eval mode BatchNorm is a fixed per-channel affine map, so it folds into the convolution
before it: ``W' = W * g / sqrt(v + eps)``, ``b' = (b - m) * g / sqrt(v + eps) + beta`` (per output
channel, with running mean ``m``, variance ``v``, weight ``g``, bias ``beta``). The outputs are
unchanged up to float rounding and one memory pass per BN layer disappears, which matters most
for small, memory-bound students on a CPU. Speed tables fuse every model the same way.
"""

from __future__ import annotations

import copy

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
