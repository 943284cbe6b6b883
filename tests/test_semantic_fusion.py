"""Semantic fusion in association: ROI features, SemanticFusion vs quality.fuse, pipeline hook, replay."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torchvision.ops import roi_align

from kdtrack_lite.data.mot_synth import MOTSceneConfig, generate_mot_sequence
from kdtrack_lite.models.centertrack import DetectorConfig, build_centertrack
from kdtrack_lite.models.semantic_encoder import SemanticEncoder, SemanticEncoderConfig
from kdtrack_lite.quality import DSWRConfig, DSWRRegulator, QualityNormalizer, fuse
from kdtrack_lite.track import MOTPipeline, MOTTracker, TrackerConfig
from kdtrack_lite.track.semantic_fusion import (
    QueryExtractor,
    SemanticFusion,
    roi_features,
    semantic_inputs,
    track_queries,
)


@pytest.fixture(scope="module")
def seq():
    return generate_mot_sequence(MOTSceneConfig.make(num_frames=5), seed=3)


@pytest.fixture(scope="module")
def detector():
    torch.manual_seed(0)
    det = build_centertrack(DetectorConfig.preset("student", hm_bias_init=0.0)).eval()  # random: many detections
    return det


@pytest.fixture(scope="module")
def encoder(detector):
    torch.manual_seed(1)
    cfg = SemanticEncoderConfig(query_dim=detector.cfg.embedding_dim, roi_dim=detector.cfg.neck_channels,
                                teacher_dim=16, d_model=16, heads=2, layers=1, thumb_size=(12, 16))
    return SemanticEncoder(cfg).eval()


def test_roi_features_average_a_linear_map():
    ys, xs = torch.meshgrid(torch.arange(16.0), torch.arange(20.0), indexing="ij")
    neck = torch.stack([torch.ones_like(xs), xs, ys])[None]  # (1, 3, 16, 20)
    boxes = np.array([[8.0, 4.0, 40.0, 28.0], [0.0, 0.0, 16.0, 16.0]])  # input pixels, stride 4
    got = roi_features(neck, boxes, stride=4)
    # bilinear sampling of a linear map averages to its value at the box centre (aligned=True: -0.5 px)
    centre = (boxes[:, :2] + boxes[:, 2:]) / 2 / 4 - 0.5
    np.testing.assert_allclose(got[:, 0], 1.0, atol=1e-6)
    np.testing.assert_allclose(got[:, 1:], centre, atol=1e-5)
    ref = roi_align(neck, [torch.tensor(boxes, dtype=torch.float32)], (2, 2), 0.25, 2, True).mean((2, 3))
    np.testing.assert_allclose(got, ref.numpy(), atol=1e-6)
    assert roi_features(neck, np.zeros((0, 4))).shape == (0, 3)


def test_fusion_equals_fuse_of_student_semantics(seq, detector, encoder):
    q = QueryExtractor(detector).run(seq.frames[:2])[1]
    frame = seq.frames[1]
    q.dets[:, 4] = np.linspace(0.9, 0.1, len(q.dets))  # some rows below min_score
    keep = q.dets[:, 4] >= 0.5
    assert keep.any() and (~keep).any()
    for a in (0.0, 0.3, 1.0):
        fused = SemanticFusion(encoder, fixed_weight=a)(frame, q.dets, q.embs, q.roi)
        sem = encoder(*semantic_inputs(encoder, frame, q.dets[keep], q.embs[keep], q.roi[keep]))["semantic"][0]
        ref = F.normalize(fuse(torch.as_tensor(q.embs[keep]), sem, a), dim=-1).detach().numpy()
        np.testing.assert_allclose(fused[keep], ref, atol=1e-5)
        np.testing.assert_array_equal(fused[~keep], q.embs[~keep])  # low-score rows untouched
    np.testing.assert_allclose(SemanticFusion(encoder, fixed_weight=0.0)(frame, q.dets, q.embs, q.roi), q.embs, atol=1e-5)
    # DSWR: the weight is the regulator's output on the frame's normalised quality
    reg = DSWRRegulator(DSWRConfig(init_bias=0.7))
    fusion = SemanticFusion(encoder, regulator=reg)
    fusion(frame, q.dets, q.embs, q.roi)
    expect = reg(torch.as_tensor(QualityNormalizer().frame(frame))).detach().numpy()
    np.testing.assert_allclose(fusion.last_weight, expect, atol=1e-6)
    assert 0 < float(fusion.last_weight[0]) < 1
    with pytest.raises(ValueError, match="exactly one"):
        SemanticFusion(encoder)


def test_pipeline_hook_and_replay_agree(seq, detector, encoder):
    """The online pipeline with query_fusion and the replay on recorded queries give the same rows."""
    cfg = TrackerConfig(appearance_weight=0.5)
    plain = MOTPipeline(detector, cfg).run(seq.frames)
    queries = QueryExtractor(detector, cfg).run(seq.frames)
    np.testing.assert_allclose(track_queries(queries, seq.frames, cfg), plain)
    # a fixed weight of 0 fuses nothing: same tracks as no fusion
    np.testing.assert_allclose(track_queries(queries, seq.frames, cfg, SemanticFusion(encoder, fixed_weight=0.0)),
                               plain, atol=1e-6)
    online = MOTPipeline(detector, cfg, query_fusion=SemanticFusion(encoder, fixed_weight=1.0, detector=detector))
    rows_online = online.run(seq.frames)
    # replay with the same fusion reproduces the online run only if the detector saw the same priors;
    # on the first two frames the priors cannot differ yet
    replay = track_queries(queries, seq.frames, cfg, SemanticFusion(encoder, fixed_weight=1.0))
    np.testing.assert_allclose(rows_online[rows_online[:, 0] <= 2], replay[replay[:, 0] <= 2], atol=1e-6)
    with pytest.raises(ValueError, match="recorded frames"):
        track_queries(queries[:2], seq.frames, cfg)


def test_fused_embeddings_drive_association():
    """Two tracks at overlapping boxes: the fused embedding decides which detection each keeps."""
    cfg = TrackerConfig(appearance_weight=0.6, iou_gate=0.0, min_hits=1)
    boxes = np.array([[10, 10, 30, 60, 0.9, 0], [14, 10, 34, 60, 0.9, 0]], float)
    e = np.eye(2)
    # frame 2: the detections come in swapped order with swapped raw embeddings
    for embs2, keeps_id in ((e[[1, 0]], True), (e, False)):
        trk = MOTTracker(cfg)
        out1 = trk.update(boxes, embeddings=e)
        out2 = trk.update(boxes[[1, 0]], embeddings=fuse(torch.as_tensor(embs2), torch.as_tensor(embs2), 1.0).numpy())
        id_at_first_box = out2[np.argmin(np.abs(out2[:, 0] - boxes[0, 0])), 4]
        assert (id_at_first_box == out1[0, 4]) == keeps_id


def test_weights_by_degradation_groups_frames_by_spec():
    from types import SimpleNamespace

    from kdtrack_lite.eval.fusion import weights_by_degradation
    from kdtrack_lite.train.semantic import fusion_experiment

    reg = DSWRRegulator(DSWRConfig(hidden=2))
    with torch.no_grad():  # a = sigmoid(clarity score): hand-checkable
        reg.mlp[0].weight.zero_(); reg.mlp[0].bias.zero_(); reg.mlp[0].weight[0, 0] = 1.0
        reg.mlp[2].weight.fill_(1.0); reg.mlp[2].bias.zero_()
    q = torch.tensor([[0.0, 1, 1], [2.0, 1, 1], [1.0, 1, 1]])
    data = SimpleNamespace(names=["val-00+clean:1", "val-00+clean:2", "val-00+fog:1"], tensors={"quality": q})
    table = weights_by_degradation({"r": reg}, data)
    s = torch.sigmoid(torch.tensor([0.0, 2.0, 1.0])).tolist()
    assert list(table.columns) == ["clean", "fog"]
    assert table.loc["r", "clean"] == f"{(s[0] + s[1]) / 2:.3f} ({s[0]:.3f}..{s[1]:.3f})"
    assert table.loc["r", "fog"] == f"{s[2]:.3f} ({s[2]:.3f}..{s[2]:.3f})"
    one_spec = SimpleNamespace(names=["val-00:1", "val-01:1"], tensors={"quality": q[:2]})
    assert list(weights_by_degradation({"r": reg}, one_spec).columns) == ["-"]
    with pytest.raises(ValueError, match="'DSWR' entry"):
        fusion_experiment(None, None, None, None, regulators={"other": DSWRConfig()})


def test_reid_by_degradation_counts_matches_per_spec():
    from kdtrack_lite.eval.fusion import reid_by_degradation
    from kdtrack_lite.train.semantic import SemanticSet

    class SwapIds(torch.nn.Module):  # "semantics" that swap the two objects' vectors in marked frames
        def forward(self, thumbs, queries, boxes, valid):
            marked = thumbs.flatten(1).sum(1) > 0
            return {"semantic": torch.where(marked[:, None, None], queries[:, [1, 0]], queries)}

    eye = torch.eye(2)
    f = 4
    t = {"queries": eye.expand(f, 2, 2).clone(), "boxes": torch.zeros(f, 2, 4), "valid": torch.ones(f, 2, dtype=bool),
         "ids": torch.tensor([[1, 2]] * f), "thumbs": torch.zeros(f, 3, 4, 4), "quality": torch.zeros(f, 3)}
    t["thumbs"][[1, 3]] = 1.0  # the second frame of each pair: its semantics point at the other object
    data = SemanticSet(t, torch.tensor([[0, 1], [2, 3]]), np.zeros(f), "test", 2,
                       ["v+clean:1", "v+clean:2", "v+fog:1", "v+fog:2"])
    table = reid_by_degradation(SwapIds(), data, weights=(0.0, 0.25, 1.0))
    assert list(table.index) == ["clean", "fog"] and (table["objects"] == 4).all()
    assert (table["a=0"] == 100).all() and (table["a=0.25"] == 100).all() and (table["a=1"] == 0).all()


def test_best_fixed_picks_the_highest_idf1_fixed_row():
    import pandas as pd

    from kdtrack_lite.eval.fusion import best_fixed
    from kdtrack_lite.train.semantic import VAL_FIXED_ROW

    table = pd.DataFrame({"IDF1": [90.0, 60.0, 70.0, 70.0, 99.0]},
                         index=["no semantics", "fixed a=0.25", "fixed a=0.5", "fixed a=1.0", VAL_FIXED_ROW])
    assert best_fixed(table) == "fixed a=0.5"  # other rows ignored; the first of a tie
