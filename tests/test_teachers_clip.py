"""The open_clip teacher: offline detection speed, fallback labelling, file loading, preprocessing, cache.

No test touches the network: the hub address is pointed at a closed local port or at an
unroutable documentation address (RFC 5737), and the Hugging Face cache at an empty folder.
"""

import json
import time
import warnings

import numpy as np
import open_clip
import pytest
import torch
from PIL import Image

from kdtrack_lite.data.mot_synth import MOTSceneConfig, generate_mot_sequence
from kdtrack_lite.teachers import (ClipTeacher, TeacherUnavailable, cache_embeddings, load_clip_teacher, probe_hub,
                                   teacher_banner)
from kdtrack_lite.teachers import clip as clip_mod

TINY = "kdtrack-test-tiny-ViT"
TINY_CFG = {"embed_dim": 32,
            "vision_cfg": {"image_size": 64, "layers": 2, "width": 64, "patch_size": 16},
            "text_cfg": {"context_length": 16, "vocab_size": 1000, "width": 32, "heads": 2, "layers": 1}}


@pytest.fixture(scope="module")
def tiny_arch(tmp_path_factory):
    """Register a tiny open_clip architecture (real open_clip code, seconds instead of minutes)."""
    folder = tmp_path_factory.mktemp("oc_cfg")
    (folder / f"{TINY}.json").write_text(json.dumps(TINY_CFG))
    open_clip.add_model_config(folder / f"{TINY}.json")
    return TINY


@pytest.fixture(scope="module")
def tiny_file(tiny_arch, tmp_path_factory):
    """A randomly initialised tiny CLIP saved like a downloaded checkpoint; returns (path, model)."""
    torch.manual_seed(123)
    model = open_clip.create_model(tiny_arch).eval()
    path = tmp_path_factory.mktemp("oc_w") / "tiny_weights.safetensors"
    from safetensors.torch import save_file

    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(path))
    return path, model


@pytest.fixture()
def no_hub(monkeypatch, tmp_path):
    """Hub unreachable (closed local port), no offline env, empty caches."""
    for name in ("HF_HUB_OFFLINE", "KDTRACK_OFFLINE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HF_ENDPOINT", "https://127.0.0.1:9")
    monkeypatch.setenv("HOME", str(tmp_path))  # open_clip's URL cache ~/.cache/clip is empty
    return str(tmp_path / "hf_cache")


def frames_rng(n=3, h=48, w=80, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (n, h, w, 3), dtype=np.uint8)


def test_offline_fallback_is_fast_frozen_and_labelled(no_hub):
    t0 = time.perf_counter()
    with pytest.warns(UserWarning, match="checkpoint="):
        teacher = load_clip_teacher("RN50", "openai", cache_dir=no_hub)
    elapsed = time.perf_counter() - t0
    print(f"offline RN50 fallback returned in {elapsed:.2f} s")
    assert elapsed < 3.0, f"offline path took {elapsed:.1f} s (open_clip alone retries for about a minute)"
    assert teacher.source == "offline-fallback" and not teacher.is_real
    assert "OFFLINE FALLBACK" in teacher.label and "NOT CLIP" in teacher.label and "README" in teacher.label
    assert teacher_banner(teacher).endswith(teacher.label)
    assert "127.0.0.1:9" in teacher.reason
    assert all(not p.requires_grad for p in teacher.parameters())
    teacher.train()
    assert not teacher.training and not teacher.visual.training
    assert teacher.embed_dim == 1024 and teacher.image_size == (224, 224)


def test_probe_is_bounded_by_its_timeout(monkeypatch):
    monkeypatch.setenv("HF_ENDPOINT", "https://192.0.2.1")  # TEST-NET-1: never answers
    t0 = time.perf_counter()
    reason = probe_hub(timeout=0.5)
    assert reason is not None and time.perf_counter() - t0 < 1.5


def test_no_fallback_raises_with_instructions(no_hub, monkeypatch):
    with pytest.raises(TeacherUnavailable, match="unreachable") as err:
        load_clip_teacher("RN50", "openai", allow_fallback=False, cache_dir=no_hub)
    text = str(err.value)
    assert "Colab" in text and "checkpoint=" in text and "resnet50_clip.openai" in text
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    t0 = time.perf_counter()
    with pytest.raises(TeacherUnavailable, match="HF_HUB_OFFLINE=1 is set"):
        load_clip_teacher("RN50", "openai", allow_fallback=False, cache_dir=no_hub)
    assert time.perf_counter() - t0 < 1.0


def test_bad_arguments_are_clear_errors(tiny_arch, tmp_path):
    with pytest.raises(ValueError, match="not an open_clip architecture"):
        load_clip_teacher("no-such-net")
    with pytest.raises(ValueError, match="known tags"):
        load_clip_teacher("RN50", "no-such-tag")
    with pytest.raises(FileNotFoundError, match="is not a file"):
        load_clip_teacher(tiny_arch, None, checkpoint=tmp_path / "missing.pt")
    wrong = tmp_path / "wrong.pt"
    torch.save({"visual.conv1.weight": torch.zeros(3)}, wrong)
    with pytest.raises(ValueError, match="wrong.pt"):
        load_clip_teacher(tiny_arch, None, checkpoint=wrong)


def test_checkpoint_file_loads_real_weights(tiny_file):
    path, reference = tiny_file
    teacher = load_clip_teacher(TINY, None, checkpoint=path)
    assert teacher.source == f"file:{path}" and teacher.is_real and "tiny_weights" in teacher.label
    frames = frames_rng()
    emb = teacher.encode_images(frames)
    assert emb.shape == (3, 32)
    torch.testing.assert_close(emb.norm(dim=1), torch.ones(3))
    with torch.no_grad():  # the reference: open_clip's own model with the saved weights
        expected = reference.encode_image(teacher.preprocess_batch(frames), normalize=True)
    torch.testing.assert_close(emb, expected, atol=1e-5, rtol=1e-5)
    with pytest.warns(UserWarning, match="no weights were asked for"):
        other = load_clip_teacher(TINY, None, fallback_seed=5)  # same architecture, other weights
    assert (other.encode_images(frames) - emb).abs().max() > 1e-2


def test_cached_tag_uses_the_tags_preprocessing(tiny_file, monkeypatch):
    path, _ = tiny_file
    tag = {"hf_hub": "someone/tiny/", "mean": (0.5, 0.5, 0.5), "std": (0.25, 0.25, 0.25),
           "interpolation": "bilinear", "resize_mode": "squash"}
    monkeypatch.setattr(clip_mod, "_tag_cfg", lambda name, pretrained: tag)
    monkeypatch.setattr(clip_mod.hub, "cached_weights", lambda cfg, cache_dir=None: str(path))
    monkeypatch.setattr(clip_mod.hub, "offline_reason", lambda timeout: pytest.fail("probed despite a cache hit"))
    teacher = load_clip_teacher(TINY, "tiny-tag")
    assert teacher.source == "pretrained:tiny-tag" and teacher.label == f"CLIP {TINY} (tiny-tag)"
    cfg = teacher.preprocess_cfg
    assert tuple(cfg["mean"]) == (0.5,) * 3 and cfg["interpolation"] == "bilinear" and cfg["resize_mode"] == "squash"
    x = teacher.preprocess_batch(np.full((1, 30, 50, 3), 255, np.uint8))
    assert x.shape == (1, 3, 64, 64)
    torch.testing.assert_close(x, torch.full_like(x, 2.0))  # (1 - 0.5) / 0.25


@pytest.mark.parametrize("shape", [(48, 80), (90, 40), (64, 64)])
def test_preprocess_matches_open_clip_transform(tiny_file, shape):
    """Our batched tensor preprocessing vs open_clip's own PIL evaluation transform."""
    teacher = load_clip_teacher(TINY, None, checkpoint=tiny_file[0])
    from open_clip.transform import PreprocessCfg, image_transform_v2

    reference = image_transform_v2(PreprocessCfg(**teacher.preprocess_cfg), is_train=False)
    scene = generate_mot_sequence(MOTSceneConfig.make(num_frames=1, width=160, height=120), seed=3).frames[0]
    frame = np.ascontiguousarray(scene[: shape[0], : shape[1]])
    ours = teacher.preprocess_batch(frame)[0]
    theirs = reference(Image.fromarray(frame))
    assert ours.shape == theirs.shape == (3, 64, 64)
    std = torch.tensor(teacher.preprocess_cfg["std"])[:, None, None]
    levels = ((ours - theirs) * std * 255).abs()  # difference in grey levels
    # PIL resizes in uint8 and clips between its two separable passes; torch does not: rounding
    # everywhere, plus a few bicubic overshoots next to hard black/white edges
    assert levels.mean() < 0.5 and (levels > 2).float().mean() < 0.005, (levels.mean(), levels.max())


def test_encode_crops_follow_the_object(tiny_file):
    teacher = load_clip_teacher(TINY, None, checkpoint=tiny_file[0])
    rng = np.random.default_rng(1)
    frame = np.full((100, 120, 3), 90, np.uint8)
    patch = rng.integers(0, 256, (30, 14, 3), dtype=np.uint8)
    moved = frame.copy()
    frame[20:50, 10:24], moved[60:90, 80:94] = patch, patch
    a = teacher.encode_crops(frame, np.array([[10, 20, 24, 50]]))
    b = teacher.encode_crops(moved, np.array([[80, 60, 94, 90]]))
    c = teacher.encode_crops(moved, np.array([[10, 20, 24, 50]]))  # empty background there
    assert a.shape == (1, 32)
    assert torch.allclose(a, b, atol=1e-4)
    assert (a - c).abs().max() > 1e-2
    assert teacher.encode_crops(frame, np.zeros((0, 4))).shape == (0, 32)
    with pytest.raises(ValueError, match="box 0"):
        teacher.encode_crops(frame, np.array([[30, 20, 24, 50]]))


def test_fallback_is_seeded_and_leaves_global_rng_alone(tiny_arch):
    state = torch.get_rng_state()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t1, t2 = load_clip_teacher(tiny_arch, None), load_clip_teacher(tiny_arch, None)
        t3 = load_clip_teacher(tiny_arch, None, fallback_seed=1)
    assert torch.equal(torch.get_rng_state(), state)
    frames = frames_rng(2)
    assert torch.equal(t1.encode_images(frames), t2.encode_images(frames))
    assert not torch.equal(t1.encode_images(frames), t3.encode_images(frames))


def test_embedding_cache_reuses_and_invalidates(tiny_file, tmp_path, monkeypatch):
    teacher = load_clip_teacher(TINY, None, checkpoint=tiny_file[0])
    calls = []
    original = ClipTeacher.encode_images
    monkeypatch.setattr(ClipTeacher, "encode_images", lambda self, *a, **k: calls.append(1) or original(self, *a, **k))
    seq = generate_mot_sequence(MOTSceneConfig.make(num_frames=4, width=64, height=48), seed=0)
    path = tmp_path / "emb" / "seq.npz"
    first = cache_embeddings(teacher, seq, path, batch_size=2)
    assert first.shape == (4, 32) and len(calls) == 2
    torch.testing.assert_close(torch.from_numpy(first), original(teacher, seq.frames).cpu())
    again = cache_embeddings(teacher, seq.frames, path)
    assert len(calls) == 2 and np.array_equal(first, again)  # reused, not recomputed
    with np.load(path) as stored:
        assert str(stored["label"]) == teacher.label and str(stored["source"]) == teacher.source
    changed = seq.frames.copy()
    changed[0, 0, 0, 0] ^= 1
    cache_embeddings(teacher, changed, path)
    assert len(calls) == 3  # one pixel changed -> recomputed
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fallback = load_clip_teacher(TINY, None)
    other = cache_embeddings(fallback, changed, path)
    assert len(calls) == 4 and not np.allclose(other, first)  # other teacher -> recomputed
    assert sorted(p.name for p in path.parent.iterdir()) == ["seq.npz"]  # no temporary files left
    with pytest.raises(ValueError, match=".npz"):
        cache_embeddings(teacher, seq, tmp_path / "x.npy")
