"""SDST multi-teacher weighting: hand-made batches with hand-computed weights and losses."""

import math

import pytest
import torch
from torch.nn import functional as F

from kdtrack_lite.data.sot_synth import ATTRIBUTES
from kdtrack_lite.distill.base import DistillContext, Distiller
from kdtrack_lite.distill.multi_teacher import (SDSTKD, adaptive_weights, attribute_gate, fixed_weights,
                                                multi_teacher_kd_loss, peak_confidence, per_sample_kd)
from kdtrack_lite.distill.response import kd_loss


def _attrs(*rows):
    """(B, A) multi-hot from lists of attribute names."""
    out = torch.zeros(len(rows), len(ATTRIBUTES))
    for b, names in enumerate(rows):
        for n in names:
            out[b, ATTRIBUTES.index(n)] = 1
    return out


SPECS = [("OCC", "FOC"), ("FM",), ("IV",), ("SV",)]


def test_attribute_gate_hand_made():
    a = _attrs([], ["FOC"], ["FM", "SV"], ["IV", "MB"], ["BC"])
    gate = attribute_gate(a, SPECS)
    expected = torch.tensor([[1, 0, 0, 0, 0],
                             [1, 1, 0, 0, 0],
                             [1, 0, 1, 0, 1],
                             [1, 0, 0, 1, 0],
                             [1, 0, 0, 0, 0]], dtype=torch.float32)
    assert torch.equal(gate, expected)


def test_attribute_gate_rejects_bad_input():
    with pytest.raises(ValueError, match="multi-hot"):
        attribute_gate(torch.zeros(2, 3), SPECS)
    with pytest.raises(ValueError, match="XYZ"):
        attribute_gate(_attrs([]), [("XYZ",)])


def test_fixed_weights_hand_computed():
    gate = attribute_gate(_attrs([], ["FOC"], ["FM", "SV"]), SPECS)
    w = fixed_weights(gate, general_weight=1.0, specialist_weight=1.0)
    expected = torch.tensor([[1, 0, 0, 0, 0],
                             [0.5, 0.5, 0, 0, 0],
                             [1 / 3, 0, 1 / 3, 0, 1 / 3]])
    assert torch.allclose(w, expected)
    w2 = fixed_weights(gate, general_weight=1.0, specialist_weight=3.0)
    assert torch.allclose(w2[1], torch.tensor([0.25, 0.75, 0, 0, 0]))
    assert torch.allclose(w2[2], torch.tensor([1 / 7, 0, 3 / 7, 0, 3 / 7]))


def test_adaptive_weights_match_manual_softmax_and_respect_gate():
    gate = torch.tensor([[1.0, 1, 0], [1, 0, 0]])
    scores = torch.tensor([[0.2, 0.5, 9.0], [0.3, 9.0, 9.0]])
    w = adaptive_weights(scores, gate, tau=0.1)
    e0, e1 = math.exp(2.0), math.exp(5.0)
    assert torch.allclose(w[0], torch.tensor([e0 / (e0 + e1), e1 / (e0 + e1), 0.0]))
    assert torch.allclose(w[1], torch.tensor([1.0, 0, 0]))  # gated-out teachers ignored, however confident
    # very large tau -> uniform over the gated teachers
    assert torch.allclose(adaptive_weights(scores, gate, tau=1e6)[0], torch.tensor([0.5, 0.5, 0]), atol=1e-5)
    with pytest.raises(ValueError, match="no teacher"):
        adaptive_weights(scores, torch.tensor([[0.0, 0, 0], [1, 0, 0]]))


def test_per_sample_kd_matches_kd_loss_and_torch_kl():
    g = torch.Generator().manual_seed(0)
    zs, zt = torch.randn(4, 1, 9, 9, generator=g), torch.randn(4, 1, 9, 9, generator=g)
    per = per_sample_kd(zs, zt, T=3.0)
    assert per.shape == (4,)
    assert torch.allclose(per.mean(), kd_loss(zs, zt, T=3.0))
    ref = 9.0 * F.kl_div(F.log_softmax(zs.flatten(1) / 3, 1), F.log_softmax(zt.flatten(1) / 3, 1),
                         reduction="none", log_target=True).sum(1)
    assert torch.allclose(per, ref, atol=1e-6)


def test_per_sample_kd_bernoulli_form_is_the_mean_per_position_kl():
    """``form="bernoulli"``: each position its own probability; hand-computed Bernoulli KL, 0 on equal maps,
    and not invariant to a constant shift of the logits (the softmax form is)."""
    g = torch.Generator().manual_seed(2)
    zs, zt = torch.randn(3, 1, 5, 5, generator=g), torch.randn(3, 1, 5, 5, generator=g)
    q, p = torch.sigmoid(zt / 2), torch.sigmoid(zs / 2)
    ref = 4.0 * (q * torch.log(q / p) + (1 - q) * torch.log((1 - q) / (1 - p))).flatten(1).mean(1)
    got = per_sample_kd(zs, zt, T=2.0, form="bernoulli")
    assert got.shape == (3,) and torch.allclose(got, ref, atol=1e-6)
    assert torch.allclose(per_sample_kd(zt, zt, form="bernoulli"), torch.zeros(3), atol=1e-7)
    assert torch.allclose(per_sample_kd(zs + 3, zt, T=2.0), per_sample_kd(zs, zt, T=2.0), atol=1e-5)
    assert (per_sample_kd(zt + 3, zt, form="bernoulli") > 0.1).all()
    w = torch.tensor([[1.0, 0], [0, 1], [0.5, 0.5]])
    other = torch.randn(3, 1, 5, 5, generator=g)
    want = torch.stack([ref[0], per_sample_kd(zs, other, 2.0, "bernoulli")[1],
                        0.5 * ref[2] + 0.5 * per_sample_kd(zs, other, 2.0, "bernoulli")[2]]).mean()
    assert torch.allclose(multi_teacher_kd_loss(zs, [zt, other], w, T=2.0, form="bernoulli"), want, atol=1e-6)
    with pytest.raises(ValueError, match="form must be one of"):
        per_sample_kd(zs, zt, form="poisson")
    with pytest.raises(ValueError, match="temperature T must be > 0"):
        per_sample_kd(zs, zt, T=0.0, form="bernoulli")
    with pytest.raises(ValueError, match="SDSTConfig.form"):
        SDSTKD(form="poisson")


def test_multi_teacher_loss_one_hot_weights_pick_each_samples_teacher():
    g = torch.Generator().manual_seed(1)
    zs = torch.randn(3, 1, 5, 5, generator=g)
    teachers = [torch.randn(3, 1, 5, 5, generator=g) for _ in range(3)]
    w = torch.tensor([[1.0, 0, 0], [0, 1, 0], [0, 0, 1]])
    got = multi_teacher_kd_loss(zs, teachers, w, T=2.0)
    want = sum(kd_loss(zs[b:b + 1], teachers[b][b:b + 1], T=2.0) for b in range(3)) / 3
    assert torch.allclose(got, want)
    with pytest.raises(ValueError, match="weights"):
        multi_teacher_kd_loss(zs, teachers, w[:, :2])


def _ctx(attrs, outs, batch_extra=None):
    zs = torch.zeros(attrs.shape[0], 1, 3, 3, requires_grad=True)
    return DistillContext(batch={"attributes": attrs, **(batch_extra or {})}, student_out=zs, student_feats={},
                          teacher_outs=outs)


def test_sdst_term_fixed_scheme_on_hand_made_batch():
    attrs = _attrs([], ["FM"])
    sharp = torch.zeros(2, 1, 3, 3)
    sharp[:, 0, 1, 1] = 5.0
    outs = {"general": torch.zeros(2, 1, 3, 3), "FM": sharp}
    term = SDSTKD(specialists={"FM": ("FM",)}, scheme="fixed", temperature=1.0)
    ctx = _ctx(attrs, outs)
    loss = term(ctx)["loss_kd_sdst"]
    assert torch.allclose(term.last_weights, torch.tensor([[1.0, 0.0], [0.5, 0.5]]))
    # general target = student (both uniform) -> 0; sample 1 gets half of KL(sharp || uniform)
    kl = per_sample_kd(torch.zeros(1, 1, 3, 3), sharp[:1], T=1.0)[0]
    assert torch.allclose(loss, 0.5 * 0.5 * kl)
    loss.backward()
    assert ctx.student_out.grad is not None and ctx.student_out.grad[0].abs().max() < 1e-6


def test_sdst_term_adaptive_schemes_follow_confidence_and_loss():
    attrs = _attrs(["FM"], ["FM"])
    sharp = torch.zeros(2, 1, 3, 3)
    sharp[:, 0, 1, 1] = 5.0
    outs = {"general": torch.zeros(2, 1, 3, 3), "FM": sharp}
    conf = SDSTKD(specialists={"FM": ("FM",)}, scheme="confidence", tau=0.1)
    w = conf.weights(_ctx(attrs, outs))
    c = torch.stack([peak_confidence(outs["general"]), peak_confidence(sharp)], 1)
    assert torch.allclose(w, torch.softmax(c / 0.1, 1))
    assert (w[:, 1] > w[:, 0]).all()  # the sharper teacher is trusted more
    # "loss" scheme: sample 0 -> general has the lower loss, sample 1 -> specialist
    fake_loss = {id(outs["general"]): torch.tensor([0.1, 0.9]), id(sharp): torch.tensor([0.8, 0.2])}
    by_value = {k: v for k, v in fake_loss.items()}
    lossy = SDSTKD(specialists={"FM": ("FM",)}, scheme="loss", tau=0.5,
                   sample_loss=lambda z, batch: by_value[id(outs["general"])] if z.abs().sum() == 0 else by_value[id(sharp)])
    w = lossy.weights(_ctx(attrs, outs))
    assert torch.allclose(w, torch.softmax(-torch.tensor([[0.1, 0.8], [0.9, 0.2]]) / 0.5, 1))
    with pytest.raises(ValueError, match="sample_loss"):
        SDSTKD(scheme="loss")
    with pytest.raises(ValueError, match="scheme"):
        SDSTKD(scheme="mean")


def test_sdst_term_in_distiller_trains_student():
    torch.manual_seed(0)
    student = torch.nn.Conv2d(1, 1, 3, padding=1)
    teachers = {"general": torch.nn.Conv2d(1, 1, 3, padding=1), "OCC": torch.nn.Conv2d(1, 1, 3, padding=1)}
    d = Distiller(student, lambda out, batch: {"loss_task": out.mean() * 0}, teachers=teachers,
                  losses=[SDSTKD(specialists={"OCC": ("OCC", "FOC")})], forward=lambda m, b: m(b["x"]))
    batch = {"x": torch.randn(2, 1, 6, 6), "attributes": _attrs(["POC"], ["FOC"])}
    _, losses = d.forward_train(batch)
    assert set(losses) == {"loss_task", "loss_kd_sdst"} and losses["loss_kd_sdst"] > 0
    with pytest.raises(KeyError, match="no teacher"):
        Distiller(student, lambda o, b: {"loss_task": o.sum()}, teachers={"general": teachers["general"]},
                  losses=[SDSTKD(specialists={"OCC": ("OCC",)})], forward=lambda m, b: m(b["x"])).forward_train(batch)
