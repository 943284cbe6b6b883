import math

import pytest
import torch
from torch import nn
from torch.nn import functional as F

from kdtrack_lite.distill import (
    AttentionTransfer,
    DistillContext,
    Distiller,
    HintLoss,
    ResponseKD,
    SoftmaxKD,
    at_loss,
    attention_map,
    binary_kd_loss,
    confidence_weight,
    hint_loss,
    kd_loss,
    kd_per_sample,
    make_regressor,
    weighted_l1_loss,
)


def _gen(seed=0):
    return torch.Generator().manual_seed(seed)


# ---------------------------------------------------------------- FitNets hint

def test_hint_loss_hand_value_and_shape_check():
    s = torch.tensor([[[[1.0, 2.0], [3.0, 4.0]]]])  # (1, 1, 2, 2)
    assert hint_loss(s, torch.zeros_like(s)).item() == pytest.approx((1 + 4 + 9 + 16) / 4)
    assert hint_loss(s, s).item() == 0.0
    with pytest.raises(ValueError, match="same shape"):
        hint_loss(s, torch.zeros(1, 2, 2, 2))


@pytest.mark.parametrize("kind", ["conv1x1", "conv3x3"])
@pytest.mark.parametrize("size_s, expect", [((24, 32), nn.Conv2d), ((12, 16), nn.ConvTranspose2d),
                                            ((48, 64), nn.Conv2d), ((10, 15), nn.Upsample)])
def test_regressor_bridges_channels_and_sizes(kind, size_s, expect):
    reg = make_regressor(16, 48, size_s, (24, 32), kind=kind)
    out = reg(torch.randn(2, 16, *size_s, generator=_gen()))
    assert out.shape == (2, 48, 24, 32)
    assert any(type(m) is expect for m in reg.modules())
    assert isinstance(reg[1], nn.BatchNorm2d)
    if expect is nn.Conv2d:  # the channel conv has the asked-for kernel
        assert reg[0].kernel_size == ((1, 1) if kind == "conv1x1" else (3, 3))


def test_regressor_same_size_default_and_bad_args():
    assert make_regressor(16, 48)(torch.randn(2, 16, 5, 7)).shape == (2, 48, 5, 7)
    with pytest.raises(ValueError, match="kind"):
        make_regressor(16, 48, kind="conv5x5")
    with pytest.raises(ValueError, match="both size_s and size_t"):
        make_regressor(16, 48, (12, 16), None)
    with pytest.raises(ValueError, match="c_t"):
        make_regressor(16, 0)


def test_regressor_learns_a_linear_hint():
    # FitNets' premise: the regressor can absorb a width mismatch. Teacher = fixed linear map of student.
    g = _gen(1)
    feat_s = torch.randn(4, 4, 4, 4, generator=g)
    mix = torch.randn(12, 4, generator=g)
    feat_t = torch.einsum("oc,bchw->bohw", mix, feat_s)
    term = HintLoss({"x": (4, 12)})
    ctx = DistillContext({}, None, {"x": feat_s}, {}, {"teacher": {"x": feat_t}})
    opt = torch.optim.Adam(term.parameters(), lr=0.1)
    first = term(ctx)["loss_hint"].item()
    for _ in range(60):
        opt.zero_grad()
        loss = term(ctx)["loss_hint"]
        loss.backward()
        opt.step()
    assert loss.item() < 0.05 * first


def test_hintloss_errors_name_the_tap():
    term = HintLoss({"s8": (16, 48)})
    ctx = DistillContext({}, None, {"s8": torch.randn(1, 16, 4, 4)}, {}, {"teacher": {"s8": torch.randn(1, 48, 8, 8)}})
    with pytest.raises(ValueError, match="sizes="):
        term(ctx)
    ctx.student_feats = {}
    with pytest.raises(KeyError, match="'s8' missing"):
        term(ctx)
    with pytest.raises(KeyError, match="not in taps"):
        HintLoss({"s8": (16, 48)}, sizes={"s4": ((1, 1), (2, 2))})


# ---------------------------------------------------------------- attention transfer

def test_attention_map_hand_values():
    a = torch.tensor([[[[1.0, 2.0], [3.0, 4.0]]]])  # (1, 1, 2, 2): Q = [1, 4, 9, 16] / sqrt(354)
    expected = torch.tensor([[1.0, 4.0, 9.0, 16.0]]) / math.sqrt(354.0)
    assert torch.allclose(attention_map(a), expected)
    two = torch.tensor([[[[1.0, 0.0], [0.0, 0.0]], [[1.0, 2.0], [2.0, 0.0]]]])  # mean_c A^2 = [1, 2, 2, 0]
    assert torch.allclose(attention_map(two), torch.tensor([[1 / 3, 2 / 3, 2 / 3, 0.0]]))
    # |A|^p: the sign does not matter, also for odd p
    assert torch.allclose(attention_map(-a, p=1), attention_map(a, p=1))


def test_at_loss_hand_value_zero_and_channel_invariance():
    s = torch.tensor([[[[1.0, 0.0], [0.0, 0.0]], [[1.0, 2.0], [2.0, 0.0]]]])  # Q_S = [1/3, 2/3, 2/3, 0]
    t = torch.tensor([[[[5.0, 0.0], [0.0, 0.0]]]])  # Q_T = [1, 0, 0, 0]
    # ((2/3)^2 * 3) / 4 positions = 1/3
    assert at_loss(s, t).item() == pytest.approx(1 / 3)
    f = torch.randn(2, 16, 6, 8, generator=_gen())
    assert at_loss(f, f).item() == 0.0
    # the attention map averages over channels: repeating channels changes nothing
    wide = torch.cat([f, f, f], dim=1)  # (2, 48, 6, 8)
    assert torch.allclose(attention_map(wide), attention_map(f), atol=1e-6)
    assert at_loss(f, wide).item() == pytest.approx(0.0, abs=1e-12)


def test_at_loss_pools_the_larger_map():
    s = torch.randn(2, 16, 6, 8, generator=_gen(2))
    t = torch.randn(2, 48, 12, 16, generator=_gen(3))
    assert at_loss(s, t).item() == pytest.approx(at_loss(s, F.avg_pool2d(t, 2)).item(), rel=1e-6)
    assert at_loss(t, s).item() == pytest.approx(at_loss(F.avg_pool2d(t, 2), s).item(), rel=1e-6)
    with pytest.raises(ValueError, match="'feat_s'"):
        at_loss(torch.randn(2, 6, 8), t)


def test_attention_transfer_term_applies_beta_over_two():
    fs = {k: torch.randn(2, 8, 4, 4, generator=_gen(i)) for i, k in enumerate(["s4", "s8"])}
    ft = {k: torch.randn(2, 24, 4, 4, generator=_gen(10 + i)) for i, k in enumerate(["s4", "s8"])}
    ctx = DistillContext({}, None, fs, {}, {"teacher": ft})
    term = AttentionTransfer(taps=("s4", "s8"), beta=500.0)
    expected = 250.0 * (at_loss(fs["s4"], ft["s4"]) + at_loss(fs["s8"], ft["s8"]))
    assert term(ctx)["loss_at"].item() == pytest.approx(expected.item())
    assert AttentionTransfer().cfg.beta == 1e3 and list(term.parameters()) == []


# ---------------------------------------------------------------- response KD

def test_binary_kd_single_pixel_hand_value():
    zs, zt, T = 0.0, math.log(3.0), 2.0
    q, p = 1 / (1 + math.exp(-zt / T)), 1 / (1 + math.exp(-zs / T))
    kl = q * math.log(q / p) + (1 - q) * math.log((1 - q) / (1 - p))
    got = binary_kd_loss(torch.tensor([[[[zs]]]]), torch.tensor([[[[zt]]]]), T=T)
    assert got.item() == pytest.approx(T * T * kl, rel=1e-6)


def test_binary_kd_zero_iff_equal_and_weights():
    zt = torch.randn(2, 1, 4, 4, generator=_gen())
    assert binary_kd_loss(zt.clone(), zt, T=3.0).item() == 0.0
    zs = zt.clone()
    zs[0, 0, 1, 2] += 0.5
    assert binary_kd_loss(zs, zt, T=3.0).item() > 0
    # a one-hot weight picks that pixel's KL, times T^2
    w = torch.zeros_like(zt)
    w[0, 0, 1, 2] = 1.0
    one = binary_kd_loss(zs[0, 0, 1, 2].reshape(1), zt[0, 0, 1, 2].reshape(1), T=3.0)
    assert binary_kd_loss(zs, zt, T=3.0, weight=w).item() == pytest.approx(one.item(), rel=1e-6)
    assert binary_kd_loss(zs, zt, T=3.0, weight=torch.zeros_like(zt)).item() == 0.0
    with pytest.raises(ValueError, match="T must be > 0"):
        binary_kd_loss(zs, zt, T=0.0)


def test_binary_kd_matches_bce_minus_entropy():
    # KL(q || p) = BCE(z_s, target q) - H(q): an independent torch reference
    zs, zt, T = torch.randn(3, 1, 5, 5, generator=_gen(1)), torch.randn(3, 1, 5, 5, generator=_gen(2)), 1.5
    q = torch.sigmoid(zt / T)
    entropy = F.binary_cross_entropy(q, q, reduction="none")
    ref = (F.binary_cross_entropy_with_logits(zs / T, q, reduction="none") - entropy).mean() * T * T
    assert binary_kd_loss(zs, zt, T).item() == pytest.approx(ref.item(), rel=1e-5)


@pytest.mark.parametrize("shape", [(4, 10), (3, 1, 5, 6)])
def test_kd_loss_equals_torch_kldiv(shape):
    zs, zt, T = torch.randn(*shape, generator=_gen(3)), torch.randn(*shape, generator=_gen(4)), 4.0
    ref = F.kl_div(F.log_softmax(zs.flatten(1) / T, 1), F.softmax(zt.flatten(1) / T, 1),
                   reduction="batchmean") * T * T
    assert kd_loss(zs, zt, T).item() == pytest.approx(ref.item(), rel=1e-6)
    assert kd_loss(zt, zt, T).item() == pytest.approx(0.0, abs=1e-7)


@pytest.mark.parametrize("shape", [(4, 10), (3, 1, 5, 6)])
def test_kd_per_sample_equals_torch_kldiv_per_sample(shape):
    zs, zt, T = torch.randn(*shape, generator=_gen(5)), torch.randn(*shape, generator=_gen(6)), 2.5
    ref = F.kl_div(F.log_softmax(zs.flatten(1) / T, 1), F.softmax(zt.flatten(1) / T, 1),
                   reduction="none").sum(1) * T * T  # (B,)
    got = kd_per_sample(zs, zt, T)
    assert got.shape == (shape[0],) and torch.allclose(got, ref, atol=1e-6)
    assert got.mean().item() == pytest.approx(kd_loss(zs, zt, T).item(), rel=1e-6)
    assert kd_per_sample(zs[:0], zt[:0], T).shape == (0,)
    with pytest.raises(ValueError, match="kd_loss: temperature T must be > 0"):
        kd_loss(zs, zt, 0.0)


def test_weighted_l1_and_confidence_weight_hand_values():
    s = torch.tensor([[[[1.0, 2.0]], [[3.0, 4.0]]]])  # (1, 2, 1, 2)
    t = torch.zeros_like(s)
    w = torch.tensor([[[[1.0, 3.0]]]])  # (1, 1, 1, 2)
    # (1*1 + 3*2 + 1*3 + 3*4) / (1 + 3 + 1 + 3)
    assert weighted_l1_loss(s, t, w).item() == pytest.approx(22 / 8)
    cw = confidence_weight(torch.tensor([0.0, 2.0]), torch.tensor([1.0, -1.0]))
    assert torch.allclose(cw, torch.sigmoid(torch.tensor([1.0, 2.0])))


def _det_out(hm, fill):
    b, _, h, w = hm.shape
    return {"logits_hm": hm, **{k: torch.full((b, 2, h, w), fill) for k in ("wh", "reg", "tracking")}}


def test_response_kd_term_hand_values():
    hm_t = torch.full((1, 1, 3, 3), -5.0)
    hm_t[0, 0, 1, 1] = 5.0  # one confident teacher centre; elsewhere p_T = 0.0067 < 0.1
    out_t, out_s = _det_out(hm_t, 1.0), _det_out(torch.zeros(1, 1, 3, 3), 0.0)
    out_s["wh"][0, :, 1, 1] = 3.0  # |3 - 1| = 2 at the centre; elsewhere |0 - 1| but weight 0
    ctx = DistillContext({}, out_s, {}, {"teacher": out_t}, {})
    term = ResponseKD(temperature=1.0, reg_weight=0.5, hm_weighting="uniform")
    losses = term(ctx)
    assert losses["loss_kd_reg"].item() == pytest.approx(0.5 * (2.0 + 1.0 + 1.0))
    assert losses["loss_kd_hm"].item() == pytest.approx(binary_kd_loss(out_s["logits_hm"], hm_t, 1.0).item())
    weighted = ResponseKD(temperature=1.0)(ctx)["loss_kd_hm"]
    w = confidence_weight(out_s["logits_hm"], hm_t)
    assert weighted.item() == pytest.approx(binary_kd_loss(out_s["logits_hm"], hm_t, 1.0, w).item())
    del out_s["tracking"]
    with pytest.raises(KeyError, match="tracking"):
        term(ctx)
    with pytest.raises(ValueError, match="hm_weighting"):
        ResponseKD(hm_weighting="focal")


def test_softmax_kd_term_reads_a_key():
    zs, zt = torch.randn(2, 1, 4, 4, generator=_gen(5)), torch.randn(2, 1, 4, 4, generator=_gen(6))
    ctx = DistillContext({}, {"response": zs}, {}, {"teacher": {"response": zt}}, {})
    got = SoftmaxKD(output_key="response", temperature=2.0, weight=0.3)(ctx)["loss_kd"]
    assert got.item() == pytest.approx(0.3 * kd_loss(zs, zt, 2.0).item())


# ---------------------------------------------------------------- inside a Distiller

class TinyDetector(nn.Module):
    """Detector-like stand-in: taps s4/s8/neck, CenterNet-style output dict."""

    def __init__(self, w4, w8, wn, s8_stride=2):
        super().__init__()
        self.s4 = nn.Sequential(nn.Conv2d(3, w4, 3, stride=4, padding=1), nn.BatchNorm2d(w4), nn.ReLU())
        self.s8 = nn.Sequential(nn.Conv2d(w4, w8, 3, stride=s8_stride, padding=1), nn.ReLU())
        self.neck = nn.Sequential(nn.Conv2d(w8, wn, 1), nn.ReLU())
        self.heads = nn.ModuleDict({"logits_hm": nn.Conv2d(wn, 1, 1),
                                    **{k: nn.Conv2d(wn, 2, 1) for k in ("wh", "reg", "tracking")}})

    def taps(self):
        return {"s4": self.s4, "s8": self.s8, "neck": self.neck}

    def forward(self, batch):
        x = self.neck(self.s8(self.s4(batch["image"])))
        return {k: head(x) for k, head in self.heads.items()}


def _task(out, batch):
    return {"loss_task": F.binary_cross_entropy_with_logits(out["logits_hm"], batch["hm"])}


def test_gradients_reach_student_and_adapters_not_teacher():
    torch.manual_seed(0)
    student, teacher = TinyDetector(16, 32, 24), TinyDetector(48, 96, 64, s8_stride=1)  # teacher s8 at 2x size
    batch = {"image": torch.randn(2, 3, 32, 48, generator=_gen()), "hm": torch.zeros(2, 1, 4, 6)}
    hint = HintLoss.from_models(student, teacher, ["s4", "s8"], batch, weight=0.5)
    assert isinstance(hint.regressors["s8"][0], nn.ConvTranspose2d)  # (4, 6) -> (8, 12)
    assert hint.regressors["s4"][0].in_channels == 16 and hint.regressors["s4"][0].out_channels == 48
    assert student.training and teacher.training  # from_models restores the modes
    # response KD needs equal head sizes: a second teacher at the student's strides
    teacher_b = TinyDetector(48, 96, 64)
    terms = [hint, AttentionTransfer(taps=("s4", "s8", "neck")), ResponseKD(teacher="same")]
    d = Distiller(student, _task, teachers={"teacher": teacher, "same": teacher_b}, losses=terms)
    d.train()
    _, losses = d.forward_train(batch)
    assert set(losses) == {"loss_task", "loss_hint", "loss_at", "loss_kd_hm", "loss_kd_reg"}
    sum(losses.values()).backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in student.parameters())
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in hint.parameters())
    assert all(p.grad is None for t in (teacher, teacher_b) for p in t.parameters())
    assert {id(p) for p in hint.parameters()} <= {id(p) for p in d.trainable_parameters()}
