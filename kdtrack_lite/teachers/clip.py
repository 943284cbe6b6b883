"""The frozen CLIP image encoder that VSD-MOT distils from, loaded with ``open_clip``.

PAPER FACT (VSD-MOT abstract): a frozen CLIP image encoder extracts global visual semantics
and is the teacher of a faster student; the predecessor VSE-MOT uses CLIP RN50's visual encoder.

OUR DESIGN CHOICES:

* only the image tower is kept (``model.visual``), frozen (``requires_grad=False``, eval mode);
* weights, in this order: ``checkpoint=`` a local file; the pretrained tag's file already in the
  local cache; the hub when :mod:`~kdtrack_lite.teachers.hub` finds it answering (about a second,
  never a minute of retries), downloaded within ``download_timeout`` seconds; else the
  **offline fallback**;
* the offline fallback is the *same architecture, randomly initialised* with a fixed seed. It is
  honest: random convolutional/attention features keep some colour and texture similarity, so
  the code paths (distillation, fusion, caching) run and give numbers, but the features carry no
  learned semantics. ``teacher.is_real`` is False and ``teacher.label`` says so in capitals;
  every plot or table built on it must show :func:`teacher_banner`;
* preprocessing always comes from the loaded weights (``model.visual.preprocess_cfg``: size,
  mean, std, interpolation, resize mode); for a tag loaded from a file, the tag's own values.
"""

from __future__ import annotations

import math
import os
import warnings
from dataclasses import asdict

import numpy as np
import torch
import torchvision.transforms.functional as TF
from torch import nn
from torchvision.transforms import InterpolationMode

from ..data.crops import crop_and_resize
from . import hub

README_SECTION = "see README 'CLIP weights'"


class TeacherUnavailable(RuntimeError):
    """Real CLIP weights cannot be had here and the offline fallback was not allowed."""


class ClipTeacher(nn.Module):
    """A frozen ``open_clip`` image encoder with its matching preprocessing.

    Attributes:
        visual: the image tower, ``(N, 3, S, S)`` normalised images -> ``(N, D)`` features.
        model_name: open_clip architecture name, e.g. ``"RN50"``.
        source: ``"pretrained:<tag>"``, ``"file:<path>"`` or ``"offline-fallback"``.
        is_real: True for trained CLIP weights (tag or file), False for the fallback.
        label: human description every dependent plot/table shows (see :func:`teacher_banner`).
        preprocess_cfg: open_clip preprocessing dict (size, mean, std, interpolation, resize_mode).
        reason: why the fallback was used (``""`` for real weights).
    """

    def __init__(self, visual: nn.Module, model_name: str, source: str, label: str,
                 preprocess_cfg: dict, reason: str = "", seed: int | None = None):
        super().__init__()
        self.visual = visual
        self.model_name, self.source, self.label, self.reason, self.seed = model_name, source, label, reason, seed
        self.preprocess_cfg = dict(preprocess_cfg)
        size = self.preprocess_cfg["size"]
        self.image_size: tuple[int, int] = (size, size) if isinstance(size, int) else tuple(size)
        for p in self.visual.parameters():
            p.requires_grad_(False)
        self.eval()

    @property
    def is_real(self) -> bool:
        return self.source != "offline-fallback"

    @property
    def device(self) -> torch.device:
        return next(self.visual.parameters()).device

    @property
    def embed_dim(self) -> int:
        return int(getattr(self.visual, "output_dim", 0) or self._probe_dim())

    def _probe_dim(self) -> int:
        with torch.no_grad():
            return int(self.visual(torch.zeros(1, 3, *self.image_size, device=self.device)).shape[-1])

    def train(self, mode: bool = True) -> "ClipTeacher":
        """A teacher stays in eval mode (BatchNorm statistics, dropout off), whatever is asked."""
        return super().train(False)

    def preprocess_batch(self, frames: np.ndarray | torch.Tensor) -> torch.Tensor:
        """Resize, crop and normalise RGB frames exactly as the loaded weights expect.

        Tensor version of open_clip's evaluation transform (``resize_mode`` "shortest": resize
        the short side to ``S`` then centre-crop; "squash": resize to ``S x S``; "longest":
        resize the long side to ``S`` then pad with ``fill_color``), then
        ``(x / 255 - mean) / std``.

        Args:
            frames: ``(N, H, W, 3)`` uint8 RGB (numpy or torch), or one ``(H, W, 3)`` frame.
        Returns:
            ``(N, 3, S, S)`` float32 on the teacher's device.
        """
        x = torch.as_tensor(np.ascontiguousarray(frames) if isinstance(frames, np.ndarray) else frames)
        if x.ndim == 3:
            x = x[None]
        if x.ndim != 4 or x.shape[-1] != 3 or x.dtype != torch.uint8:
            raise ValueError(f"ClipTeacher.preprocess_batch: frames must be (N, H, W, 3) uint8 RGB, "
                             f"got shape {tuple(x.shape)} dtype {x.dtype}")
        cfg = self.preprocess_cfg
        x = x.to(self.device).permute(0, 3, 1, 2).float() / 255.0  # (N, 3, H, W) in [0, 1]
        mode = InterpolationMode.BILINEAR if cfg.get("interpolation") == "bilinear" else InterpolationMode.BICUBIC
        out_h, out_w = self.image_size
        h, w = x.shape[-2:]
        resize_mode = cfg.get("resize_mode", "shortest")
        if resize_mode == "squash":
            x = TF.resize(x, [out_h, out_w], interpolation=mode, antialias=True)
        elif resize_mode == "longest":
            scale = min(out_h / h, out_w / w)
            x = TF.resize(x, [max(1, round(h * scale)), max(1, round(w * scale))], interpolation=mode, antialias=True)
            pad = torch.full((x.shape[0], 3, out_h, out_w), cfg.get("fill_color", 0) / 255.0, device=x.device)
            top, left = (out_h - x.shape[-2]) // 2, (out_w - x.shape[-1]) // 2
            pad[..., top:top + x.shape[-2], left:left + x.shape[-1]] = x
            x = pad
        else:  # "shortest", open_clip's default and CLIP's own
            if out_h == out_w:
                x = TF.resize(x, out_h, interpolation=mode, antialias=True)
            else:
                scale = max(out_h / h, out_w / w)
                x = TF.resize(x, [math.ceil(h * scale), math.ceil(w * scale)], interpolation=mode, antialias=True)
            x = TF.center_crop(x, [out_h, out_w])
        x = x.clamp(0.0, 1.0)  # bicubic overshoots; PIL clips to [0, 255] as well
        return TF.normalize(x, list(cfg["mean"]), list(cfg["std"]))

    @torch.no_grad()
    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """``(N, 3, S, S)`` preprocessed images -> ``(N, D)`` L2-normalised embeddings."""
        return nn.functional.normalize(self.visual(images.to(self.device)).float(), dim=-1)

    @torch.no_grad()
    def encode_images(self, frames: np.ndarray | torch.Tensor, batch_size: int = 16) -> torch.Tensor:
        """Global (whole-frame) embeddings.

        Args:
            frames: ``(N, H, W, 3)`` uint8 RGB.
        Returns:
            ``(N, D)`` float32, L2-normalised, on the teacher's device.
        """
        frames = frames[None] if frames.ndim == 3 else frames
        if batch_size < 1:
            raise ValueError(f"ClipTeacher.encode_images: batch_size must be >= 1, got {batch_size}")
        chunks = [self(self.preprocess_batch(frames[i:i + batch_size])) for i in range(0, len(frames), batch_size)]
        if not chunks:
            return torch.zeros(0, self.embed_dim, device=self.device)
        return torch.cat(chunks)

    @torch.no_grad()
    def encode_crops(self, frame: np.ndarray, boxes_xyxy: np.ndarray, context: float = 0.1,
                     batch_size: int = 32) -> torch.Tensor:
        """Local (per-object) embeddings of boxes in one frame.

        OUR DESIGN CHOICE: each box becomes a *square* crop centred on the box with side
        ``max(w, h) * (1 + context)`` (frame-mean colour outside the frame), taken at native
        resolution and then put through :meth:`preprocess_batch`, so the aspect ratio is kept
        (as in CLIP's training images) instead of squashing a tall pedestrian.

        Args:
            frame: ``(H, W, 3)`` uint8 RGB.
            boxes_xyxy: ``(K, 4)`` boxes ``[x1, y1, x2, y2]`` in pixels.
        Returns:
            ``(K, D)`` float32, L2-normalised.
        """
        boxes_xyxy = np.asarray(boxes_xyxy, np.float64).reshape(-1, 4) if len(boxes_xyxy) else np.zeros((0, 4))
        if frame.ndim != 3 or frame.shape[-1] != 3 or frame.dtype != np.uint8:
            raise ValueError(f"ClipTeacher.encode_crops: frame must be (H, W, 3) uint8 RGB, got "
                             f"shape {frame.shape} dtype {frame.dtype}")
        wh = boxes_xyxy[:, 2:] - boxes_xyxy[:, :2]
        if (wh <= 0).any():
            bad = int(np.flatnonzero((wh <= 0).any(1))[0])
            raise ValueError(f"ClipTeacher.encode_crops: box {bad} {boxes_xyxy[bad].tolist()} is not a valid "
                             f"[x1, y1, x2, y2] box (x2 > x1 and y2 > y1 expected)")
        feats = []
        for box, (w, h) in zip(boxes_xyxy, wh):
            side = max(w, h) * (1 + context)
            native = max(2, int(round(side)))
            crop = crop_and_resize(frame, ((box[0] + box[2]) / 2, (box[1] + box[3]) / 2), side, native)
            feats.append(self(self.preprocess_batch(crop)))
        if not feats:
            return torch.zeros(0, self.embed_dim, device=self.device)
        return torch.cat(feats)

    def extra_repr(self) -> str:
        return f"source={self.source!r}, label={self.label!r}"


def teacher_banner(teacher: ClipTeacher) -> str:
    """The line every plot or table that depends on the teacher must show."""
    return f"teacher: {teacher.label}"


def _tag_cfg(model_name: str, pretrained: str | None) -> dict:
    import open_clip

    if model_name not in open_clip.list_models():
        raise ValueError(f"load_clip_teacher: model_name {model_name!r} is not an open_clip architecture; "
                         f"see open_clip.list_models() (e.g. 'RN50', 'ViT-B-32')")
    if pretrained is None:
        return {}
    cfg = open_clip.get_pretrained_cfg(model_name, pretrained)
    if not cfg:
        raise ValueError(f"load_clip_teacher: pretrained={pretrained!r} is not a tag of {model_name!r}; "
                         f"known tags: {open_clip.list_pretrained_tags_by_model(model_name)}")
    return cfg


def _from_file(model_name: str, path: str, tag_cfg: dict, device: str) -> tuple[nn.Module, dict]:
    import open_clip

    # a tag's file: use that tag's activation and preprocessing, as open_clip does for the tag
    force_pp = {k: tag_cfg[k] for k in ("mean", "std", "interpolation", "resize_mode") if k in tag_cfg}
    try:
        model = open_clip.create_model(model_name, pretrained=path, device=device, force_preprocess_cfg=force_pp,
                                       force_quick_gelu=bool(tag_cfg.get("quick_gelu", False)))
    except Exception as err:
        raise ValueError(f"load_clip_teacher: could not load weights file {path!r} into open_clip "
                         f"{model_name!r}: {err}") from err
    return model.visual, dict(model.visual.preprocess_cfg)


def _fallback(model_name: str, tag_cfg: dict, seed: int, device: str) -> tuple[nn.Module, dict]:
    import open_clip
    from open_clip.transform import PreprocessCfg, merge_preprocess_dict

    model_cfg = open_clip.get_model_config(model_name)
    quick_gelu = bool(tag_cfg.get("quick_gelu", model_cfg.get("quick_gelu", False)))
    with torch.random.fork_rng(devices=[]):  # seeded without touching the caller's RNG state
        torch.manual_seed(seed)
        try:  # image tower only: the text tower would cost time and memory for nothing
            from open_clip.model import _build_vision_tower

            visual = _build_vision_tower(model_cfg["embed_dim"], model_cfg["vision_cfg"], quick_gelu=quick_gelu)
        except (ImportError, TypeError):  # pragma: no cover - other open_clip versions
            visual = open_clip.create_model(model_name, force_quick_gelu=quick_gelu).visual
    pp = merge_preprocess_dict(asdict(PreprocessCfg()), model_cfg.get("preprocess_cfg", {}))
    pp["size"] = getattr(visual, "image_size", pp["size"])
    return visual.to(device), pp


def load_clip_teacher(model_name: str = "RN50", pretrained: str | None = "openai", checkpoint: str | None = None,
                      device: str | torch.device = "cpu", allow_fallback: bool = True, probe_timeout: float = 1.0,
                      fallback_seed: int = 0, cache_dir: str | None = None,
                      download_timeout: float = 300.0) -> ClipTeacher:
    """Load a frozen open_clip image encoder: local file, cached/pretrained tag, or labelled fallback.

    Args:
        model_name: open_clip architecture (``open_clip.list_models()``).
        pretrained: weight tag (``open_clip.list_pretrained_tags_by_model(model_name)``) or None.
        checkpoint: path of a weight file (``.bin``/``.pt``/``.safetensors``) for ``model_name``;
            with ``pretrained`` also given, the file is taken to hold that tag's weights (the tag's
            preprocessing is used).
        device: where the encoder runs.
        allow_fallback: without real weights, return the labelled random stand-in (True) or
            raise :class:`TeacherUnavailable` (False).
        probe_timeout: seconds allowed to find out whether the hub answers (an HTTP request, so
            a host that accepts connections but never answers fails it).
        fallback_seed: seed of the fallback's random initialisation.
        cache_dir: open_clip / Hugging Face cache folder (default: theirs).
        download_timeout: seconds the download from an answering hub may take before the load
            gives up on it (the offline fallback or :class:`TeacherUnavailable` follows).
    Returns:
        A frozen :class:`ClipTeacher` in eval mode.
    """
    tag_cfg = _tag_cfg(model_name, pretrained)
    if checkpoint is not None:
        path = os.path.abspath(os.fspath(checkpoint))
        if not os.path.isfile(path):
            raise FileNotFoundError(f"load_clip_teacher: checkpoint={checkpoint!r} is not a file")
        visual, pp = _from_file(model_name, path, tag_cfg, str(device))
        return ClipTeacher(visual, model_name, f"file:{path}", f"CLIP {model_name} (file {os.path.basename(path)})", pp)
    reason = "no pretrained tag was given"
    if pretrained is not None:
        label = f"CLIP {model_name} ({pretrained})"
        cached = hub.cached_weights(tag_cfg, cache_dir)
        if cached is not None:
            visual, pp = _from_file(model_name, cached, tag_cfg, str(device))
            return ClipTeacher(visual, model_name, f"pretrained:{pretrained}", label, pp)
        reason = hub.offline_reason(probe_timeout)
        if reason is None:
            import open_clip

            def download() -> nn.Module:
                return open_clip.create_model(model_name, pretrained=pretrained, device=str(device),
                                              force_quick_gelu=bool(tag_cfg.get("quick_gelu", False)),
                                              cache_dir=cache_dir)

            try:
                model = hub.run_with_deadline(download, download_timeout,
                                              f"the download of {model_name!r}/{pretrained!r}")
                return ClipTeacher(model.visual, model_name, f"pretrained:{pretrained}", label,
                                   dict(model.visual.preprocess_cfg))
            except TimeoutError as err:  # the hub answered the probe, then stalled
                reason = f"{err} (download_timeout={download_timeout:g})"
            except Exception as err:  # the hub answered but the download failed
                reason = f"the download failed ({type(err).__name__}: {err})"
        hint = hub.download_hint(model_name, pretrained, tag_cfg)
        how = (f"To use real CLIP weights: on Colab (or any machine with internet) the same call "
               f"load_clip_teacher({model_name!r}, {pretrained!r}) downloads them; or download {hint} "
               f"elsewhere, copy it here and call load_clip_teacher({model_name!r}, {pretrained!r}, "
               f"checkpoint='/path/to/file').")
        message = (f"CLIP weights {model_name!r}/{pretrained!r} are not in the local cache and the Hugging Face "
                   f"hub cannot be used: {reason}. {how}")
    else:
        message = f"load_clip_teacher({model_name!r}, pretrained=None): no weights were asked for."
    if not allow_fallback:
        raise TeacherUnavailable(message)
    label = (f"OFFLINE FALLBACK: randomly initialised {model_name} (seed {fallback_seed}), NOT CLIP — "
             f"semantics are meaningless; {README_SECTION}")
    warnings.warn(f"{message} Using the {label}", UserWarning, stacklevel=2)
    visual, pp = _fallback(model_name, tag_cfg, fallback_seed, str(device))
    return ClipTeacher(visual, model_name, "offline-fallback", label, pp, reason=reason, seed=fallback_seed)
