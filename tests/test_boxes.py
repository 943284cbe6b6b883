import numpy as np
import pytest
import torch
import torchvision

from kdtrack_lite import boxes as B


def test_conversions_round_trip_numpy_and_torch():
    rng = np.random.default_rng(0)
    tlwh = np.concatenate([rng.uniform(0, 100, (20, 2)), rng.uniform(1, 50, (20, 2))], axis=1)
    for arr in (tlwh, torch.as_tensor(tlwh)):
        xyxy = B.tlwh_to_xyxy(arr)
        assert type(xyxy) is type(arr)
        np.testing.assert_allclose(np.asarray(B.xyxy_to_tlwh(xyxy)), tlwh, atol=1e-9)
        np.testing.assert_allclose(np.asarray(B.cxcywh_to_tlwh(B.tlwh_to_cxcywh(arr))), tlwh, atol=1e-9)


def test_hand_computed_case():
    np.testing.assert_allclose(B.tlwh_to_xyxy(np.array([10.0, 20, 30, 40])), [10, 20, 40, 60])
    np.testing.assert_allclose(B.xyxy_to_cxcywh(np.array([10.0, 20, 40, 60])), [25, 40, 30, 40])
    iou = B.box_iou(np.array([[0.0, 0, 2, 2]]), np.array([[1.0, 1, 3, 3], [5, 5, 6, 6]]))
    np.testing.assert_allclose(iou, [[1 / 7, 0.0]])


def test_iou_matches_torchvision():
    g = torch.Generator().manual_seed(1)
    xy = torch.rand(30, 2, generator=g) * 50
    a = torch.cat([xy, xy + 1 + torch.rand(30, 2, generator=g) * 30], 1)
    b = a[torch.randperm(30, generator=g)] + torch.rand(30, 4, generator=g) * 5
    b[:, 2:] = torch.maximum(b[:, 2:], b[:, :2] + 1)
    torch.testing.assert_close(B.box_iou(a, b), torchvision.ops.box_iou(a, b))
    np.testing.assert_allclose(B.box_iou(a.numpy(), b.numpy()), torchvision.ops.box_iou(a, b).numpy(), rtol=1e-5)


def test_degenerate_boxes_give_zero_not_nan():
    z = np.zeros((1, 4))
    assert B.box_iou(z, z)[0, 0] == 0.0


def test_wrong_shape_is_clear():
    with pytest.raises(ValueError, match=r"\(\.\.\., 4\)"):
        B.tlwh_to_xyxy(np.zeros((3, 5)))
