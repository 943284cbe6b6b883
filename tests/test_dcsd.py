"""DCSD losses, the semantic student and the association task loss, on hand-made tensors."""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from kdtrack_lite.distill import DistillContext, Distiller
from kdtrack_lite.distill.dcsd import (
    DCSDConfig,
    DCSDLoss,
    dcsd_frame_loss,
    dcsd_global_loss,
    dcsd_local_loss,
    relation_loss,
)
from kdtrack_lite.models.semantic_encoder import SemanticEncoder, SemanticEncoderConfig
from kdtrack_lite.models.semantic_loss import SemanticTaskLoss, association_nce_loss
from kdtrack_lite.registry import build


def test_local_loss_hand_computed_with_padding():
    s = torch.tensor([[[1.0, 0.0], [0.0, 1.0], [5.0, 5.0]]])  # (1, 3, 2)
    t = torch.tensor([[[1.0, 0.0], [1.0, 0.0], [-1.0, 0.0]]])
    valid = torch.tensor([[True, True, False]])
    # cos = 1 and 0 on the two valid rows -> mean(1 - cos) = 0.5; the padded row is ignored
    assert dcsd_local_loss(s, t, valid).item() == pytest.approx(0.5)
    # without a mask the third row counts: cos = -1/sqrt(2)
    assert dcsd_local_loss(s, t).item() == pytest.approx((0 + 1 + 1 + 1 / math.sqrt(2)) / 3)
    assert dcsd_local_loss(s, t, torch.zeros(1, 3, dtype=torch.bool)).item() == 0.0
    with pytest.raises(ValueError, match="same shape"):
        dcsd_local_loss(s, t[..., :1])


def test_frame_loss_is_scale_invariant_and_zero_on_match():
    g = torch.randn(4, 8, generator=torch.Generator().manual_seed(0))
    assert dcsd_frame_loss(g, 3 * g).item() == pytest.approx(0.0, abs=1e-6)
    assert dcsd_frame_loss(g, -g).item() == pytest.approx(2.0, abs=1e-6)


def test_relation_loss_matches_reference_kl():
    gen = torch.Generator().manual_seed(1)
    s, t = torch.randn(5, 6, generator=gen), torch.randn(5, 9, generator=gen)  # widths may differ
    tau = 0.5
    # reference written out row by row with torch.distributions
    ref = 0.0
    sn, tn = F.normalize(s, dim=1), F.normalize(t, dim=1)
    for i in range(5):
        others = [j for j in range(5) if j != i]
        p = torch.softmax((tn[i] @ tn[others].T) / tau, 0)
        q = torch.softmax((sn[i] @ sn[others].T) / tau, 0)
        ref += torch.distributions.kl_divergence(torch.distributions.Categorical(p), torch.distributions.Categorical(q))
    assert relation_loss(s, t, tau).item() == pytest.approx(ref.item() / 5, rel=1e-5)
    # invariant to a rotation of the student space (only the structure matters)
    q, _ = torch.linalg.qr(torch.randn(6, 6, generator=gen))
    assert relation_loss(s @ q, t, tau).item() == pytest.approx(relation_loss(s, t, tau).item(), rel=1e-4)
    assert relation_loss(t, t, tau).item() == pytest.approx(0.0, abs=1e-6)
    assert relation_loss(s[:1], t[:1]).item() == 0.0
    with pytest.raises(ValueError, match="same M"):
        relation_loss(s, t[:3])


def test_global_loss_is_frame_plus_relation():
    gen = torch.Generator().manual_seed(2)
    s, t = torch.randn(4, 8, generator=gen), torch.randn(4, 8, generator=gen)
    expect = dcsd_frame_loss(s, t) + 0.3 * relation_loss(s, t, 0.2)
    assert dcsd_global_loss(s, t, 0.2, 0.3).item() == pytest.approx(expect.item())


def test_dcsd_module_terms_and_ablation():
    gen = torch.Generator().manual_seed(3)
    out = {"tokens_t": torch.randn(2, 3, 8, generator=gen), "frame_t": torch.randn(2, 8, generator=gen)}
    batch = {"teacher_crops": torch.randn(2, 3, 8, generator=gen), "teacher_frame": torch.randn(2, 8, generator=gen),
             "valid": torch.tensor([[True, True, False], [True, False, False]])}
    ctx = DistillContext(batch, out, {})
    cfg = DCSDConfig(relation_objects=False)
    losses = DCSDLoss(cfg)(ctx)
    assert losses["loss_dcsd_local"].item() == pytest.approx(dcsd_local_loss(out["tokens_t"], batch["teacher_crops"],
                                                                             batch["valid"]).item())
    assert losses["loss_dcsd_global"].item() == pytest.approx(dcsd_global_loss(out["frame_t"], batch["teacher_frame"],
                                                                               0.1).item())
    with_obj = DCSDLoss(DCSDConfig())(ctx)["loss_dcsd_global"]
    extra = relation_loss(out["tokens_t"][batch["valid"]], batch["teacher_crops"][batch["valid"]], 0.1)
    assert with_obj.item() == pytest.approx(losses["loss_dcsd_global"].item() + extra.item(), rel=1e-5)
    assert set(DCSDLoss(DCSDConfig(global_weight=0))(ctx)) == {"loss_dcsd_local"}
    assert set(DCSDLoss(DCSDConfig(local_weight=0))(ctx)) == {"loss_dcsd_global"}


def test_association_nce_hand_computed():
    # frame a: ids 1, 2 ; frame b: ids 2, 1, -1 (an unmatched but valid detection = a negative)
    ea = torch.tensor([[[1.0, 0.0], [0.0, 1.0]]])
    eb = torch.tensor([[[0.0, 1.0], [1.0, 0.0], [1.0, 1.0]]])
    ia, ib = torch.tensor([[1, 2]]), torch.tensor([[2, 1, -1]])
    vb = torch.tensor([[True, True, True]])
    tau = 1.0
    c = 1 / math.sqrt(2)
    # a -> b: each anchor sees [match 1, other 0, neg c]; b -> a: each of 2 anchors sees [1, 0]
    a2b = -math.log(math.e / (math.e + 1 + math.exp(c)))
    b2a = -math.log(math.e / (math.e + 1))
    expect = (2 * a2b + 2 * b2a) / 4
    got = association_nce_loss(ea, ia, eb, ib, None, vb, tau)
    assert got.item() == pytest.approx(expect, rel=1e-6)
    # swapping the embeddings of frame b makes every match wrong: the loss must grow
    assert association_nce_loss(ea, ia, eb[:, [1, 0, 2]], ib, None, vb, tau) > got
    assert association_nce_loss(ea, torch.tensor([[-1, -1]]), eb, ib).item() == 0.0


@pytest.fixture(scope="module")
def encoder():
    torch.manual_seed(0)
    return SemanticEncoder(SemanticEncoderConfig(query_dim=8, roi_dim=4, teacher_dim=16, d_model=16, heads=2,
                                                 layers=1, thumb_size=(16, 24)))


def test_encoder_shapes_norms_and_padding(encoder):
    gen = torch.Generator().manual_seed(0)
    thumbs = torch.rand(2, 3, 16, 24, generator=gen)
    q = torch.randn(2, 5, 12, generator=gen)
    boxes = torch.rand(2, 5, 4, generator=gen)
    valid = torch.tensor([[True] * 3 + [False] * 2, [True] * 5])
    out = encoder(thumbs, q, boxes, valid)
    assert out["frame_t"].shape == (2, 16) and out["tokens_t"].shape == (2, 5, 16) and out["semantic"].shape == (2, 5, 8)
    for v in out.values():
        assert torch.allclose(v.norm(dim=-1), torch.ones(v.shape[:-1]), atol=1e-5)
    # padded tokens do not change the valid ones
    q2 = q.clone()
    q2[0, 3:] = 100.0
    out2 = encoder(thumbs, q2, boxes, valid)
    assert torch.allclose(out["semantic"][0, :3], out2["semantic"][0, :3], atol=1e-5)
    assert torch.allclose(out["frame_t"][0], out2["frame_t"][0], atol=1e-5)
    # the encoder is permutation-equivariant over queries (no positional order among objects)
    perm = torch.tensor([2, 0, 1, 4, 3])
    out3 = encoder(thumbs[1:], q[1:, perm], boxes[1:, perm])
    assert torch.allclose(out3["semantic"][0], out["semantic"][1, perm], atol=1e-5)
    with pytest.raises(ValueError, match="queries must be"):
        encoder(thumbs, q[..., :5], boxes, valid)


def test_encoder_registered_builder():
    model = build("semantic_encoder", SemanticEncoderConfig(d_model=16, heads=2, layers=1))
    assert isinstance(model, SemanticEncoder) and model.kdtrack_builder == "semantic_encoder"


def test_distiller_trains_student_towards_teacher(encoder):
    """A few steps of task + DCSD through the common Distiller reduce the DCSD loss."""
    gen = torch.Generator().manual_seed(4)
    model = SemanticEncoder(encoder.cfg)
    batch = {"thumbs": torch.rand(4, 3, 16, 24, generator=gen), "queries": torch.randn(4, 3, 12, generator=gen),
             "boxes": torch.rand(4, 3, 4, generator=gen), "valid": torch.ones(4, 3, dtype=torch.bool),
             "ids": torch.tensor([[0, 1, 2]] * 4), "teacher_crops": F.normalize(torch.randn(4, 3, 16, generator=gen), dim=-1),
             "teacher_frame": F.normalize(torch.randn(4, 16, generator=gen), dim=-1)}
    fwd = lambda m, b: m(b["thumbs"], b["queries"], b["boxes"], b["valid"])
    dist = Distiller(model, SemanticTaskLoss(), losses=[DCSDLoss()], forward=fwd)
    opt = torch.optim.Adam(dist.trainable_parameters(), lr=1e-2)
    first = None
    for _ in range(30):
        _, losses = dist.forward_train(batch)
        kd = losses["loss_dcsd_local"] + losses["loss_dcsd_global"]
        first = kd.item() if first is None else first
        opt.zero_grad()
        sum(losses.values()).backward()
        opt.step()
    assert kd.item() < 0.7 * first
    assert np.isfinite(losses["loss_task"].item())
