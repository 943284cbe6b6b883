"""Linear CKA: how similar two representations are, whatever their widths (Kornblith et al. 2019).

PAPER FACT ("Similarity of Neural Network Representations Revisited", ICML 2019): for
representations ``X (N, D1)`` and ``Y (N, D2)`` of the same ``N`` examples, with columns centred,

    CKA(X, Y) = ||Y^T X||_F^2 / ( ||X^T X||_F * ||Y^T Y||_F ),

which equals ``HSIC(K, L) / sqrt(HSIC(K, K) HSIC(L, L))`` for linear kernels ``K = X X^T``,
``L = Y Y^T``. It lies in [0, 1], is 1 for identical representations, and is invariant to
orthogonal transforms and isotropic scaling (not to arbitrary invertible linear maps).

OUR DESIGN CHOICE for feature maps (:func:`feature_cka`): every spatial position of every sample
is one example (row), channels are the features; maps of different resolution are pooled to the
smaller one (adaptive average pooling); when there are more than ``max_rows`` rows, the same
``max_rows`` rows are drawn from both maps with a seeded ``torch.Generator``. Used to show, before
and after distillation, how close the student's features are to the teacher's.
"""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd
import torch

from ._shapes import check_4d, match_spatial


def linear_cka(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Linear CKA between two representations of the same examples.

    Args:
        x: ``(N, D1)``.
        y: ``(N, D2)``.

    Returns:
        Scalar tensor in [0, 1] (float64; 0 when either representation is constant).
    """
    if x.dim() != 2 or y.dim() != 2 or x.shape[0] != y.shape[0]:
        raise ValueError(f"linear_cka: expected x (N, D1) and y (N, D2) with the same N, "
                         f"got {tuple(x.shape)} and {tuple(y.shape)}")
    if x.shape[0] < 2:
        raise ValueError(f"linear_cka: need at least 2 examples (rows), got {x.shape[0]}")
    x = x.double() - x.double().mean(dim=0, keepdim=True)  # centre each feature (column)
    y = y.double() - y.double().mean(dim=0, keepdim=True)
    cross = torch.linalg.matrix_norm(y.T @ x) ** 2  # ||Y^T X||_F^2
    norm = torch.linalg.matrix_norm(x.T @ x) * torch.linalg.matrix_norm(y.T @ y)
    return cross / norm if norm > 0 else cross * 0.0


def feature_rows(feat: torch.Tensor) -> torch.Tensor:
    """``(B, C, H, W) -> (B*H*W, C)``: one row per spatial position of each sample."""
    check_4d("feature_rows", "feat", feat)
    return feat.permute(0, 2, 3, 1).reshape(-1, feat.shape[1])  # (B*H*W, C)


def feature_cka(feat_a: torch.Tensor, feat_b: torch.Tensor, max_rows: int = 4096, seed: int = 0) -> torch.Tensor:
    """Linear CKA between two feature maps of the same batch (module doc for the rows).

    Args:
        feat_a: ``(B, C_a, H_a, W_a)``.
        feat_b: ``(B, C_b, H_b, W_b)``; the larger resolution is pooled to the smaller.
        max_rows: at most this many rows (positions) are used, drawn with ``seed``.
        seed: seed of the row subsample (deterministic: same seed, same rows).

    Returns:
        Scalar float64 tensor in [0, 1].
    """
    check_4d("feature_cka", "feat_a", feat_a)
    check_4d("feature_cka", "feat_b", feat_b)
    if feat_a.shape[0] != feat_b.shape[0]:
        raise ValueError(f"feature_cka: batch sizes differ: {tuple(feat_a.shape)} vs {tuple(feat_b.shape)}")
    if max_rows < 2:
        raise ValueError(f"feature_cka: max_rows must be >= 2, got {max_rows}")
    feat_a, feat_b = match_spatial(feat_a, feat_b)
    rows_a, rows_b = feature_rows(feat_a), feature_rows(feat_b)
    if rows_a.shape[0] > max_rows:
        gen = torch.Generator().manual_seed(seed)
        keep = torch.randperm(rows_a.shape[0], generator=gen)[:max_rows].to(rows_a.device)
        rows_a, rows_b = rows_a[keep], rows_b[keep]
    return linear_cka(rows_a, rows_b)


def cka_matrix(feats_a: Mapping[str, torch.Tensor], feats_b: Mapping[str, torch.Tensor],
               max_rows: int = 4096, seed: int = 0) -> pd.DataFrame:
    """CKA of every pair of taps: rows = ``feats_a`` names, columns = ``feats_b`` names.

    Args:
        feats_a: ``{tap: (B, C, H, W)}``, e.g. the student's tapped features.
        feats_b: ``{tap: (B, C, H, W)}`` of the same batch, e.g. the teacher's.
        max_rows, seed: see :func:`feature_cka`.

    Returns:
        ``pandas.DataFrame`` of floats (``index.name = "a"``, ``columns.name = "b"``).
    """
    if not feats_a or not feats_b:
        raise ValueError("cka_matrix: feats_a and feats_b must each hold at least one feature map")
    with torch.no_grad():
        values = [[float(feature_cka(fa, fb, max_rows, seed)) for fb in feats_b.values()]
                  for fa in feats_a.values()]
    table = pd.DataFrame(values, index=list(feats_a), columns=list(feats_b))
    table.index.name, table.columns.name = "a", "b"
    return table
