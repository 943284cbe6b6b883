import pandas as pd
import pytest
import torch
from torch.nn import functional as F

from kdtrack_lite.distill import cka_matrix, feature_cka, feature_rows, linear_cka


def _gen(seed=0):
    return torch.Generator().manual_seed(seed)


def _hsic_cka(x, y):
    """Reference: CKA = HSIC(K, L) / sqrt(HSIC(K, K) HSIC(L, L)), HSIC = tr(K H L H) / (n - 1)^2."""
    x, y = x.double(), y.double()
    n = x.shape[0]
    h = torch.eye(n, dtype=torch.float64) - torch.full((n, n), 1.0 / n, dtype=torch.float64)

    def hsic(k, m):
        return torch.trace(k @ h @ m @ h) / (n - 1) ** 2

    k, m = x @ x.T, y @ y.T
    return hsic(k, m) / torch.sqrt(hsic(k, k) * hsic(m, m))


def test_cka_of_itself_is_one_and_matches_hsic_formula():
    x = torch.randn(50, 8, generator=_gen(1))
    y = torch.randn(50, 20, generator=_gen(2)) + x.repeat(1, 3)[:, :20]  # related, wider
    assert linear_cka(x, x).item() == pytest.approx(1.0)
    assert linear_cka(x, y).item() == pytest.approx(_hsic_cka(x, y).item(), rel=1e-9)
    assert 0.0 < linear_cka(x, y).item() < 1.0
    assert linear_cka(x, y).item() == pytest.approx(linear_cka(y, x).item(), rel=1e-12)


def test_cka_invariances():
    x = torch.randn(40, 6, generator=_gen(3), dtype=torch.float64)
    y = torch.randn(40, 10, generator=_gen(4), dtype=torch.float64) + torch.cat([x, x[:, :4]], 1)
    q, _ = torch.linalg.qr(torch.randn(10, 10, generator=_gen(5), dtype=torch.float64))
    base = linear_cka(x, y).item()
    assert linear_cka(x, y @ q).item() == pytest.approx(base, rel=1e-9)  # orthogonal
    assert linear_cka(7.5 * x, y).item() == pytest.approx(base, rel=1e-9)  # isotropic scale
    assert linear_cka(x + 3.0, y).item() == pytest.approx(base, rel=1e-9)  # centring
    # not invariant to an arbitrary (non-orthogonal) invertible map: the test can fail
    stretch = torch.diag(torch.tensor([100.0] + [1.0] * 9, dtype=torch.float64))
    assert linear_cka(x, y @ stretch).item() != pytest.approx(base, rel=1e-3)


def test_cka_bad_input():
    with pytest.raises(ValueError, match="same N"):
        linear_cka(torch.randn(5, 2), torch.randn(6, 2))
    with pytest.raises(ValueError, match="at least 2"):
        linear_cka(torch.randn(1, 2), torch.randn(1, 2))
    assert linear_cka(torch.ones(5, 2), torch.randn(5, 2)).item() == 0.0  # constant representation


def test_feature_cka_rows_pooling_and_subsample():
    a = torch.randn(2, 16, 6, 8, generator=_gen(6))
    rows = feature_rows(a)
    assert rows.shape == (2 * 6 * 8, 16) and torch.equal(rows[7], a[0, :, 0, 7])
    # a 1x1 conv with orthogonal weights is an orthogonal map of every row: CKA = 1
    q, _ = torch.linalg.qr(torch.randn(16, 16, generator=_gen(7)))
    b = F.conv2d(a, q[:, :, None, None])
    assert feature_cka(a, b).item() == pytest.approx(1.0)
    # different widths and resolutions: the larger map is average-pooled first
    big = torch.randn(2, 48, 12, 16, generator=_gen(8))
    expected = linear_cka(feature_rows(a), feature_rows(F.avg_pool2d(big, 2)))
    assert feature_cka(a, big).item() == pytest.approx(expected.item(), rel=1e-9)
    # subsample: deterministic per seed, different across seeds, close to the full value
    full = feature_cka(a, big, max_rows=10_000).item()
    sub = feature_cka(a, big, max_rows=60, seed=1).item()
    assert sub == feature_cka(a, big, max_rows=60, seed=1).item()
    assert sub != feature_cka(a, big, max_rows=60, seed=2).item()
    assert full == pytest.approx(expected.item(), rel=1e-9)
    with pytest.raises(ValueError, match="batch sizes"):
        feature_cka(a, big[:1])


def test_cka_matrix_dataframe():
    feats = {"s8": torch.randn(2, 8, 4, 4, generator=_gen(9)), "s16": torch.randn(2, 12, 2, 2, generator=_gen(10))}
    table = cka_matrix(feats, feats)
    assert isinstance(table, pd.DataFrame) and list(table.index) == ["s8", "s16"] == list(table.columns)
    assert table.loc["s8", "s8"] == pytest.approx(1.0) and table.loc["s16", "s16"] == pytest.approx(1.0)
    assert table.loc["s8", "s16"] == pytest.approx(feature_cka(feats["s8"], feats["s16"]).item())
    assert table.loc["s8", "s16"] == pytest.approx(table.loc["s16", "s8"])
