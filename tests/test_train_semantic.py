"""The semantic recipe end to end at toy size, with a tiny stand-in teacher (a real ClipTeacher wrapper)."""

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

from kdtrack_lite.checkpoint import load_checkpoint
from kdtrack_lite.distill.dcsd import DCSDConfig
from kdtrack_lite.distill.loop import TrainConfig
from kdtrack_lite.eval.fusion import compare_fusion, encode_set, pair_match_accuracy, record_queries
from kdtrack_lite.models.semantic_encoder import SemanticEncoderConfig
from kdtrack_lite.paths import samples_dir
from kdtrack_lite.teachers.clip import ClipTeacher
from kdtrack_lite.track.semantic_fusion import SemanticFusion
from kdtrack_lite.train.semantic import (
    PairLoader,
    SemanticDataConfig,
    build_semantic_set,
    make_semantic_split,
    match_identities,
    train_regulator,
    train_semantic_student,
)

PP = {"size": 32, "mean": (0.5, 0.5, 0.5), "std": (0.25, 0.25, 0.25), "interpolation": "bilinear",
      "resize_mode": "shortest"}


class CountingVisual(nn.Module):
    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.net = nn.Sequential(nn.Conv2d(3, 8, 3, 2), nn.ReLU(), nn.AdaptiveAvgPool2d(2), nn.Flatten(), nn.Linear(32, 16))
        self.output_dim, self.calls = 16, 0

    def forward(self, x):
        self.calls += len(x)
        return self.net(x)


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    teacher = ClipTeacher(CountingVisual(), "tiny", "offline-fallback", "TINY TEST TEACHER", PP, seed=0)
    detector = load_checkpoint(samples_dir() / "checkpoints" / "mot_teacher.pt").build().eval()
    cfg = SemanticDataConfig(train_sequences=2, test_sequences=1, num_frames=4, frame_step=1,
                             train_specs=("", "low_quality"), max_gap=2)
    clean, degraded = make_semantic_split("train", cfg)
    cache = tmp_path_factory.mktemp("cache")
    data = build_semantic_set(detector, teacher, clean, degraded, cfg, SemanticEncoderConfig(thumb_size=(12, 16)), cache)
    return teacher, detector, cfg, clean, degraded, cache, data


def test_set_contents(setup):
    teacher, detector, _, clean, degraded, _, data = setup
    t = data.tensors
    assert len(data) == 8 and data.pairs.tolist() == [[0, 1], [1, 2], [0, 2], [2, 3], [1, 3],
                                                [4, 5], [5, 6], [4, 6], [6, 7], [5, 7]]
    assert t["valid"].any() and data.query_dim == detector.cfg.embedding_dim
    assert t["queries"].shape[-1] == detector.cfg.embedding_dim + detector.cfg.neck_channels
    assert (t["ids"][~t["valid"]] == -1).all()
    for f in range(len(data)):  # every assigned id exists in that frame's ground truth
        seq = degraded[f // 4]
        gt_ids = set(seq.boxes_at(f % 4 + 1)[0].tolist())
        ids = t["ids"][f][t["valid"][f]].tolist()
        assert {i for i in ids if i >= 0} <= gt_ids
    # privileged: the teacher targets are the clean frame's embeddings, not the degraded one's
    np.testing.assert_allclose(t["teacher_frame"][4].numpy(), teacher.encode_images(clean[1].frames[0])[0].numpy(),
                               atol=1e-5)
    assert not np.allclose(t["teacher_frame"][4].numpy(), teacher.encode_images(degraded[1].frames[0])[0].numpy())
    assert 0 <= data.levels.min() and data.levels[4:].max() > 0 and data.levels[:4].max() == 0
    assert data.teacher_label == "TINY TEST TEACHER"


def test_teacher_cache_is_reused(setup):
    teacher, detector, cfg, clean, degraded, cache, data = setup
    assert list(cache.glob("*.npz"))
    before = teacher.visual.calls
    again = build_semantic_set(detector, teacher, clean, degraded, cfg, SemanticEncoderConfig(thumb_size=(12, 16)), cache)
    assert teacher.visual.calls == before  # nothing recomputed
    torch.testing.assert_close(again.tensors["teacher_crops"], data.tensors["teacher_crops"])


def test_match_identities_against_hand_made_boxes(setup):
    seq = setup[4][0]
    ids, tlwh, _ = seq.boxes_at(1)
    xyxy = np.c_[tlwh[:, :2], tlwh[:, :2] + tlwh[:, 2:]]
    dets = np.r_[xyxy[[1, 0]] + 0.5, [[1000, 1000, 1010, 1010]]]
    np.testing.assert_array_equal(match_identities(dets, seq, 1, 0.5), [ids[1], ids[0], -1])


def test_training_and_fusion_run(setup):
    _, detector, cfg, _, _, _, data = setup
    batch = next(iter(PairLoader(data, 2, seed=0)))
    assert batch["queries"].shape[0] == 4  # B previous then B current frames
    tc = TrainConfig(epochs=1, steps_per_epoch=3, warmup_steps=1)
    enc, hist = train_semantic_student(data, SemanticEncoderConfig(d_model=16, heads=2, layers=1, thumb_size=(12, 16)),
                                       DCSDConfig(), tc, batch_size=2)
    assert {"loss_task", "loss_dcsd_local", "loss_dcsd_global"} <= set(hist.epochs[0])
    sem = encode_set(enc, data)["semantic"]
    assert sem.shape[:2] == data.tensors["valid"].shape and 0 <= pair_match_accuracy(sem, data) <= 1
    reg, _ = train_regulator(enc, data, train_cfg=tc, batch_size=2)
    a = reg(data.tensors["quality"])
    assert ((a > 0) & (a < 1)).all()
    _, test = make_semantic_split("test", cfg)
    table = compare_fusion(test, record_queries(detector, test), {"none": None, "dswr": SemanticFusion(enc, reg)})
    assert list(table.index) == ["none", "dswr"] and table.notna().all().all()


def test_val_split_holds_every_scene_under_every_spec(setup):
    cfg = setup[2].replace(val_sequences=2)
    clean, degraded = make_semantic_split("val", cfg)
    assert len(clean) == len(degraded) == 2 * len(cfg.train_specs)
    assert len({s.name for s in degraded}) == len(degraded)  # unique names: caches and tables keep them apart
    for k, spec in enumerate(cfg.train_specs):  # same scenes, one block per spec, in train_specs order
        for i in range(2):
            c, d = clean[2 * k + i], degraded[2 * k + i]
            assert c is clean[i] or np.array_equal(c.frames, clean[i].frames)
            assert d.name.endswith("+" + (spec or "clean"))
            assert np.array_equal(d.frames, c.frames) == (spec == "")
    one, _ = make_semantic_split("val", cfg.replace(val_every_spec=False))
    assert len(one) == 2


def test_fusion_experiment_chooses_the_fixed_weight_on_val(setup):
    from kdtrack_lite.train.semantic import VAL_FIXED_ROW, fusion_experiment

    teacher, detector, cfg, _, _, cache, _ = setup
    cfg = cfg.replace(val_sequences=1)
    calls = []
    hook = detector.register_forward_hook(lambda m, i, o: calls.append(1))
    try:
        exp = fusion_experiment(detector, teacher, cfg, TrainConfig(epochs=1, steps_per_epoch=2, warmup_steps=1),
                                cache_dir=cache, fixed=(0.25, 1.0))
    finally:
        hook.remove()
    # every frame through the detector once: train 2 x 4, val 1 scene x 2 specs x 4 (reused for the
    # val table), test 1 x 4 low quality + 1 x 4 clean
    assert len(calls) == 8 + 8 + 4 + 4
    assert list(exp.val_table.index) == ["no semantics", "fixed a=0.25", "fixed a=1.0"]
    assert exp.val_fixed == exp.val_table.loc[["fixed a=0.25", "fixed a=1.0"], "IDF1"].idxmax()
    for table in exp.tables.values():
        assert table.index[-1] == VAL_FIXED_ROW
        pd.testing.assert_series_equal(table.loc[VAL_FIXED_ROW], table.loc[exp.val_fixed], check_names=False)


def test_recorded_queries_must_match_the_sequence(setup):
    _, detector, cfg, clean, degraded, cache, data = setup
    queries = record_queries(detector, degraded[:1])
    again = build_semantic_set(detector, setup[0], clean, degraded, cfg, SemanticEncoderConfig(thumb_size=(12, 16)),
                               cache, queries=queries)
    torch.testing.assert_close(again.tensors["queries"], data.tensors["queries"])
    queries[degraded[0].name] = queries[degraded[0].name][:-1]
    with pytest.raises(ValueError, match=rf"queries\['{degraded[0].name}'\] holds 3 frames, the sequence 4"):
        build_semantic_set(detector, setup[0], clean, degraded, cfg, cache_dir=cache, queries=queries)
