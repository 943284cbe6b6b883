"""The capstone benchmark: every method of notebooks 01-07 on the same held-out data, one table.

Four sections, each measured in one run on sequences no model was trained on:

* ``mot``: AttTrack feature learning (notebooks 01-03). The MOT teacher, the shipped student, and the
  shipped student fine-tuned at one equal budget alone / with FitNets hints / with attention
  transfer / with both / with response-level heatmap KD / with hints + heatmap KD.
* ``interleaved``: AttTrack at inference time (notebook 07), on the same MOT test scenes: teacher
  only, the teacher on every k-th frame with its tracks as the student's prior, the adaptive
  schedule, the student only.
* ``sot``: SDST (notebook 04). The general SiamFC teacher, the shipped student, and the student
  fine-tuned at one equal budget alone / with general KD / with SDST (fixed and adaptive weights).
* ``lowq``: VSD-MOT (notebooks 05-06). A DCSD semantic student and a DSWR regulator trained on
  degraded scenes; association on held-out low-quality and clean scenes with no semantics, the
  best fixed weight and DSWR, on identical detections; the teacher's and the student's speed.

Every section returns rows of one table (:data:`COLUMNS`): accuracy (HOTA/IDF1/AssA for MOT,
success AUC/P@20 for SOT), FPS, parameters, FLOPs, and the training seconds spent in this run.
:func:`kdtrack_lite.tour.findings` states, from those numbers only, which idea helped where.

OUR DESIGN CHOICES: the budgets of :class:`CapstoneConfig` (profiles ``fast``, ``lite``, ``full``);
every MOT row is tracked with the default ``TrackerConfig()``; ``fps`` is frames per
second of the whole online tracker for MOT rows (detector, decoding, association), of the
Siamese network's per-frame work for SOT rows (one 3-scale search batch), and of the semantic
encoder alone for the fusion rows (the CLIP row: frame + 8 crops); FPS ratios are only compared
within a section, since each section is timed in its own run.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable, ClassVar

import numpy as np
import pandas as pd
import torch
from torch import nn

from .config import Config, ConfigError

COLUMNS = ["section", "notebook", "HOTA", "IDF1", "AssA", "AUC", "P@20", "fps", "params", "gflops", "train_s"]
SECTIONS = ("mot", "interleaved", "sot", "lowq")
MOT_ROWS = {"none": "MOT student fine-tuned alone", "hint": "MOT student + hint (FitNets)", "at": "MOT student + AT",
            "hint,at": "MOT student + hint + AT", "kd": "MOT student + heatmap KD",
            "hint,kd": "MOT student + hint + heatmap KD"}
SOT_ROWS = {"alone": "SOT student fine-tuned alone", "general": "SOT student + general KD",
            "fixed": "SOT student + SDST (fixed weights)", "adaptive": "SOT student + SDST (adaptive weights)"}


@dataclass
class CapstoneConfig(Config):
    """Data sizes and training budgets of the capstone (OUR CHOICES). Profiles: :meth:`profile`.

    The defaults are the ``lite`` profile (the README table; under 30 minutes on a 2-core CPU);
    ``fast`` is what notebook 08 runs under nbval; ``full`` uses the FULL data sizes and budgets.
    """

    mot_train_sequences: int = 12
    mot_test_sequences: int = 4
    mot_num_frames: int = 150
    mot_epochs: int = 2
    mot_steps: int = 40
    mot_lr: float = 5e-4  # a quarter of the baselines' rate: these students start converged
    interleave_k: int = 4
    adaptive_budget: float = 0.25
    sot_train_sequences: int = 240
    sot_test_sequences: int = 18
    sot_num_frames: int = 120
    sot_steps: int = 100
    sot_batch: int = 8
    sot_lr: float = 5e-4
    lowq_train_sequences: int = 4
    lowq_test_sequences: int = 3
    lowq_num_frames: int = 100
    lowq_epochs: int = 6
    lowq_steps: int = 40
    seed: int = 0
    FAST: ClassVar[dict] = {"mot_train_sequences": 3, "mot_test_sequences": 2, "mot_num_frames": 40,
                            "mot_epochs": 1, "mot_steps": 10, "sot_train_sequences": 24, "sot_test_sequences": 6,
                            "sot_num_frames": 40, "sot_steps": 8, "lowq_train_sequences": 3,
                            "lowq_test_sequences": 2, "lowq_num_frames": 30, "lowq_epochs": 2, "lowq_steps": 10}
    FULL: ClassVar[dict] = {"mot_epochs": 4, "mot_steps": 100, "sot_steps": 300, "lowq_train_sequences": 6,
                            "lowq_test_sequences": 4, "lowq_num_frames": 150, "lowq_epochs": 12, "lowq_steps": 60}

    @classmethod
    def profile(cls, name: str, **overrides) -> "CapstoneConfig":
        """``"fast"`` (notebook 08 under nbval), ``"lite"`` (the README table) or ``"full"``."""
        if name == "fast":
            return cls.make("fast", **overrides)
        if name == "lite":
            return cls.make("full", **overrides)
        if name == "full":
            return cls.make("full", **{**cls.FULL, **overrides})
        raise ConfigError(f"CapstoneConfig.profile: name must be 'fast', 'lite' or 'full', got {name!r}")


@dataclass
class Models:
    """The shipped teachers and students every section starts from (see :func:`shipped_models`)."""

    mot_teacher: nn.Module
    mot_student: nn.Module
    sot_teacher: nn.Module
    sot_student: nn.Module
    sot_specialists: dict[str, nn.Module]


def shipped_models(root=None) -> Models:
    """Load every checkpoint of ``data_samples/checkpoints/`` the capstone needs (eval mode)."""
    from pathlib import Path

    from .checkpoint import load_checkpoint
    from .paths import samples_dir
    from .train.sdst import SPECIALIST_ATTRIBUTES

    folder = Path(root) if root is not None else samples_dir() / "checkpoints"
    load = lambda name: load_checkpoint(folder / name).build().eval()  # noqa: E731
    return Models(load("mot_teacher.pt"), load("mot_student.pt"), load("sot_teacher.pt"), load("sot_student.pt"),
                  {a: load(f"sot_specialist_{a}.pt") for a in SPECIALIST_ATTRIBUTES})


def _rows(records: dict[str, dict], section: str, notebook: str) -> pd.DataFrame:
    df = pd.DataFrame.from_dict(records, orient="index")
    df["section"], df["notebook"] = section, notebook
    return df.reindex(columns=COLUMNS)


def _mot_data(cfg: CapstoneConfig, splits=("train", "val", "test")):
    from .train.mot import MOTDataConfig, make_mot_split

    data = MOTDataConfig(train_sequences=cfg.mot_train_sequences, val_sequences=1,
                         test_sequences=cfg.mot_test_sequences, num_frames=cfg.mot_num_frames, seed=cfg.seed)
    return data, {s: make_mot_split(s, data) for s in splits}


def mot_section(cfg: CapstoneConfig, models: Models) -> pd.DataFrame:
    """Notebooks 01-03: the shipped MOT pair and one fine-tune per :data:`MOT_ROWS` entry, all at one budget."""
    from .distill.loop import TrainConfig
    from .eval.benchmark import mot_benchmark
    from .train.distill_mot import MOTDistillConfig, distill_mot_student

    data, splits = _mot_data(cfg)
    budget = TrainConfig(epochs=cfg.mot_epochs, steps_per_epoch=cfg.mot_steps, lr=cfg.mot_lr, patience=0,
                         warmup_steps=min(20, cfg.mot_steps // 2), seed=cfg.seed)
    dcfg = MOTDistillConfig()
    students, seconds = {}, {}
    for spec, label in MOT_ROWS.items():
        start = time.perf_counter()
        students[label], _ = distill_mot_student(spec, models.mot_teacher, models.mot_student, data, budget, dcfg,
                                                 train_sequences=splits["train"], val_sequences=splits["val"])
        seconds[label] = time.perf_counter() - start
    table = mot_benchmark({"MOT teacher": models.mot_teacher, "MOT student (shipped)": models.mot_student,
                           **students}, splits["test"])
    records = {name: {"HOTA": r["HOTA"], "IDF1": r["IDF1"], "AssA": r["AssA"], "fps": r["pipeline_fps"],
                      "params": r["params"], "gflops": r["flops"] / 1e9, "train_s": seconds.get(name, np.nan)}
               for name, r in table.iterrows()}
    return _rows(records, "MOT", "01-02")


def interleaved_section(cfg: CapstoneConfig, models: Models) -> pd.DataFrame:
    """Notebook 07: schedules on the MOT test scenes of :func:`mot_section` (same tracker settings)."""
    from .eval.interleaved import Variant, evaluate_variants
    from .eval.speed import count_flops, count_params
    from .models.fuse import deploy
    from .track.interleaved import InterleavedConfig
    from .track.schedules import AdaptiveConfig, AdaptiveSchedule, FixedSchedule
    from .track.mot_tracker import TrackerConfig

    _, splits = _mot_data(cfg, splits=("test",))  # the same test scenes as mot_section
    k = cfg.interleave_k
    variants = {"interleaved: teacher only": Variant(FixedSchedule(1)),
                f"interleaved: k={k}, teacher on 1 frame in {k}, teacher priors": Variant(FixedSchedule(k)),
                f"interleaved: adaptive schedule (budget {cfg.adaptive_budget:g})":
                    Variant(AdaptiveSchedule(AdaptiveConfig(budget=cfg.adaptive_budget))),
                "interleaved: student only":
                    Variant(FixedSchedule(0), InterleavedConfig(prior_source="own", embeddings="student"))}
    # evaluate_variants times the deployed detectors itself; size and FLOPs are counted on the same form
    sweep = evaluate_variants(models.mot_teacher, models.mot_student, splits["test"], variants, TrackerConfig())
    teacher, student = deploy(models.mot_teacher), deploy(models.mot_student)
    h, w = splits["test"][0].frames.shape[1:3]
    x, prior = torch.rand(1, 3, h, w), torch.rand(1, 1, h, w)
    size = {m: (count_params(net), count_flops(net, (x, x, prior)) / 1e9) for m, net in (("t", teacher), ("s", student))}
    records = {}
    for name, row in sweep.table.iterrows():
        share = row["teacher_fraction"]  # mean per-frame size and cost: teacher on `share` of the frames
        records[name] = {"HOTA": row["HOTA"], "IDF1": row["IDF1"],
                         "AssA": float(sweep.reports[name].combined["AssA"]), "fps": row["fps"],
                         "params": size["t"][0] * (share > 0) + size["s"][0] * (share < 1),
                         "gflops": share * size["t"][1] + (1 - share) * size["s"][1], "train_s": np.nan}
    return _rows(records, "MOT interleaved", "06")


def sot_section(cfg: CapstoneConfig, models: Models) -> pd.DataFrame:
    """Notebook 04: the SiamFC pair and four SDST fine-tunes at one budget on the SOT test split."""
    from .distill.loop import TrainConfig
    from .eval.benchmark import sot_benchmark
    from .train.sdst import train_sdst_student
    from .train.sot import SOTDataConfig, make_sot_split

    data = SOTDataConfig(train_sequences=cfg.sot_train_sequences, test_sequences=cfg.sot_test_sequences,
                         num_frames=cfg.sot_num_frames, seed=cfg.seed)
    train, test = make_sot_split("train", data), make_sot_split("test", data)
    students, seconds = {}, {}
    for variant, label in SOT_ROWS.items():
        start = time.perf_counter()
        budget = TrainConfig(epochs=1, steps_per_epoch=cfg.sot_steps, lr=cfg.sot_lr, patience=0,
                             warmup_steps=min(10, cfg.sot_steps // 2), seed=cfg.seed)
        students[label], _ = train_sdst_student(variant, models.sot_student, models.sot_teacher,
                                                models.sot_specialists, train, budget, cfg.sot_batch)
        seconds[label] = time.perf_counter() - start
    table, _ = sot_benchmark({"SOT teacher (general)": models.sot_teacher,
                              "SOT student (shipped)": models.sot_student, **students}, test)
    records = {name: {"AUC": r["AUC"], "P@20": r["P@20"], "fps": r["fps"], "params": r["params"],
                      "gflops": r["flops"] / 1e9, "train_s": seconds.get(name, np.nan)}
               for name, r in table.iterrows()}
    return _rows(records, "SOT", "03")


def lowq_section(cfg: CapstoneConfig, models: Models) -> pd.DataFrame:
    """Notebooks 05-06: no semantics / best fixed weight / DSWR on low-quality and clean test scenes.

    The teacher is CLIP when real weights load, else the labelled colour-histogram stand-in (the
    label is kept in ``DataFrame.attrs["teacher"]``); the best fixed weight is picked on the
    low-quality test IDF1 itself (an oracle, favouring the baseline), and the same weight is used
    on clean scenes.
    """
    from .distill.loop import TrainConfig
    from .eval.fusion import best_fixed, semantic_example, semantic_speed
    from .eval.speed import count_flops, count_params
    from .paths import runs_dir
    from .teachers import semantic_teacher, teacher_banner
    from .train.semantic import SemanticDataConfig, fusion_experiment

    teacher, clip = semantic_teacher("auto")
    data = SemanticDataConfig(train_sequences=cfg.lowq_train_sequences, test_sequences=cfg.lowq_test_sequences,
                              num_frames=cfg.lowq_num_frames, seed=cfg.seed)
    budget = TrainConfig(epochs=cfg.lowq_epochs, steps_per_epoch=cfg.lowq_steps, patience=0,
                         warmup_steps=min(20, cfg.lowq_steps // 2), seed=cfg.seed)
    exp = fusion_experiment(models.mot_teacher, teacher, data, budget, cache_dir=runs_dir() / "semantic_cache")
    low, clean = exp.tables["low-quality"], exp.tables["clean"]
    best = best_fixed(low)
    t_ms, s_ms = semantic_speed(clip, exp.encoder, exp.frame)  # RN50 timing does not depend on its weights
    enc_params = count_params(exp.encoder) + count_params(exp.regulator)
    with torch.no_grad():
        enc_gflops = count_flops(exp.encoder, semantic_example(exp.encoder, exp.frame)[0]) / 1e9
        side = clip.preprocess_cfg.get("size", 224)
        side = side[0] if isinstance(side, (tuple, list)) else int(side)
        clip_gflops = count_flops(clip, torch.zeros(9, 3, side, side)) / 1e9  # the frame + 8 crops
    records = {}
    for split, table in (("low quality", low), ("clean", clean)):
        for name, label in (("no semantics", "no semantics"), (best, f"best fixed weight ({best[6:]}, oracle)"),
                            ("DSWR", "DSWR fusion (DCSD student)")):
            uses = name != "no semantics"
            records[f"{split}: {label}"] = {"HOTA": table.loc[name, "HOTA"], "IDF1": table.loc[name, "IDF1"],
                                            "AssA": table.loc[name, "AssA"], "fps": 1e3 / s_ms if uses else np.nan,
                                            "params": enc_params if uses else np.nan,
                                            "gflops": enc_gflops if uses else np.nan,
                                            "train_s": exp.train_seconds if uses else np.nan}
    records["CLIP RN50 image encoder (frame + 8 crops)"] = {"fps": 1e3 / t_ms, "params": count_params(clip),
                                                           "gflops": clip_gflops}
    out = _rows(records, "MOT low quality", "04-05")
    out.attrs["teacher"] = teacher_banner(teacher)
    return out


SECTION_FUNCTIONS: dict[str, Callable[[CapstoneConfig, Models], pd.DataFrame]] = {
    "mot": mot_section, "interleaved": interleaved_section, "sot": sot_section, "lowq": lowq_section}


def run_capstone(cfg: CapstoneConfig, models: Models | None = None, sections=SECTIONS,
                 on_section: Callable[[str, pd.DataFrame, float], None] | None = None) -> pd.DataFrame:
    """Run ``sections`` in order and stack their rows (index = method). ``attrs["seconds"]`` holds
    each section's wall time, ``attrs["teacher"]`` the semantic teacher's label."""
    from .runtime import progress, seed_everything

    unknown = sorted(set(sections) - set(SECTIONS))
    if unknown:
        raise ValueError(f"run_capstone: unknown section(s) {unknown}; expected some of {SECTIONS}")
    models = models or shipped_models()
    tables, seconds, attrs = [], {}, {}
    for name in progress(list(sections), desc="capstone"):
        seed_everything(cfg.seed)
        start = time.perf_counter()
        table = SECTION_FUNCTIONS[name](cfg, models)
        seconds[name] = time.perf_counter() - start
        attrs.update(table.attrs)
        tables.append(table)
        if on_section is not None:
            on_section(name, table, seconds[name])
    out = pd.concat(tables)
    out.attrs.update(attrs, seconds=seconds)
    return out
