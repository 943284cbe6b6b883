"""Room checks: is the phenomenon a distillation method exists for present in this world?

A distillation can only pass on what the teacher knows better than the student, in a place the
student's own training misses. Each check measures one such phenomenon from the
shipped models on held-out data, before any method is tuned against it:

====  ====================================================================  =============================
id    phenomenon                                                            pass when
====  ====================================================================  =============================
R1    MOT teacher-student gap on held-out clean scenes                      teacher HOTA >= student + 10,
                                                                            student >= 8x fewer params,
                                                                            >= 4x faster, its pipeline
                                                                            >= 30 FPS (one thread)
R3    real motion: replays of MOT15's TUD-Campus and TUD-Stadtmitte         teacher HOTA >= 45 on each,
                                                                            student below the teacher
R4    association needs appearance, on look-alike crossing scenes           IoU-only IDF1 >= 10 below
                                                                            IoU + teacher embeddings
====  ====================================================================  =============================

``kdtrack room`` prints the table and writes ``benchmarks/room.json``:
``{"R1": {"phenomenon", "value", "threshold", "pass", "detail"}, ...}``; ``pass`` is
``value >= threshold`` together with the side conditions listed in ``detail["conditions"]``.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from ..cli import add_command
from ..config import Config

if TYPE_CHECKING:  # the models and the tracker load when a check runs, so `kdtrack --help` stays quick
    from torch import nn

    from ..data.sequence import MOTSequence
    from ..track.mot_tracker import TrackerConfig

TUD_SEQUENCES = ("TUD-Campus", "TUD-Stadtmitte")


@dataclass
class RoomConfig(Config):
    """Held-out data and thresholds of the room checks (FULL by default; FAST for a smoke run).

    Attributes:
        test_sequences: held-out clean scenes of ``world`` for R1 (test-split seeds).
        crossing_sequences: held-out ``crossing`` scenes for R4.
        num_frames: frames per synthetic scene.
        world: the scene presets R1's scenes cycle through (:data:`~kdtrack_lite.data.mot_synth.WORLDS`).
        r1_gap: R1's least teacher-minus-student HOTA.
        r1_compression: R1's least parameter ratio teacher / student.
        r1_speedup: R1's least detector speed ratio student / teacher at one thread.
        r1_student_fps: R1's least frame rate of the student's whole pipeline (detector, decoding,
            association) at one thread, frames of ``width x height`` of the scenes.
        r3_teacher_hota: R3's least teacher HOTA on each replayed real sequence.
        r4_gap: R4's least IDF1 of (IoU + embeddings) minus IDF1 of IoU only.
    """

    test_sequences: int = 12
    crossing_sequences: int = 8
    num_frames: int = 150
    world: str = "mixed"
    r1_gap: float = 10.0
    r1_compression: float = 8.0
    r1_speedup: float = 4.0
    r1_student_fps: float = 30.0
    r3_teacher_hota: float = 45.0
    r4_gap: float = 10.0

    FAST: ClassVar[dict] = {"test_sequences": 2, "crossing_sequences": 1, "num_frames": 40}


def held_out_scenes(world: str, count: int, num_frames: int) -> list[MOTSequence]:
    """Test-split scenes ``0..count-1`` of ``world`` (never trained on: disjoint seed range)."""
    from ..data.mot_synth import SPLIT_SEED_BASE, generate_mot_sequence, world_scene

    base = SPLIT_SEED_BASE["test"]
    return [generate_mot_sequence(world_scene(world, i, num_frames=num_frames),
                                  seed=base + i, name=f"test-{i:02d}") for i in range(count)]


def crossing_scenes(count: int, num_frames: int) -> list[MOTSequence]:
    """Held-out look-alike crossing scenes (preset ``crossing``; seeds after the test split's)."""
    from ..data.mot_synth import SPLIT_SEED_BASE, MOTSceneConfig, generate_mot_sequence

    base = SPLIT_SEED_BASE["test"] + 5_000
    return [generate_mot_sequence(MOTSceneConfig.preset("crossing", num_frames=num_frames), seed=base + i,
                                  name=f"crossing-{i:02d}") for i in range(count)]


def tud_replays() -> list[MOTSequence]:
    """MOT15's TUD-Campus and TUD-Stadtmitte ground truth (shipped by motmetrics), replayed."""
    import motmetrics

    from ..data.replay import replay_mot_gt

    folder = Path(motmetrics.__file__).parent / "data"
    missing = [n for n in TUD_SEQUENCES if not (folder / n / "gt.txt").is_file()]
    if missing:
        raise FileNotFoundError(f"room check R3 needs motmetrics' MOT15 files; missing under {folder}: {missing}")
    return [replay_mot_gt(folder / n / "gt.txt", seed=0) for n in TUD_SEQUENCES]


def track_and_score(detector: nn.Module, sequences: list[MOTSequence], tracker_cfg: TrackerConfig | None = None,
                    use_embeddings: bool = True) -> dict[str, dict[str, float]]:
    """``{sequence or "COMBINED": {HOTA, DetA, AssA, MOTA, IDF1}}`` of detector + tracker."""
    from ..track.pipeline import MOTPipeline
    from .mot import evaluate_mot

    results = {s.name: MOTPipeline(detector, tracker_cfg, use_embeddings=use_embeddings).run(s.frames)
               for s in sequences}
    report = evaluate_mot({s.name: s.gt for s in sequences}, results,
                          seq_lengths={s.name: s.num_frames for s in sequences})
    cols = ["HOTA", "DetA", "AssA", "MOTA", "IDF1"]
    return {name: {c: round(float(v), 2) for c, v in row.items()} for name, row in report.table[cols].iterrows()}


def _row(phenomenon: str, value: float, threshold: float, conditions: dict[str, list[float]], detail: dict) -> dict:
    """One check; ``conditions`` = ``{name: [value, least value]}``, each must hold for a pass."""
    conditions = {k: [round(float(v), 2), t] for k, (v, t) in conditions.items()}
    passed = bool(value >= threshold and all(v >= t for v, t in conditions.values()))
    return {"phenomenon": phenomenon, "value": round(float(value), 2), "threshold": threshold, "pass": passed,
            "detail": {**detail, "conditions": conditions}}


def check_r1(teacher: nn.Module, student: nn.Module, cfg: RoomConfig, tracker_cfg: TrackerConfig | None = None) -> dict:
    """R1: HOTA gap on held-out clean scenes, parameter ratio, one-thread speed ratio and the student
    pipeline's frame rate (one run, one thread)."""
    import torch

    from .speed import compare_models

    scenes = held_out_scenes(cfg.world, cfg.test_sequences, cfg.num_frames)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        scores, pipeline_fps = {}, {}
        for name, model in (("teacher", teacher), ("student", student)):
            start = time.perf_counter()
            scores[name] = track_and_score(model, scenes, tracker_cfg)["COMBINED"]
            pipeline_fps[name] = sum(s.num_frames for s in scenes) / (time.perf_counter() - start)
        h, w = scenes[0].frames.shape[1:3]
        x, prior = torch.rand(1, 3, h, w), torch.rand(1, 1, h, w)
        speed = compare_models({"teacher": teacher, "student": student}, (x, x, prior), reference="teacher")
    finally:
        torch.set_num_threads(threads)
    compression = float(speed.loc["student", "compression"])
    speedup = float(speed.loc["student", "speedup"])
    gap = scores["teacher"]["HOTA"] - scores["student"]["HOTA"]
    return _row("MOT teacher-student gap (held-out clean scenes)", gap, cfg.r1_gap,
                {"compression": [compression, cfg.r1_compression], "speedup": [speedup, cfg.r1_speedup],
                 "student_fps": [pipeline_fps["student"], cfg.r1_student_fps]},
                {"scenes": len(scenes), "world": cfg.world, "frame_size": [w, h], "teacher": scores["teacher"],
                 "student": scores["student"], "compression": round(compression, 1), "speedup": round(speedup, 2),
                 "pipeline_fps": {k: round(v, 1) for k, v in pipeline_fps.items()}, "threads": 1})


def check_r3(teacher: nn.Module, student: nn.Module, cfg: RoomConfig, tracker_cfg: TrackerConfig | None = None) -> dict:
    """R3: teacher and student on the replayed real trajectories of MOT15's TUD sequences."""
    from ..data.sequence import MOTSequence

    replays = tud_replays()
    if cfg.num_frames < 150:  # FAST: the first frames only
        replays = [MOTSequence(s.name, s.frames[:cfg.num_frames], s.gt[s.gt[:, 0] <= cfg.num_frames], s.fps, {},
                               s.meta) for s in replays]
    teacher_scores = track_and_score(teacher, replays, tracker_cfg)
    student_scores = track_and_score(student, replays, tracker_cfg)
    per_seq = {s.name: {"teacher": teacher_scores[s.name]["HOTA"], "student": student_scores[s.name]["HOTA"]}
               for s in replays}
    worst = min(v["teacher"] for v in per_seq.values())
    return _row("real motion: MOT15 TUD replays, teacher HOTA on each", worst, cfg.r3_teacher_hota,
                {"student_margin": [min(v["teacher"] - v["student"] for v in per_seq.values()), 0.01]},
                {"hota": per_seq, "frames": {s.name: s.num_frames for s in replays}})


def check_r4(teacher: nn.Module, student: nn.Module, cfg: RoomConfig, tracker_cfg: TrackerConfig | None = None) -> dict:
    """R4: IDF1 with and without the teacher's appearance embeddings on look-alike crossing scenes
    (the student is not needed: the check asks whether the teacher's embeddings have anything to teach)."""
    scenes = crossing_scenes(cfg.crossing_sequences, cfg.num_frames)
    with_emb = track_and_score(teacher, scenes, tracker_cfg, use_embeddings=True)["COMBINED"]
    iou_only = track_and_score(teacher, scenes, tracker_cfg, use_embeddings=False)["COMBINED"]
    return _row("association needs appearance (look-alike crossings): IDF1 gain of embeddings",
                with_emb["IDF1"] - iou_only["IDF1"], cfg.r4_gap, {},
                {"scenes": len(scenes), "iou_only": iou_only, "iou_plus_embeddings": with_emb})


ROOM_CHECKS = {"R1": check_r1, "R3": check_r3, "R4": check_r4}
CHECKS = tuple(ROOM_CHECKS)
CONDITION_TEXT = {"compression": "student parameters, teacher / student",
                  "speedup": "student detector speed over the teacher's, one thread",
                  "student_fps": "student pipeline frames per second at 256x192, one thread",
                  "student_margin": "least teacher-minus-student HOTA over the replays (student below the teacher)"}


def run_room_checks(teacher: nn.Module, student: nn.Module, cfg: RoomConfig | None = None,
                    only: tuple[str, ...] = CHECKS, tracker_cfg: TrackerConfig | None = None) -> dict[str, dict]:
    """The room checks named in ``only`` on ``teacher``/``student`` -> ``{id: row}``."""
    cfg = cfg or RoomConfig.make()
    unknown = sorted(set(only) - set(CHECKS))
    if unknown:
        raise ValueError(f"--only: unknown check(s) {unknown}; known: {', '.join(CHECKS)}")
    teacher, student = teacher.eval(), student.eval()
    out: dict[str, dict] = {}
    for cid, check in ROOM_CHECKS.items():
        if cid not in only:
            continue
        start = time.perf_counter()
        out[cid] = check(teacher, student, cfg, tracker_cfg)
        out[cid]["detail"]["seconds"] = round(time.perf_counter() - start, 1)
    return out


def room_table(rows: dict[str, dict]) -> str:
    """Markdown table: id, phenomenon, value, threshold, pass."""
    lines = ["| id | phenomenon | value | threshold | pass |", "|:--|:--|--:|--:|:--|"]
    for cid, r in rows.items():
        lines.append(f"| {cid} | {r['phenomenon']} | {r['value']:.1f} | {r['threshold']:g} | "
                     f"{'yes' if r['pass'] else 'NO'} |")
    return "\n".join(lines)


def shipped_pair(teacher: str | None = None, student: str | None = None) -> tuple[nn.Module, nn.Module, dict]:
    """The MOT teacher and student checkpoints the room checks read (default: the shipped pair)."""
    from ..checkpoint import load_checkpoint
    from ..paths import display_path, samples_dir

    folder = samples_dir() / "checkpoints"
    paths = {"teacher": Path(teacher) if teacher else folder / "mot_teacher.pt",
             "student": Path(student) if student else folder / "mot_student.pt"}
    models = {}
    for role, path in paths.items():
        ckpt = load_checkpoint(path)
        if ckpt.builder != "centertrack":
            raise ValueError(f"--{role} {path}: expected a MOT (centertrack) checkpoint, found builder {ckpt.builder!r}")
        models[role] = ckpt.build().eval()
    return models["teacher"], models["student"], {k: display_path(v) for k, v in paths.items()}


@add_command
def _room(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("room", help="room checks: does the world hold each method's phenomenon?")
    p.add_argument("--fast", action="store_true", help="FAST profile: a smoke run on a few short scenes")
    p.add_argument("--only", default=",".join(CHECKS), help=f"comma list of checks (default: {','.join(CHECKS)})")
    p.add_argument("--teacher", help="MOT teacher checkpoint (default: the shipped one)")
    p.add_argument("--student", help="MOT student checkpoint (default: the shipped one)")
    p.add_argument("--out", type=Path, default=None,
                   help="JSON file to write (default: benchmarks/room.json in a checkout; FAST runs write nothing "
                        "unless --out is given)")

    def run(args: argparse.Namespace) -> None:
        if args.fast:
            os.environ["KDTRACK_FAST"] = "1"
        only = tuple(c.strip().upper() for c in args.only.split(",") if c.strip())
        teacher, student, paths = shipped_pair(args.teacher, args.student)
        cfg = RoomConfig.make("fast" if args.fast else "full")
        rows = run_room_checks(teacher, student, cfg, only)
        print(room_table(rows))
        command = "kdtrack room" + (" --fast" if args.fast else "") + (
            "" if set(only) == set(CHECKS) else f" --only {','.join(only)}")
        out, targets = args.out, None
        if out is None and not args.fast:
            from ..paths import repo_root

            root = repo_root()
            if root is not None:
                out, targets = root / "benchmarks" / "room.json", root / "benchmarks" / "targets.json"
        if out is not None:
            from ..fileio import write_text_atomic

            body: dict[str, Any] = dict(rows)
            body["_run"] = {"profile": "fast" if args.fast else "full", "models": paths, "command": command}
            write_text_atomic(out, json.dumps(body, indent=1) + "\n")
            print(f"wrote {out}")
        if targets is not None:
            from .targets import target_entry, update_targets

            entries = []
            for cid, r in rows.items():
                entries.append(target_entry(f"world.{cid}", f"room check {cid}: {r['phenomenon']}", r["value"],
                                            r["threshold"], ">=", 1, command))
                entries += [target_entry(f"world.{cid}.{name}", f"room check {cid}: {CONDITION_TEXT[name]}", v, t, ">=",
                                         1, command) for name, (v, t) in r["detail"]["conditions"].items()]
            update_targets(targets, entries)
            print(f"updated {targets}")

    p.set_defaults(func=run)
