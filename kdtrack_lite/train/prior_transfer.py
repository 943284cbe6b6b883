"""Training a student to use the teacher's predictions as its prior (AttTrack, component 3).

PAPER FACT (AttTrack): the teacher's updated predictions are used as prior
knowledge for the student.

OUR DESIGN CHOICES:

* At inference the prior is CenterTrack's prior heatmap rendered from the teacher's last tracks,
  moved forward by the Kalman model (:mod:`kdtrack_lite.track.interleaved`). To train for that
  input, :class:`TeacherPriorPairs` renders the prior of a training pair from the **teacher's own
  tracks** on the training scenes (run once, offline) instead of the ground truth, taken
  ``a ~ U{0, ..., max_staleness}`` frames *before* the pair's previous frame and moved forward by
  the track's last frame-to-frame displacement (constant velocity, like the Kalman prediction),
  so the student sees stale, propagated, imperfect teacher priors. CenterTrack's training
  disturbances (jitter, dropped peaks, false peaks; :class:`~kdtrack_lite.data.datasets.PairConfig`)
  are applied on top.
* The control is the same fine-tuning, same budget, with CenterTrack's noisy ground-truth priors
  (``prior="gt"``), and both start from the same shipped student.
* Validation (early stopping, best weights) scores the interleaved pipeline at ``FixedSchedule(k)``
  with teacher priors on the validation scenes -- the use the student is trained for.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader

from ..boxes import tlwh_to_xyxy
from ..data.datasets import CenterTrackPairs, PairConfig
from ..data.sequence import MOTSequence
from ..distill.base import Distiller
from ..distill.loop import History, TrainConfig, fit
from ..eval.interleaved import Variant, evaluate_variants
from ..eval.mot_protocol import track_sequences
from ..models.centertrack import build_centertrack
from ..models.centertrack_loss import CenterTrackLoss
from ..track.interleaved import InterleavedConfig
from ..track.schedules import FixedSchedule
from .mot import MOTDataConfig, detector_forward, make_mot_split

PRIORS = ("teacher", "gt")


class TeacherPriorPairs(CenterTrackPairs):
    """CenterTrack pairs whose prior comes from teacher tracks (see the module docstring).

    Args:
        sequences: training sequences.
        teacher_rows: ``{sequence name: (N, 10)}`` MOTChallenge rows of the teacher's tracker on
            each sequence (:func:`kdtrack_lite.eval.mot_protocol.track_sequences`).
        cfg: :class:`PairConfig` (its disturbances are applied to the teacher boxes).
        max_staleness: largest age ``a`` (frames) of the teacher boxes before propagation.
        min_score: teacher tracks below this score are not rendered (the inference rule,
            ``TrackerConfig.prior_min_score``).
    """

    def __init__(self, sequences: list[MOTSequence], teacher_rows: dict[str, np.ndarray],
                 cfg: PairConfig | None = None, max_staleness: int = 3, min_score: float = 0.5):
        super().__init__(sequences, cfg)
        missing = [s.name for s in self.sequences if s.name not in teacher_rows]
        if missing:
            raise ValueError(f"TeacherPriorPairs: teacher_rows has no rows for sequence(s) {missing}")
        if max_staleness < 0:
            raise ValueError(f"TeacherPriorPairs: max_staleness must be >= 0, got {max_staleness}")
        self.max_staleness, self.min_score = max_staleness, min_score
        self._by_frame = []  # per sequence: {frame: {id: box_xyxy (4,)}}
        for seq in self.sequences:
            rows = np.asarray(teacher_rows[seq.name], np.float64).reshape(-1, 10)
            rows = rows[rows[:, 6] >= min_score]
            table: dict[int, dict[int, np.ndarray]] = {}
            for r, box in zip(rows, tlwh_to_xyxy(rows[:, 2:6])):
                table.setdefault(int(r[0]), {})[int(r[1])] = box
            self._by_frame.append(table)

    def prior_boxes(self, seq_index: int, prev_frame: int, prev_xyxy: np.ndarray,
                    rng: np.random.Generator) -> np.ndarray:
        """Teacher boxes of frame ``s = prev_frame - a`` moved ``a`` frames forward ``(n, 4)``."""
        table = self._by_frame[seq_index]
        src = max(1, prev_frame - int(rng.integers(0, self.max_staleness + 1)))
        now, before = table.get(src, {}), table.get(src - 1, {})
        steps = prev_frame - src
        boxes = [box + steps * (box - before[i]) if i in before else box for i, box in now.items()]
        return np.array(boxes, np.float64).reshape(-1, 4)


def finetune_prior_student(student: nn.Module, teacher: nn.Module, prior: str = "teacher",
                           data_cfg: MOTDataConfig | None = None, train_cfg: TrainConfig | None = None,
                           max_staleness: int = 3, validate_k: int = 4,
                           train_sequences: list[MOTSequence] | None = None,
                           val_sequences: list[MOTSequence] | None = None,
                           teacher_rows: dict[str, np.ndarray] | None = None,
                           checkpoint_path: str | Path | None = None) -> tuple[nn.Module, History]:
    """Fine-tune a copy of ``student`` with teacher-track priors (``"teacher"``) or noisy GT priors (``"gt"``).

    Args:
        student: the detector to start from (not modified).
        teacher: the teacher detector (makes the training priors and runs in validation).
        prior: ``"teacher"`` or ``"gt"``.
        data_cfg, train_cfg: splits and budget (use one ``train_cfg`` for every compared variant).
        max_staleness: see :class:`TeacherPriorPairs`.
        validate_k: the fixed schedule validated on.
        teacher_rows: the teacher's tracks on the training sequences, if already computed.

    Returns:
        ``(fine-tuned student, History)``, trained and returned on the student's device (the teacher
        must be there too: validation runs both in one interleaved pipeline).
    """
    if prior not in PRIORS:
        raise ValueError(f"finetune_prior_student: prior must be one of {PRIORS}, got {prior!r}")
    data_cfg = data_cfg or MOTDataConfig.make()
    train_cfg = train_cfg or TrainConfig.make()
    device = next(student.parameters()).device
    torch.manual_seed(train_cfg.seed)
    model = build_centertrack(student.cfg)
    model.load_state_dict(student.state_dict())
    train_seqs = train_sequences if train_sequences is not None else make_mot_split("train", data_cfg)
    val_seqs = val_sequences if val_sequences is not None else make_mot_split("val", data_cfg)
    pair_cfg = PairConfig(seed=train_cfg.seed)
    if prior == "teacher":
        rows = teacher_rows if teacher_rows is not None else track_sequences(teacher, train_seqs)
        dataset = TeacherPriorPairs(train_seqs, rows, pair_cfg, max_staleness)
    else:
        dataset = CenterTrackPairs(train_seqs, pair_cfg)
    loader = DataLoader(dataset, batch_size=data_cfg.batch_size, shuffle=True, drop_last=True,
                        generator=torch.Generator().manual_seed(train_cfg.seed))
    task = CenterTrackLoss(embedding_dim=model.cfg.embedding_dim, seed=train_cfg.seed)
    distiller = Distiller(model, task, forward=detector_forward)

    def validate(candidate: nn.Module) -> float:
        variant = Variant(FixedSchedule(validate_k), InterleavedConfig(prior_source="teacher"))
        res = evaluate_variants(teacher, candidate, val_seqs, {"val": variant})
        return float(res.table.loc["val", "HOTA"])

    history = fit(distiller, loader, train_cfg, validate=validate, maximize=True, checkpoint_path=checkpoint_path,
                  desc=f"student with {prior} priors",
                  checkpoint_extra={"role": f"student-{prior}-prior", "data_config": data_cfg.to_dict(),
                                    "max_staleness": max_staleness, "validate_k": validate_k},
                  device=device)
    model.eval()
    return model, history
