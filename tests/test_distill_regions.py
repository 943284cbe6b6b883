"""Where to imitate: object-region masks and the region-weighted hint and attention-transfer losses."""

import pytest
import torch

from kdtrack_lite.distill import AttentionTransfer, DistillContext, HintLoss, at_loss, hint_loss
from kdtrack_lite.distill.regions import box_mask, region_weights


def _batch(boxes, H=64, W=96):
    K = 4
    b = torch.zeros(1, K, 4)
    m = torch.zeros(1, K)
    for k, box in enumerate(boxes):
        b[0, k] = torch.tensor(box, dtype=torch.float32)
        m[0, k] = 1
    return {"boxes_xyxy": b, "mask": m, "image": torch.zeros(1, 3, H, W)}


def test_box_mask_marks_exactly_the_cells_a_box_overlaps():
    batch = _batch([(16, 8, 32, 24)])  # image 64 x 96, map 8 x 12: cells of 8 px
    mask = box_mask(batch["boxes_xyxy"], batch["mask"], (64, 96), (8, 12), margin=0.0)
    assert mask.shape == (1, 1, 8, 12)
    rows, cols = torch.nonzero(mask[0, 0], as_tuple=True)
    assert sorted(set(rows.tolist())) == [1, 2] and sorted(set(cols.tolist())) == [2, 3]
    grown = box_mask(batch["boxes_xyxy"], batch["mask"], (64, 96), (8, 12), margin=0.25)
    assert grown.sum() > mask.sum() and bool((grown >= mask).all())


def test_padding_rows_are_ignored_and_an_empty_frame_gives_zero_weights():
    batch = _batch([])
    batch["boxes_xyxy"][0, 0] = torch.tensor([0.0, 0.0, 96.0, 64.0])  # a padding row (mask 0)
    w = region_weights(batch, "objects", (8, 12))
    assert w.shape == (1, 1, 8, 12) and float(w.abs().sum()) == 0.0
    assert region_weights(batch, "all", (8, 12)) is None


def test_region_weights_have_mean_one_and_zero_outside_objects():
    w = region_weights(_batch([(16, 8, 32, 24), (60, 30, 90, 60)]), "objects", (16, 24))
    assert abs(float(w.mean()) - 1.0) < 1e-5
    assert float(w[0, 0, 0, 0]) == 0.0  # the corner is background


def test_unknown_region_and_missing_boxes_are_named():
    with pytest.raises(ValueError, match="region must be one of"):
        AttentionTransfer(region="everywhere")
    with pytest.raises(KeyError, match="boxes_xyxy"):
        region_weights({"image": torch.zeros(1, 3, 8, 8)}, "objects", (2, 2))


def test_weighted_losses_ignore_background_differences():
    torch.manual_seed(0)
    t = torch.randn(1, 4, 8, 12)
    s = t.clone()
    s[..., 0, 0] += 5.0  # differ only in a background cell
    w = region_weights(_batch([(40, 24, 72, 48)]), "objects", (8, 12))
    assert float(w[0, 0, 0, 0]) == 0.0
    assert float(hint_loss(s, t, w)) == 0.0 and float(hint_loss(s, t)) > 0.0
    assert float(at_loss(s, t, 2, w)) < 1e-12 < float(at_loss(s, t, 2))
    s2 = t.clone()
    s2[..., 4, 6] += 5.0  # inside the box
    assert float(hint_loss(s2, t, w)) > float(hint_loss(s2, t))  # weights of mean 1 concentrate there


def test_uniform_weights_equal_the_plain_losses():
    torch.manual_seed(1)
    s, t = torch.randn(2, 3, 6, 6), torch.randn(2, 5, 6, 6)
    ones = torch.ones(2, 1, 6, 6)
    assert torch.allclose(at_loss(s, t, 2, ones), at_loss(s, t, 2))
    t3 = torch.randn(2, 3, 6, 6)
    assert torch.allclose(hint_loss(s, t3, ones), hint_loss(s, t3))


def test_region_terms_read_the_boxes_from_the_batch_and_train():
    torch.manual_seed(2)
    batch = _batch([(16, 8, 48, 40)], H=32, W=64)
    feats_s = {"s8": torch.randn(1, 4, 4, 8, requires_grad=True)}
    feats_t = {"teacher": {"s8": torch.randn(1, 6, 4, 8)}}
    ctx = DistillContext(batch=batch, student_out=None, student_feats=feats_s, teacher_feats=feats_t)
    # the hint regressor in eval mode: in train mode its BatchNorm statistics couple every position
    for term in (HintLoss({"s8": (4, 6)}, region="objects").eval(), AttentionTransfer(taps=("s8",), region="objects")):
        (loss,) = term(ctx).values()
        loss.backward()
        grad = feats_s["s8"].grad
        assert grad is not None and float(grad[..., 0, 7].abs().sum()) == 0.0  # background cell: no gradient
        assert float(grad.abs().sum()) > 0.0
        feats_s["s8"].grad = None
