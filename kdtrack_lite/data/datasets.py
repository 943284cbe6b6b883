"""torch Datasets for training: CenterTrack frame pairs and Siamese template/search pairs.

Both datasets are deterministic per ``(cfg.seed, index)``: each item draws its random numbers
from ``numpy.random.default_rng([seed, index])`` (no global RNG), so a DataLoader with any
number of workers yields the same items.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import cv2
import numpy as np
import torch
from torch.utils.data import Dataset, WeightedRandomSampler

from ..boxes import tlwh_to_xyxy
from ..config import Config
from .crops import context_size, crop_and_resize
from .heatmap import render_heatmap
from .sequence import MOTSequence, SOTSequence
from .sot_synth import ATTRIBUTES


def split_by_sequence(names: list[str], fractions: tuple[float, float, float] = (0.7, 0.15, 0.15),
                      seed: int = 0) -> dict[str, list[str]]:
    """Split sequence names into ``{"train", "val", "test"}`` (whole sequences, never frames).

    Frames of one sequence are strongly correlated; splitting by frame would leak test scenes
    into training. Each split with a positive fraction gets at least one name when there are
    enough names.
    """
    if len(fractions) != 3 or any(f < 0 for f in fractions) or not math.isclose(sum(fractions), 1.0):
        raise ValueError(f"split_by_sequence: fractions must be 3 non-negative numbers summing to 1, got {fractions}")
    if len(set(names)) != len(names):
        raise ValueError("split_by_sequence: sequence names must be unique")
    order = [names[i] for i in np.random.default_rng(seed).permutation(len(names))]
    n = len(order)
    counts = [int(round(f * n)) for f in fractions]
    for k in range(3):
        if fractions[k] > 0 and counts[k] == 0 and n >= 3:
            counts[k] = 1
    while sum(counts) > n:
        counts[int(np.argmax(counts))] -= 1
    counts[0] += n - sum(counts)
    a, b = counts[0], counts[0] + counts[1]
    return {"train": order[:a], "val": order[a:b], "test": order[b:]}


@dataclass
class PairConfig(Config):
    """CenterTrack training pairs.

    PAPER FACT (CenterTrack, Zhou et al. 2020): the prior heatmap is rendered from the previous
    frame's ground truth with training noise -- centres jittered by ``N(0, 0.05 w)`` /
    ``N(0, 0.05 h)`` (``hm_jitter``), a peak dropped with p = 0.4 (``drop_prob``), a false peak
    added with p = 0.1 (``fp_prob``); the previous frame is a nearby frame. OUR DESIGN CHOICE:
    the false peak sits about one box size away from its object (``fp_offset``).
    """

    stride: int = 4
    max_objects: int = 64
    min_visibility: float = 0.15
    max_frame_gap: int = 3
    min_overlap: float = 0.7
    hm_jitter: float = 0.05
    drop_prob: float = 0.4
    fp_prob: float = 0.1
    fp_offset: float = 1.0
    seed: int = 0

    FAST: ClassVar[dict] = {}


def _to_tensor(frame: np.ndarray) -> torch.Tensor:
    """``(H, W, 3)`` uint8 -> ``(3, H, W)`` float32 in [0, 1]."""
    return torch.from_numpy(np.ascontiguousarray(frame.transpose(2, 0, 1))).float().div_(255)


class CenterTrackPairs(Dataset):
    """Items for detection-with-previous-frame training (CenterTrack-style).

    Item keys (K = ``cfg.max_objects``, S = ``cfg.stride``, output ``Ho, Wo = H // S, W // S``):
        image, prev_image ``(3, H, W)``; prior_hm ``(1, H, W)``; hm ``(1, Ho, Wo)``;
        ind ``(K,)`` int64 = y * Wo + x of each peak; mask ``(K,)``; wh ``(K, 2)`` in input px;
        reg ``(K, 2)`` sub-pixel centre offset at output res; tracking ``(K, 2)`` = previous
        centre - current peak (output px; 0 for new objects) with tracking_mask ``(K,)``;
        ids ``(K,)`` int64 (0 = padding); boxes_xyxy ``(K, 4)`` input px; seq_index, frame.
    Boxes are clipped to the image; objects with visibility < ``min_visibility`` are left out.
    """

    def __init__(self, sequences: list[MOTSequence], cfg: PairConfig | None = None):
        self.sequences = list(sequences)
        self.cfg = cfg or PairConfig.make()
        self.index = [(s, t) for s, seq in enumerate(self.sequences) for t in range(1, seq.num_frames + 1)]
        for seq in self.sequences:
            W, H = seq.size
            if W % self.cfg.stride or H % self.cfg.stride:
                raise ValueError(f"CenterTrackPairs: frame size {W}x{H} of {seq.name!r} is not divisible by "
                                 f"stride {self.cfg.stride}")

    def __len__(self) -> int:
        return len(self.index)

    def _objects(self, seq: MOTSequence, t: int) -> tuple[np.ndarray, np.ndarray]:
        """ids ``(n,)`` and clipped boxes_xyxy ``(n, 4)`` of visible-enough objects at frame ``t``."""
        ids, tlwh, vis = seq.boxes_at(t)
        W, H = seq.size
        xyxy = np.clip(tlwh_to_xyxy(tlwh), 0, [W, H, W, H])
        keep = (vis >= self.cfg.min_visibility) & (xyxy[:, 2] > xyxy[:, 0]) & (xyxy[:, 3] > xyxy[:, 1])
        return ids[keep], xyxy[keep]

    def prior_heatmap(self, boxes_xyxy: np.ndarray, H: int, W: int, rng: np.random.Generator) -> np.ndarray:
        """Previous-frame boxes rendered at stride 1 with CenterTrack's training noise ``(H, W)``."""
        c = self.cfg
        out = []
        for x1, y1, x2, y2 in boxes_xyxy:
            w, h = x2 - x1, y2 - y1
            if rng.random() < c.fp_prob:
                d = rng.normal(0, c.fp_offset, 2) * (w, h)
                out.append((x1 + d[0], y1 + d[1], x2 + d[0], y2 + d[1]))
            if rng.random() < c.drop_prob:
                continue
            d = rng.normal(0, c.hm_jitter, 2) * (w, h)
            out.append((x1 + d[0], y1 + d[1], x2 + d[0], y2 + d[1]))
        return render_heatmap(np.array(out).reshape(-1, 4), H, W, stride=1, min_overlap=c.min_overlap)

    def prior_boxes(self, seq_index: int, prev_frame: int, prev_xyxy: np.ndarray,
                    rng: np.random.Generator) -> np.ndarray:
        """Boxes ``(n, 4)`` xyxy the prior of a pair is rendered from (before the training noise):
        here the previous frame's ground truth; a subclass may use another model's tracks
        (:class:`kdtrack_lite.train.prior_transfer.TeacherPriorPairs`)."""
        return prev_xyxy

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        c = self.cfg
        s, t = self.index[index]
        seq = self.sequences[s]
        rng = np.random.default_rng([c.seed, index])
        prev = max(1, t - int(rng.integers(1, c.max_frame_gap + 1)))
        W, H = seq.size
        S, K = c.stride, c.max_objects
        Wo = W // S
        ids, xyxy = self._objects(seq, t)
        prev_ids, prev_xyxy = self._objects(seq, prev)
        if len(ids) > K:
            raise ValueError(f"CenterTrackPairs: {seq.name!r} frame {t} has {len(ids)} objects, more than "
                             f"max_objects={K}; raise PairConfig.max_objects")
        item = {
            "ind": np.zeros(K, np.int64), "mask": np.zeros(K, np.float32), "wh": np.zeros((K, 2), np.float32),
            "reg": np.zeros((K, 2), np.float32), "tracking": np.zeros((K, 2), np.float32),
            "tracking_mask": np.zeros(K, np.float32), "ids": np.zeros(K, np.int64),
            "boxes_xyxy": np.zeros((K, 4), np.float32),
        }
        prev_ct = {int(i): ((b[0] + b[2]) / 2 / S, (b[1] + b[3]) / 2 / S) for i, b in zip(prev_ids, prev_xyxy)}
        for k, (i, b) in enumerate(zip(ids, xyxy)):
            ct = np.array([(b[0] + b[2]) / 2, (b[1] + b[3]) / 2]) / S
            ct_int = np.minimum(ct.astype(np.int64), [Wo - 1, H // S - 1])
            item["ind"][k] = ct_int[1] * Wo + ct_int[0]
            item["mask"][k] = 1
            item["wh"][k] = (b[2] - b[0], b[3] - b[1])
            item["reg"][k] = ct - ct_int
            item["ids"][k] = i
            item["boxes_xyxy"][k] = b
            if int(i) in prev_ct:
                item["tracking"][k] = np.array(prev_ct[int(i)]) - ct_int  # CenterTrack: pre_ct - ct_int
                item["tracking_mask"][k] = 1
        out = {key: torch.from_numpy(v) for key, v in item.items()}
        out["image"] = _to_tensor(seq.frames[t - 1])
        out["prev_image"] = _to_tensor(seq.frames[prev - 1])
        prior_xyxy = self.prior_boxes(s, prev, prev_xyxy, rng)
        out["prior_hm"] = torch.from_numpy(self.prior_heatmap(prior_xyxy, H, W, rng))[None]
        out["hm"] = torch.from_numpy(render_heatmap(xyxy, H, W, stride=S, min_overlap=c.min_overlap))[None]
        out["seq_index"], out["frame"] = torch.tensor(s), torch.tensor(t)
        return out


@dataclass
class SiamPairConfig(Config):
    """Siamese (SiamFC-style) template/search pairs.

    PAPER FACT (SiamFC): exemplar crop side ``sqrt((w + p)(h + p))``, ``p = context (w + h)``,
    context 0.5; the search crop covers ``search_size / exemplar_size`` times that. OUR DESIGN
    CHOICE: random shift and log-uniform scale jitter of the search crop (``max_shift`` in
    search-crop px, ``scale_jitter`` in log units); optional photometric augmentation of the
    search crop (off by default, on in the SOT recipe): with probability ``photometric_prob``
    a gain ``exp(U(-brightness, brightness))`` and a contrast stretch about the crop mean
    ``exp(U(-contrast, contrast))``; with probability ``blur_prob`` a linear motion blur of up to
    ``blur_max_px`` pixels in a random direction. Without it a Siamese net learns "same
    colours = same object" and loses targets whose lighting changes (IV) or that smear (MB).

    OUR DESIGN CHOICE: ``on_policy_prob`` -- with this probability a pair
    whose :class:`SiamesePairs` was given ``search_boxes`` (where a tracker searched at each
    frame) crops the search frame where the *tracker* searched, at its scale, instead of around
    the true box: the target then sits where tracking sees it (displaced by fast motion, off a
    drifted box after an occlusion, at the wrong scale), the training distribution of on-policy
    imitation (DAgger, Ross et al. 2011).
    """

    exemplar_size: int = 64
    search_size: int = 128
    context: float = 0.5
    max_frame_gap: int = 50
    max_shift: float = 16.0
    scale_jitter: float = 0.15
    photometric_prob: float = 0.0
    brightness: float = 0.9  # log-gain range: exp(0.9) ~ 2.5x brighter or darker
    contrast: float = 0.4
    blur_prob: float = 0.0
    blur_max_px: int = 9
    on_policy_prob: float = 0.0
    seed: int = 0

    FAST: ClassVar[dict] = {}


class SiamesePairs(Dataset):
    """Template/search pairs from SOT sequences.

    Item keys: template ``(3, Z, Z)``, search ``(3, X, X)`` float32 in [0, 1];
    target_offset ``(2,)`` = target centre - crop centre (search-crop px); target_size ``(2,)``
    w, h (search-crop px); attributes ``(A,)`` multi-hot of the search frame (``ATTRIBUTES``
    order); visible (0 when fully occluded or out of view); seq_index; frame (0-based).
    The template frame is visible and at most ``max_frame_gap`` frames from the search frame.

    ``search_boxes``: optional ``{sequence name: (T, 4) tlwh}``, the box a tracker searched around
    at each frame (its estimate of the frame before; NaN where it did not track). With probability
    ``cfg.on_policy_prob`` a frame with a finite box is cropped there, at the side the tracker's
    crop has (``context_size(w, h) * search_size / exemplar_size``), and ``target_offset`` is wherever
    the target then lies -- beyond the response map when the tracker lost it (an all-negative label).
    """

    def __init__(self, sequences: list[SOTSequence], cfg: SiamPairConfig | None = None,
                 search_boxes: dict[str, np.ndarray] | None = None):
        self.sequences = list(sequences)
        self.cfg = cfg or SiamPairConfig.make()
        for seq in self.sequences:
            if not seq.visible.any():
                raise ValueError(f"SiamesePairs: sequence {seq.name!r} has no frame where the target is visible")
        if not 0.0 <= self.cfg.on_policy_prob <= 1.0:
            raise ValueError(f"SiamesePairs: on_policy_prob must be in [0, 1], got {self.cfg.on_policy_prob}")
        self.search_boxes, by_name = {}, {q.name: q for q in self.sequences}
        for name, boxes in (search_boxes or {}).items():
            seq = by_name.get(name)
            if seq is None:
                raise ValueError(f"SiamesePairs: search_boxes names {name!r}, which is not one of the sequences")
            boxes = np.asarray(boxes, np.float64)
            if boxes.shape != (seq.num_frames, 4):
                raise ValueError(f"SiamesePairs: search_boxes[{name!r}] must be ({seq.num_frames}, 4) tlwh "
                                 f"(one box per frame), got shape {boxes.shape}")
            self.search_boxes[name] = boxes
        self.index = [(s, t) for s, seq in enumerate(self.sequences) for t in range(seq.num_frames)]

    def __len__(self) -> int:
        return len(self.index)

    def frame_attributes(self, index: int) -> np.ndarray:
        """``(A,)`` multi-hot attributes of item ``index``'s search frame (cheap: no cropping)."""
        s, t = self.index[index]
        fa = self.sequences[s].frame_attributes
        return np.array([bool(fa[a][t]) if a in fa else False for a in ATTRIBUTES], np.float32)

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        c = self.cfg
        s, t = self.index[index]
        seq = self.sequences[s]
        rng = np.random.default_rng([c.seed, index])
        visible = np.flatnonzero(seq.visible)
        near = visible[np.abs(visible - t) <= c.max_frame_gap]
        z = int(rng.choice(near)) if len(near) else int(visible[np.argmin(np.abs(visible - t))])
        x, y, w, h = seq.boxes_tlwh[z]
        # crop_and_resize takes pixel-index coordinates (pixel i has centre i): box centre - 0.5
        template = crop_and_resize(seq.frames[z], (x + w / 2 - 0.5, y + h / 2 - 0.5), context_size(w, h, c.context),
                                   c.exemplar_size)
        x, y, w, h = seq.boxes_tlwh[t]
        side = context_size(w, h, c.context) * c.search_size / c.exemplar_size
        side *= math.exp(rng.uniform(-c.scale_jitter, c.scale_jitter))
        scale = c.search_size / side  # search-crop px per frame px
        shift = rng.uniform(-c.max_shift, c.max_shift, 2)
        centre = np.array([x + w / 2 - 0.5, y + h / 2 - 0.5]) - shift / scale
        tracked = self.search_boxes.get(seq.name)
        if tracked is not None and c.on_policy_prob > 0 and rng.uniform() < c.on_policy_prob \
                and np.isfinite(tracked[t]).all():  # crop where the tracker searched, at its scale
            bx, by, bw, bh = tracked[t]
            side = context_size(bw, bh, c.context) * c.search_size / c.exemplar_size
            scale = c.search_size / side
            centre = np.array([bx + bw / 2 - 0.5, by + bh / 2 - 0.5])
            shift = (np.array([x + w / 2 - 0.5, y + h / 2 - 0.5]) - centre) * scale
        search = crop_and_resize(seq.frames[t], (float(centre[0]), float(centre[1])), side, c.search_size)
        search = _photometric(search, c, rng)
        return {
            "template": _to_tensor(template), "search": _to_tensor(search),
            "target_offset": torch.tensor(shift, dtype=torch.float32),
            "target_size": torch.tensor([w * scale, h * scale], dtype=torch.float32),
            "attributes": torch.from_numpy(self.frame_attributes(index)),
            "visible": torch.tensor(float(seq.visible[t])), "seq_index": torch.tensor(s), "frame": torch.tensor(t),
        }


def _photometric(crop: np.ndarray, c: SiamPairConfig, rng: np.random.Generator) -> np.ndarray:
    """The optional gain / contrast / motion-blur augmentation of :class:`SiamPairConfig` (uint8 HWC)."""
    draws = rng.uniform(size=2)  # drawn whether or not used, so turning one op on leaves the other's draws alone
    out = crop.astype(np.float32)
    if draws[0] < c.photometric_prob:
        gain, stretch = np.exp(rng.uniform(-c.brightness, c.brightness)), np.exp(rng.uniform(-c.contrast, c.contrast))
        mean = out.mean()
        out = ((out - mean) * stretch + mean) * gain
    if draws[1] < c.blur_prob and c.blur_max_px >= 2:
        length = int(rng.integers(2, c.blur_max_px + 1))
        kernel = np.zeros((length, length), np.float32)
        kernel[length // 2, :] = 1.0 / length
        rot = cv2.getRotationMatrix2D(((length - 1) / 2, (length - 1) / 2), float(rng.uniform(0, 180)), 1.0)
        kernel = cv2.warpAffine(kernel, rot, (length, length))
        out = cv2.filter2D(out, -1, kernel / max(kernel.sum(), 1e-6), borderType=cv2.BORDER_REPLICATE)
    if draws[0] >= c.photometric_prob and draws[1] >= c.blur_prob:
        return crop
    return np.clip(out + 0.5, 0, 255).astype(np.uint8)


def attribute_sampler(dataset: SiamesePairs, attributes: list[str], boost: float = 4.0,
                      num_samples: int | None = None, seed: int = 0) -> WeightedRandomSampler:
    """Sampler that draws search frames carrying any of ``attributes`` ``boost`` times as often.

    For attribute-specialised teachers (e.g. an occlusion teacher trained mostly on OCC frames).
    """
    bad = sorted(set(attributes) - set(ATTRIBUTES))
    if bad:
        raise ValueError(f"attribute_sampler: unknown attribute(s) {bad}; expected some of {ATTRIBUTES}")
    cols = [ATTRIBUTES.index(a) for a in attributes]
    hits = np.array([dataset.frame_attributes(i)[cols].any() for i in range(len(dataset))])
    weights = torch.from_numpy(np.where(hits, boost, 1.0))
    return WeightedRandomSampler(weights, num_samples or len(dataset), replacement=True,
                                 generator=torch.Generator().manual_seed(seed))
