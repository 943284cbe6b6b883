"""The colour-histogram stand-in teacher against numpy's histogramdd and the Bhattacharyya coefficient."""

import numpy as np
import pytest

from kdtrack_lite.teachers import ColourHistogramTeacher, teacher_banner
from kdtrack_lite.teachers.cache import embedding_key


def reference(patch, bins):
    halves = [patch[: patch.shape[0] // 2], patch[patch.shape[0] // 2:]]
    hs = []
    for h in halves:
        hist, _ = np.histogramdd(h.reshape(-1, 3).astype(float), bins=[np.linspace(0, 256, bins + 1)] * 3)
        hs.append(hist.ravel() / hist.sum())
    d = np.sqrt(np.concatenate(hs))
    return d / np.linalg.norm(d), hs


def test_descriptor_matches_histogramdd_and_bhattacharyya():
    rng = np.random.default_rng(0)
    frame = rng.integers(0, 256, (40, 30, 3), dtype=np.uint8)
    t = ColourHistogramTeacher(bins=4, inset=0.0)
    got = t.encode_crops(frame, np.array([[0, 0, 30, 40], [5, 10, 25, 30]])).numpy()
    ref, _ = reference(frame, 4)
    np.testing.assert_allclose(got[0], ref, atol=1e-6)
    np.testing.assert_allclose(got[1], reference(frame[10:30, 5:25], 4)[0], atol=1e-6)
    np.testing.assert_allclose(t.encode_images(frame).numpy()[0], ref, atol=1e-6)
    # cosine of two descriptors = mean Bhattacharyya coefficient of the two stripes
    other = rng.integers(0, 128, (40, 30, 3), dtype=np.uint8)
    (_, ha), (_, hb) = reference(frame, 4), reference(other, 4)
    bc = np.mean([np.sum(np.sqrt(p * q)) for p, q in zip(ha, hb)])
    emb = t.encode_images(np.stack([frame, other])).numpy()
    assert emb[0] @ emb[1] == pytest.approx(bc, abs=1e-6)


def test_label_key_and_errors():
    t = ColourHistogramTeacher()
    assert not t.is_real and "NOT CLIP" in teacher_banner(t) and t.embed_dim == 128
    frames = np.zeros((2, 8, 8, 3), np.uint8)
    assert embedding_key(t, frames) != embedding_key(ColourHistogramTeacher(bins=3), frames)
    with pytest.raises(ValueError, match="box 0"):
        t.encode_crops(frames[0], np.array([[4, 4, 2, 6]]))
    assert t.encode_crops(frames[0], np.zeros((0, 4))).shape == (0, 128)


def test_semantic_teacher_picks_the_stand_in_without_real_weights(monkeypatch, tmp_path):
    from kdtrack_lite.teachers import ClipTeacher, semantic_teacher

    for name in ("HF_HUB_OFFLINE", "KDTRACK_OFFLINE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HF_ENDPOINT", "https://127.0.0.1:9")  # hub unreachable (closed local port)
    monkeypatch.setenv("HOME", str(tmp_path))  # empty open_clip URL cache
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf"))
    teacher, clip = semantic_teacher("auto")
    assert isinstance(clip, ClipTeacher) and not clip.is_real
    assert isinstance(teacher, ColourHistogramTeacher) and "STAND-IN" in teacher_banner(teacher)
    assert isinstance(semantic_teacher("standin")[0], ColourHistogramTeacher)
    forced, _ = semantic_teacher("clip")  # the labelled random-init fallback, on request
    assert isinstance(forced, ClipTeacher) and not forced.is_real
    with pytest.raises(ValueError, match="choice must be"):
        semantic_teacher("openai")
