import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from kdtrack_lite.checkpoint import CheckpointError, load_checkpoint, load_weights, save_checkpoint
from kdtrack_lite.data.heatmap import render_heatmap
from kdtrack_lite.models import (
    BackboneConfig, CenterTrackLoss, CenterTrackLossConfig, DetectorConfig, centertrack_loss,
    count_parameters, decode_detections, focal_loss, to_detections,
)
from kdtrack_lite.models.backbone import Backbone
from kdtrack_lite.models.centertrack_loss import identity_loss, masked_l1_loss
from kdtrack_lite.registry import build

H, W, S = 64, 96, 4


@pytest.fixture(scope="module")
def detectors():
    torch.manual_seed(0)
    return {name: build("centertrack", DetectorConfig.preset(name)).eval() for name in ("teacher", "student")}


@pytest.mark.parametrize("name", ["teacher", "student"])
def test_output_shapes_and_normalised_embeddings(detectors, name):
    model = detectors[name]
    x = torch.rand(2, 3, H, W)
    with torch.no_grad():
        out = model(x, torch.rand(2, 3, H, W), torch.rand(2, 1, H, W))
    d = model.cfg.embedding_dim
    expected = {"logits_hm": 1, "wh": 2, "reg": 2, "tracking": 2, "embedding": d}
    assert {k: tuple(v.shape) for k, v in out.items()} == {k: (2, c, H // S, W // S) for k, c in expected.items()}
    assert torch.allclose(out["embedding"].norm(dim=1), torch.ones(2, H // S, W // S), atol=1e-5)
    # heatmap bias initialisation: every pixel starts near sigmoid(-2.19) ~ 0.1 in a fresh model
    fresh = build("centertrack", DetectorConfig.preset(name))
    assert fresh.heads.bias("logits_hm").item() == pytest.approx(-2.19)
    assert fresh.heads.bias("wh").abs().max() < 1  # only the heatmap bias is set


def test_fast_channel_normalisation_matches_torch():
    from kdtrack_lite.models.centertrack import l2_normalize_channels

    x = torch.randn(2, 5, 3, 4, generator=torch.Generator().manual_seed(0))
    x[0, :, 0, 0] = 0.0
    torch.testing.assert_close(l2_normalize_channels(x), F.normalize(x, dim=1))


def test_prev_image_and_prior_change_the_output(detectors):
    model = detectors["teacher"]
    x = torch.rand(1, 3, H, W)
    prior = torch.zeros(1, 1, H, W)
    prior[..., 20:30, 40:50] = 1.0
    with torch.no_grad():
        a = model(x)["logits_hm"]
        b = model(x, x, prior)["logits_hm"]
        c = model(x, torch.rand(1, 3, H, W))["logits_hm"]
    assert not torch.allclose(a, b) and not torch.allclose(a, c)


def test_student_has_at_least_8x_fewer_parameters(detectors):
    t, s = detectors["teacher"], detectors["student"]
    assert count_parameters(t.backbone) >= 8 * count_parameters(s.backbone)
    assert count_parameters(t) >= 8 * count_parameters(s)


def test_taps_share_strides_and_work_with_forward_hooks(detectors):
    x = torch.rand(1, 3, H, W)
    shapes = {}
    for name, model in detectors.items():
        taps = model.taps()
        assert list(taps) == ["s4", "s8", "s16", "neck"]
        seen = {}
        handles = [m.register_forward_hook(lambda mod, i, o, k=k: seen.__setitem__(k, o.shape[-2:]))
                   for k, m in taps.items()]
        with torch.no_grad():
            model(x)
        for h in handles:
            h.remove()
        shapes[name] = seen
    assert shapes["teacher"] == shapes["student"]
    assert shapes["teacher"]["s16"] == (H // 16, W // 16) and shapes["teacher"]["neck"] == (H // 4, W // 4)


def test_backbone_config_errors_and_two_stage_variant():
    with pytest.raises(ValueError, match="block"):
        BackboneConfig(block="vit")
    with pytest.raises(ValueError, match="equal length"):
        BackboneConfig(widths=(8, 16), blocks=(1,))
    bb = Backbone(BackboneConfig.preset("student", widths=(16, 32), blocks=(1, 1)))
    feats = bb(torch.rand(1, 3, 64, 64))
    assert {k: tuple(v.shape) for k, v in feats.items()} == {"s4": (1, 16, 16, 16), "s8": (1, 32, 8, 8)}
    with pytest.raises(ValueError, match="image"):
        build("centertrack", DetectorConfig.preset("student"))(torch.rand(1, 3, 60, 96))


def _encode(boxes_xyxy: np.ndarray, tracking_out: np.ndarray):
    """Hand-built targets -> fake detector outputs (logits from the target heatmap)."""
    h, w = H // S, W // S
    hm = render_heatmap(boxes_xyxy, H, W, stride=S)
    out = {k: torch.zeros(1, c, h, w) for k, c in {"wh": 2, "reg": 2, "tracking": 2, "embedding": 3}.items()}
    for i, (x1, y1, x2, y2) in enumerate(boxes_xyxy):
        cx, cy = (x1 + x2) / 2 / S, (y1 + y2) / 2 / S
        ix, iy = int(cx), int(cy)
        out["wh"][0, :, iy, ix] = torch.tensor([x2 - x1, y2 - y1])
        out["reg"][0, :, iy, ix] = torch.tensor([cx - ix, cy - iy])
        out["tracking"][0, :, iy, ix] = torch.tensor(tracking_out[i])
        out["embedding"][0, i, iy, ix] = 1.0
    p = torch.from_numpy(hm).clamp(1e-4, 1 - 1e-4)[None, None]
    out["logits_hm"] = torch.log(p / (1 - p))
    return out


def test_decode_recovers_encoded_boxes():
    boxes = np.array([[10.0, 8.0, 30.5, 40.0], [50.2, 20.0, 80.0, 52.6], [70.0, 2.0, 90.0, 14.0]])
    tracking_out = np.array([[1.0, -0.5], [0.0, 2.0], [-3.0, 0.25]])
    dets = decode_detections(_encode(boxes, tracking_out), k=20, score_threshold=0.5, nms_iou=0.5)[0]
    order = np.argsort(dets["boxes_xyxy"][:, 0].numpy())
    np.testing.assert_allclose(dets["boxes_xyxy"].numpy()[order], boxes, atol=1e-4)
    # tracking targets are previous centre minus the integer peak (output px), as in the data contract
    peaks = np.floor((boxes[:, :2] + boxes[:, 2:]) / 2 / S)
    np.testing.assert_allclose(dets["prev_centers_xy"].numpy()[order], (peaks + tracking_out) * S, atol=1e-4)
    np.testing.assert_allclose(dets["tracking"].numpy()[order],
                               (peaks + tracking_out) * S - (boxes[:, :2] + boxes[:, 2:]) / 2, atol=1e-4)
    np.testing.assert_allclose(dets["scores"].numpy(), 1 - 1e-4, atol=1e-5)
    assert dets["embeddings"].numpy()[order].argmax(1).tolist() == [0, 1, 2]
    arr, emb = to_detections(dets)
    assert arr.shape == (3, 6) and emb.shape == (3, 3) and (arr[:, 5] == 0).all()


def test_decode_thresholds_and_nms_drop_weak_and_duplicate_peaks():
    boxes = np.array([[10.0, 8.0, 30.0, 40.0]])
    out = _encode(boxes, np.zeros((1, 2)))
    # a second, weaker peak two cells away with the same box: NMS must drop it
    iy, ix = int(24 / S), int(20 / S) + 2
    out["logits_hm"][0, 0, iy, ix] = 2.0
    out["wh"][0, :, iy, ix] = torch.tensor([20.0, 32.0])
    assert len(decode_detections(out, score_threshold=0.5, nms_iou=0.99)[0]["scores"]) == 2
    kept = decode_detections(out, score_threshold=0.5, nms_iou=0.4)[0]  # IoU of the pair: 12/28
    assert len(kept["scores"]) == 1 and kept["scores"][0] > 0.99
    assert len(decode_detections(out, score_threshold=0.99999)[0]["scores"]) == 0


def test_decode_is_the_same_for_channels_last_maps_and_a_batch():
    # a deployed detector (models.fuse.deploy) returns channels-last heads; decoding must not care,
    # and each image of a batch must decode as it does alone
    boxes = np.array([[10.0, 8.0, 30.5, 40.0], [50.2, 20.0, 80.0, 52.6]])
    one = _encode(boxes, np.zeros((2, 2)))
    other = _encode(boxes[:1] + 4.0, np.zeros((1, 2)))
    batch = {k: torch.cat([one[k], other[k]]).contiguous(memory_format=torch.channels_last) for k in one}
    got = decode_detections(batch, k=20, score_threshold=0.5)
    for alone, dec in zip([decode_detections(one, k=20, score_threshold=0.5)[0],
                           decode_detections(other, k=20, score_threshold=0.5)[0]], got):
        assert set(alone) == set(dec)
        for key in alone:
            torch.testing.assert_close(dec[key], alone[key], rtol=0, atol=0)
    assert [len(d["scores"]) for d in got] == [2, 1]


def test_focal_loss_matches_hand_computed_value():
    # pixels: a peak (y=1, p=0.8), a Gaussian shoulder (y=0.5, p=0.4), background (y=0, p=0.1)
    p = torch.tensor([0.8, 0.4, 0.1])
    y = torch.tensor([1.0, 0.5, 0.0])
    expected = (0.2**2 * -math.log(0.8) + 0.5**4 * 0.4**2 * -math.log(0.6) + 0.1**2 * -math.log(0.9)) / 1
    logits = torch.log(p / (1 - p)).reshape(1, 1, 1, 3)
    got = focal_loss(logits, y.reshape(1, 1, 1, 3))
    assert got.item() == pytest.approx(expected, rel=1e-5)
    # without peaks the sum is not normalised
    no_peak = focal_loss(logits[..., 1:], y.reshape(1, 1, 1, 3)[..., 1:])
    assert no_peak.item() == pytest.approx(expected - 0.2**2 * -math.log(0.8), rel=1e-5)
    with pytest.raises(ValueError, match="differ"):
        focal_loss(logits, y.reshape(1, 1, 3, 1))


def test_masked_l1_and_identity_loss_match_references():
    maps = torch.arange(2 * 2 * 3 * 4, dtype=torch.float32).reshape(2, 2, 3, 4)
    ind = torch.tensor([[5, 0], [11, 3]])
    mask = torch.tensor([[1.0, 0.0], [1.0, 1.0]])
    target = torch.zeros(2, 2, 2)
    # valid entries: sample0 idx5 -> (5, 17); sample1 idx11 -> (35, 47), idx3 -> (27, 39)
    assert masked_l1_loss(maps, ind, mask, target).item() == pytest.approx((5 + 17 + 35 + 47 + 27 + 39) / 6)
    emb = F.normalize(torch.randn(2, 2, 4, generator=torch.Generator().manual_seed(0)), dim=-1)
    weight = torch.randn(5, 4, generator=torch.Generator().manual_seed(1))
    ids = torch.tensor([[3, 0], [1, 5]])
    valid = torch.tensor([[True, False], [True, True]])
    ref = F.cross_entropy(10.0 * emb[valid] @ F.normalize(weight, dim=1).T, ids[valid] - 1)
    assert identity_loss(emb, ids, mask, weight, scale=10.0).item() == pytest.approx(ref.item(), rel=1e-6)
    with pytest.raises(ValueError, match="num_identities"):
        identity_loss(emb, ids + 5, mask, weight)


def test_global_identities_separate_sequences():
    from kdtrack_lite.models.centertrack_loss import global_identities

    ids = torch.tensor([[1, 2, 0], [1, 3, 0]])
    got = global_identities(ids, torch.tensor([0, 2]), max_ids_per_sequence=10)
    assert got.tolist() == [[1, 2, 0], [21, 23, 0]]
    with pytest.raises(ValueError, match="max_ids_per_sequence"):
        global_identities(ids, torch.tensor([0, 1]), max_ids_per_sequence=2)


def _batch(b=2, k=4):
    g = torch.Generator().manual_seed(0)
    h, w = H // S, W // S
    hm = torch.zeros(b, 1, h, w)
    ind = torch.randint(0, h * w, (b, k), generator=g)
    hm.view(b, -1).scatter_(1, ind, 1.0)
    mask = torch.ones(b, k)
    mask[:, -1] = 0
    return {
        "image": torch.rand(b, 3, H, W, generator=g), "prev_image": torch.rand(b, 3, H, W, generator=g),
        "prior_hm": torch.zeros(b, 1, H, W), "hm": hm, "ind": ind, "mask": mask,
        "wh": torch.rand(b, k, 2, generator=g) * 30, "reg": torch.rand(b, k, 2, generator=g),
        "tracking": torch.randn(b, k, 2, generator=g), "tracking_mask": mask.clone(),
        "ids": torch.tensor([[1, 2, 3, 0], [1, 2, 3, 0]]), "seq_index": torch.tensor([0, 1]),
    }


def test_centertrack_loss_terms_and_a_training_step_lowers_it():
    torch.manual_seed(0)
    model = build("centertrack", DetectorConfig.preset("student"))
    crit = CenterTrackLoss(CenterTrackLossConfig(num_identities=8, max_ids_per_sequence=4),
                           embedding_dim=model.cfg.embedding_dim)
    batch = _batch()
    opt = torch.optim.Adam([*model.parameters(), *crit.parameters()], lr=1e-2)
    losses = []
    for _ in range(8):
        out = model(batch["image"], batch["prev_image"], batch["prior_hm"])
        terms = crit(out, batch)
        opt.zero_grad()
        terms["loss_task"].backward()
        opt.step()
        losses.append(terms["loss_task"].item())
    cfg = crit.cfg
    total = sum(getattr(cfg, "w_" + k) * terms["loss_" + k].item() for k in ("hm", "wh", "reg", "tracking", "id"))
    assert terms["loss_task"].item() == pytest.approx(total, rel=1e-5)
    assert all(terms[k].item() > 0 for k in terms)
    assert losses[-1] < losses[0]
    no_id = centertrack_loss(out, batch, cfg)  # without a classifier the identity term is 0
    assert no_id["loss_id"].item() == 0.0
    with pytest.raises(KeyError, match="hm"):
        centertrack_loss(out, {k: v for k, v in batch.items() if k != "hm"})


def test_checkpoint_round_trip_of_both_presets(tmp_path, detectors):
    x = torch.rand(1, 3, H, W)
    for name, model in detectors.items():
        path = save_checkpoint(tmp_path / f"{name}.pt", model, seed=3)
        rebuilt = load_checkpoint(path).build().eval()
        assert rebuilt.cfg == model.cfg
        with torch.no_grad():
            assert torch.equal(model(x)["logits_hm"], rebuilt(x)["logits_hm"])
    with pytest.raises(CheckpointError, match="does not fit"):
        load_weights(build("centertrack", DetectorConfig.preset("student")), tmp_path / "teacher.pt")
