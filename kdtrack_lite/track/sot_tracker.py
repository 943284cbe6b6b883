"""SiamFC single-object tracker with the got10k interface ``init(frame, box_xywh)`` / ``update(frame)``.

PAPER FACTS (SiamFC, Bertinetto et al. 2016): the exemplar is cropped once at
``init`` with context around the target and its features are cached; each new frame is searched
around the previous position at several scales; the response is upsampled, non-central scales
are penalised, a Hann (cosine) window penalises large displacements, and the size is updated
with a scale learning rate.

The numeric defaults of ``scale_penalty`` and ``response_upsample`` are the values of the SiamFC
reference implementation; so were ``scale_step = 1.0375``, ``scale_lr = 0.59`` and
``window_influence = 0.176``. OUR CHOICE:
``scale_step = 1.06`` and ``scale_lr = 1.0``, because the synthetic zoom ramps change the target's
size by about 5 % a frame while the reference values let the box follow at most
1.0375 ** 0.59 - 1 = 2.2 % a frame, so the box lags and the template stops matching.

OUR CHOICE: ``search_scale = 1.25`` and ``window_influence = 0.12`` -- the search crop at tracking
time is 1.25x the side the model was trained with (160 px for the 128-px presets, at the same pixel
scale), with a weaker cosine window, because fast-motion bursts move the synthetic targets beyond
the +-4-cell reach of the 9 x 9 training response map, and the fully convolutional network scores
a wider crop unchanged.

OUR CHOICES: lite crop sizes read from the model's config (``model.cfg.template_size`` /
``search_size``, so a checkpoint trained with a 192-pixel search crop is run with a 240-pixel one;
64 / 128 for a model that does not say), context 0.5; the scale penalty and the score act on
sigmoid probabilities; sizes clamped to ``[min_size, frame size]``. Options, off by default: a
wider search while the target looks lost (``lost_score``, a local-to-global search in the spirit
of DaSiamRPN), padding crops with each frame's mean colour (``fill``), and a constant-velocity
search centre (``motion``: the crop moved by a share of the last displacement; the synthetic
fast-motion bursts start and stop within a few frames, so the last displacement often points the
wrong way).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import torch
from torch import nn

from ..config import Config
from ..data.crops import context_size, crop_and_resize


@dataclass
class SOTTrackerConfig(Config):
    """Inference settings of :class:`SiamFCTracker` (see the module docstring for sources).

    ``template_size`` / ``search_size``: crop sides in pixels; ``None`` (default) = the model's
    ``cfg.template_size`` / ``cfg.search_size`` (64 / 128 when the model has none), the search side
    times ``search_scale`` (rounded so that the response map stays centred). Crops are always taken
    at the template's pixel scale, so a larger search side shows the (fully convolutional) network
    more of the frame around the target, not a zoomed-out view.
    """

    template_size: int | None = None
    search_size: int | None = None
    search_scale: float = 1.25   # OUR CHOICE (see the module docstring); 1.0 = the training side
    context: float = 0.5
    num_scales: int = 3
    scale_step: float = 1.06     # SiamFC reference: 1.0375 (see the module docstring)
    scale_penalty: float = 0.9745
    scale_lr: float = 1.0        # SiamFC reference: 0.59
    window_influence: float = 0.12  # SiamFC reference: 0.176 (see the module docstring)
    response_upsample: int = 16
    min_size: float = 4.0
    lost_score: float = 0.0      # peak probability below which the target counts as lost (0: never)
    lost_growth: float = 1.5     # search-area growth per frame while lost ...
    max_growth: float = 2.5      # ... up to this factor of the normal search side
    hold_when_lost: bool = True  # a lost target keeps its last box (else the peak is followed)
    fill: str = "first"          # crop padding colour: the "first" frame's mean, or each "frame"'s
    motion: float = 0.0          # search centred at the last centre + motion * the last displacement
                                 # (0: around the last centre, as in SiamFC)

    def __post_init__(self):
        if self.fill not in ("first", "frame"):
            raise ValueError(f"SOTTrackerConfig.fill must be 'first' or 'frame', got {self.fill!r}")
        if self.search_scale <= 0:
            raise ValueError(f"SOTTrackerConfig.search_scale must be > 0, got {self.search_scale}")
        if not 0.0 <= self.motion <= 1.0:
            raise ValueError(f"SOTTrackerConfig.motion must be in [0, 1], got {self.motion}")
        if self.lost_growth < 1 or self.max_growth < 1:
            raise ValueError(f"SOTTrackerConfig: lost_growth and max_growth must be >= 1, got "
                             f"{self.lost_growth}, {self.max_growth}")


class SiamFCTracker:
    """Track one object with a :class:`kdtrack_lite.models.siamfc.SiamFC`-like model.

    The model needs ``features(crops (B, 3, S, S) in [0, 1]) -> (B, C, h, w)``,
    ``response(z_feat, x_feat) -> (B, 1, R, R)`` logits, and ``cfg.stride``.

    Args:
        model: the Siamese network (put in eval mode here).
        cfg: :class:`SOTTrackerConfig`.
    """

    def __init__(self, model: nn.Module, cfg: SOTTrackerConfig | None = None):
        self.model = model.eval()
        cfg = cfg or SOTTrackerConfig()
        self.stride = int(model.cfg.stride)
        template = cfg.template_size or int(getattr(model.cfg, "template_size", 64))
        trained = int(getattr(model.cfg, "search_size", 128))
        self.cfg = cfg.replace(template_size=template,
                               search_size=cfg.search_size or self._centred_side(template, trained * cfg.search_scale))
        self.device = next(model.parameters(), torch.zeros(0)).device
        n = self.cfg.num_scales
        self.scale_factors = self.cfg.scale_step ** (np.arange(n) - (n - 1) / 2)  # (n,)
        self._z_feat = None
        self._windows: dict[int, np.ndarray] = {}
        self.growth = 1.0  # search side / normal search side (> 1 while the target is lost)

    def _to_tensor(self, crops: list[np.ndarray]) -> torch.Tensor:
        arr = np.stack(crops).astype(np.float32) / 255.0  # (B, S, S, 3)
        return torch.from_numpy(arr).permute(0, 3, 1, 2).to(self.device)

    @torch.no_grad()
    def init(self, frame: np.ndarray, box_xywh) -> None:
        """Start tracking ``box_xywh`` = ``[left, top, w, h]`` in ``frame (H, W, 3)`` uint8 RGB.

        Raises:
            ValueError: a frame that is not ``(H, W, 3)`` uint8, a box that is not four finite
                numbers with ``w, h > 0``, or a box entirely outside the frame.
        """
        frame = _check_frame(frame, "init")
        box = np.asarray(box_xywh, np.float64).reshape(-1)
        if box.shape != (4,) or not np.isfinite(box).all() or box[2] <= 0 or box[3] <= 0:
            raise ValueError(f"SiamFCTracker.init: box_xywh must be [left, top, w, h], four finite numbers with "
                             f"w, h > 0, got {box_xywh}")
        h, w = frame.shape[:2]
        if box[0] >= w or box[1] >= h or box[0] + box[2] <= 0 or box[1] + box[3] <= 0:
            raise ValueError(f"SiamFCTracker.init: box_xywh {box.tolist()} lies entirely outside the {w}x{h} frame; "
                             f"the template must show the target")
        cfg = self.cfg
        self.center = box[:2] + box[2:] / 2  # (cx, cy)
        self.size = box[2:].copy()  # (w, h)
        self.z_side = context_size(self.size[0], self.size[1], cfg.context)
        self.x_side = self.z_side * cfg.search_size / cfg.template_size
        self.fill = frame.reshape(-1, 3).mean(0)
        z = crop_and_resize(frame, tuple(self.center), self.z_side, cfg.template_size, self.fill)
        self._z_feat = self.model.features(self._to_tensor([z]))  # cached exemplar features
        self.growth = 1.0
        self.velocity = np.zeros(2)  # last frame-to-frame displacement of the centre (frame px)

    def _window(self, up: int) -> np.ndarray:
        """Normalised Hann window of an ``up x up`` upsampled response (cached per side)."""
        if up not in self._windows:
            hann = np.outer(np.hanning(up), np.hanning(up))
            self._windows[up] = hann / hann.sum()
        return self._windows[up]

    def _centred_side(self, template: int, side: float) -> int:
        """``side`` rounded so that ``side - template`` is a multiple of the stride (a centred map)."""
        return template + self.stride * round((side - template) / self.stride)

    def _search_side(self) -> int:
        """Search crop side in crop pixels: ``search_size`` grown by ``self.growth`` (>= 1) at the
        same pixel scale, centred-rounded."""
        return self._centred_side(self.cfg.template_size, self.cfg.search_size * self.growth)

    @torch.no_grad()
    def update(self, frame: np.ndarray) -> tuple[np.ndarray, float]:
        """Locate the target in ``frame``; returns ``(box_xywh (4,), score in [0, 1])``."""
        if self._z_feat is None:
            raise RuntimeError("SiamFCTracker.update: call init(frame, box_xywh) first")
        frame = _check_frame(frame, "update")
        cfg, n = self.cfg, self.cfg.num_scales
        side = self._search_side()
        pixel = self.x_side / cfg.search_size  # frame pixels per crop pixel at the central scale
        fill = frame.reshape(-1, 3).mean(0) if cfg.fill == "frame" else self.fill
        h, w = frame.shape[:2]
        # where the search crop (and with it the cosine window) is centred: the last centre, moved
        # by a share of the last displacement (a constant-velocity guess; 0 = SiamFC's choice)
        origin = np.clip(self.center + cfg.motion * self.velocity, 0, [w, h])
        crops = [crop_and_resize(frame, tuple(origin), side * pixel * s, side, fill)
                 for s in self.scale_factors]
        logits = self.model.response(self._z_feat, self.model.features(self._to_tensor(crops)))  # (n, 1, R, R)
        probs = torch.sigmoid(logits[:, 0]).cpu().numpy().astype(np.float64)  # (n, R, R)
        up_side = probs.shape[-1] * cfg.response_upsample
        up = np.stack([cv2.resize(p, (up_side, up_side), interpolation=cv2.INTER_CUBIC) for p in probs])
        penalty = np.full(n, cfg.scale_penalty)
        penalty[(n - 1) // 2] = 1.0  # the central scale is not penalised
        best = int(np.argmax(up.reshape(n, -1).max(1) * penalty))
        score = float(probs[best].max())
        r = up[best] - up[best].min()
        r = r / max(r.sum(), 1e-16)
        r = (1 - cfg.window_influence) * r + cfg.window_influence * self._window(up_side)
        peak = np.array(np.unravel_index(int(np.argmax(r)), r.shape)[::-1], np.float64)  # (x, y)
        # upsampled cells -> response cells -> search-crop pixels -> frame pixels
        disp_response = (peak - (up_side - 1) / 2) / cfg.response_upsample
        disp_frame = disp_response * self.stride * pixel * self.scale_factors[best]
        lost = score < cfg.lost_score
        self.growth = min(self.growth * cfg.lost_growth, cfg.max_growth) if lost else 1.0
        if lost and cfg.hold_when_lost:  # not found: keep the last box, search a wider area next frame
            self.velocity = np.zeros(2)
            return np.r_[self.center - self.size / 2, self.size], score
        center = np.clip(origin + disp_frame, 0, [w, h])
        self.velocity, self.center = center - self.center, center
        scale = (1 - cfg.scale_lr) + cfg.scale_lr * self.scale_factors[best]
        new_size = np.clip(self.size * scale, cfg.min_size, [w, h])
        scale = float(np.sqrt(np.prod(new_size) / np.prod(self.size)))
        self.size = new_size
        self.z_side *= scale
        self.x_side *= scale
        return np.r_[self.center - self.size / 2, self.size], score


def _check_frame(frame: np.ndarray, where: str) -> np.ndarray:
    """An ``(H, W, 3)`` uint8 frame. Floats are refused, not rescaled: a float frame in [0, 1]
    read as 0..255 is nearly black and the tracker loses the target without a word."""
    frame = np.asarray(frame)
    if frame.ndim != 3 or frame.shape[2] != 3:
        raise ValueError(f"SiamFCTracker.{where}: frame must be (H, W, 3) RGB, got shape {frame.shape}")
    if frame.dtype != np.uint8:
        raise ValueError(f"SiamFCTracker.{where}: frame must be uint8 RGB in 0..255, got dtype {frame.dtype}"
                         + ("; for a float frame in [0, 1] pass (frame * 255).round().astype(np.uint8)"
                            if frame.dtype.kind == "f" else ""))
    return frame
