"""The VSD-MOT student: a small Transformer encoder over a frame token and the tracker's query vectors.

PAPER FACT (VSD-MOT abstract): the student that replaces the frozen CLIP image encoder at
inference "employs a Transformer Encoder architecture to process the query vectors of the
multi-object tracking algorithm"; its semantic output is fused with the query vectors (DSWR).

OUR DESIGN CHOICES:

* a *query vector* of the lite tracker is the per-object feature of a detection: its appearance
  embedding (the detector's embedding head, ``D_q``), an ROI feature (ROI-aligned detector neck,
  ``D_roi``; may be 0) and a box encoding ``(cx / W, cy / H, w / W, h / H)``;
* a *frame token* comes from a tiny conv stem on a down-sized frame (``thumb_size``), so the
  student sees the whole frame as CLIP does, at a fraction of the cost;
* tokens ``[frame; q_1 .. q_N]`` go through ``nn.TransformerEncoder`` (pre-norm, GELU) with a
  padding mask, so frames with different numbers of objects share a batch;
* two linear heads: ``to_teacher`` projects every token into the teacher's embedding space
  (``E``, what DCSD compares with CLIP), ``to_query`` maps object tokens back to the query space
  (``D_q``) so that ``fused = (1 - a) query + a semantic`` is defined (DSWR).

Shapes: ``thumbs (B, 3, h, w)`` in [0, 1]; ``queries (B, N, D_q + D_roi)``; ``boxes_cxcywh
(B, N, 4)`` normalised by the frame size; ``valid (B, N)`` bool. Outputs: ``frame_t (B, E)``,
``tokens_t (B, N, E)`` and ``semantic (B, N, D_q)``, all L2-normalised.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch
import torch.nn.functional as F
from torch import nn

from ..config import Config
from ..registry import register_builder


@dataclass
class SemanticEncoderConfig(Config):
    """Student semantic encoder size (OUR DESIGN CHOICE).

    Attributes:
        query_dim: ``D_q``, the tracker's appearance-embedding size (fusion space).
        roi_dim: ``D_roi``, ROI-feature channels appended to each query (0: none).
        teacher_dim: ``E``, the CLIP teacher's embedding size (RN50: 1024).
        d_model: Transformer width.
        heads: attention heads.
        layers: encoder layers.
        ff_mult: feed-forward width = ``ff_mult * d_model``.
        thumb_size: ``(h, w)`` of the frame thumbnail the frame token is computed from.
        dropout: dropout inside the encoder.
    """

    query_dim: int = 32
    roi_dim: int = 96
    teacher_dim: int = 1024
    d_model: int = 64
    heads: int = 4
    layers: int = 2
    ff_mult: int = 2
    thumb_size: tuple[int, int] = (48, 64)
    dropout: float = 0.0

    FAST: ClassVar[dict] = {}


class SemanticEncoder(nn.Module):
    """Frame token + query vectors -> teacher-space and query-space semantics (see module docstring)."""

    def __init__(self, cfg: SemanticEncoderConfig | None = None):
        super().__init__()
        self.cfg = cfg = cfg or SemanticEncoderConfig()
        if cfg.d_model % cfg.heads:
            raise ValueError(f"SemanticEncoder: d_model={cfg.d_model} must be divisible by heads={cfg.heads}")
        d = cfg.d_model
        # frame stem: 3 strided convs then global average pooling -> one token
        self.frame_stem = nn.Sequential(
            nn.Conv2d(3, 16, 3, 2, 1), nn.ReLU(), nn.Conv2d(16, 32, 3, 2, 1), nn.ReLU(),
            nn.Conv2d(32, d, 3, 2, 1), nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.query_in = nn.Sequential(nn.Linear(cfg.query_dim + cfg.roi_dim + 4, d), nn.GELU(), nn.Linear(d, d))
        self.type_embed = nn.Parameter(torch.zeros(2, d))  # 0: frame token, 1: query token
        layer = nn.TransformerEncoderLayer(d, cfg.heads, cfg.ff_mult * d, cfg.dropout, activation="gelu",
                                           batch_first=True, norm_first=True)
        self.encoder = nn.TransformerEncoder(layer, cfg.layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(d)
        self.to_teacher = nn.Linear(d, cfg.teacher_dim)
        self.to_query = nn.Linear(d, cfg.query_dim)

    def thumbnail(self, frames: torch.Tensor) -> torch.Tensor:
        """``(B, 3, H, W)`` float in [0, 1] -> ``(B, 3, h, w)`` thumbnails (:func:`frame_thumbnail`)."""
        return frame_thumbnail(frames, self.cfg.thumb_size)

    def forward(self, thumbs: torch.Tensor, queries: torch.Tensor, boxes_cxcywh: torch.Tensor,
                valid: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        """Args:
            thumbs: ``(B, 3, h, w)`` frame thumbnails in [0, 1] (see :meth:`thumbnail`).
            queries: ``(B, N, D_q + D_roi)`` query vectors (``N`` may be 0).
            boxes_cxcywh: ``(B, N, 4)`` boxes normalised by frame width/height.
            valid: ``(B, N)`` bool, False on padding (default: all valid).
        Returns:
            ``{"frame_t": (B, E), "tokens_t": (B, N, E), "semantic": (B, N, D_q)}``, L2-normalised.
        """
        cfg = self.cfg
        b, n = queries.shape[:2]
        want = cfg.query_dim + cfg.roi_dim
        if queries.ndim != 3 or queries.shape[-1] != want:
            raise ValueError(f"SemanticEncoder: queries must be (B, N, {want}) = query_dim + roi_dim, "
                             f"got {tuple(queries.shape)}")
        if boxes_cxcywh.shape != (b, n, 4):
            raise ValueError(f"SemanticEncoder: boxes_cxcywh must be ({b}, {n}, 4), got {tuple(boxes_cxcywh.shape)}")
        if thumbs.ndim != 4 or thumbs.shape[:2] != (b, 3):
            raise ValueError(f"SemanticEncoder: thumbs must be ({b}, 3, h, w), got {tuple(thumbs.shape)}")
        valid = torch.ones(b, n, dtype=torch.bool, device=queries.device) if valid is None else valid.bool()
        if valid.shape != (b, n):
            raise ValueError(f"SemanticEncoder: valid must be ({b}, {n}), got {tuple(valid.shape)}")
        frame_tok = self.frame_stem(thumbs) + self.type_embed[0]  # (B, d)
        q_tok = self.query_in(torch.cat([queries, boxes_cxcywh], -1)) + self.type_embed[1]  # (B, N, d)
        tokens = torch.cat([frame_tok[:, None], q_tok], 1)  # (B, 1 + N, d)
        pad = torch.cat([torch.zeros(b, 1, dtype=torch.bool, device=valid.device), ~valid], 1)  # True = ignore
        h = self.norm(self.encoder(tokens, src_key_padding_mask=pad))  # (B, 1 + N, d)
        return {
            "frame_t": F.normalize(self.to_teacher(h[:, 0]), dim=-1),
            "tokens_t": F.normalize(self.to_teacher(h[:, 1:]), dim=-1),
            "semantic": F.normalize(self.to_query(h[:, 1:]), dim=-1),
        }


def frame_thumbnail(frames: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """``(B, 3, H, W)`` float in [0, 1] -> ``(B, 3, h, w)``, bilinear with antialiasing."""
    return F.interpolate(frames, size=tuple(size), mode="bilinear", antialias=True, align_corners=False)


@register_builder("semantic_encoder", SemanticEncoderConfig)
def build_semantic_encoder(cfg: SemanticEncoderConfig | None = None) -> SemanticEncoder:
    """Registry builder ``"semantic_encoder"``."""
    return SemanticEncoder(cfg or SemanticEncoderConfig())
