"""Where does a teacher-student gap live? Swap detector output heads between the two models.

OUR DESIGN (a diagnostic, not from the AttTrack paper): an ablation asks which *loss* helps the
student; a head swap asks which of the teacher's *outputs* the student is missing. Each row runs
both CenterTrack detectors on the same frames and gives the tracker one model's outputs with
some heads (``logits_hm``, ``wh``, ``reg``, ``tracking``, ``embedding``) taken from the other.
A head whose swap moves HOTA a lot is what a distillation term must transfer; one that moves
nothing is not worth distilling. Rows with ``embeddings=False`` give the tracker no appearance
embeddings at all (IoU, motion and tracking offsets only).

``benchmarks/mot_gap_diagnosis.py`` runs :data:`DEFAULT_SWAPS` on the FULL test split.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pandas as pd
from torch import nn

from ..data.sequence import MOTSequence
from ..models.centertrack import HEADS
from ..track.mot_tracker import TrackerConfig
from ..track.pipeline import MOTPipeline
from .mot import evaluate_mot

METRICS = ("HOTA", "DetA", "AssA", "MOTA", "IDF1")


class HeadSwap(nn.Module):
    """``base``'s detector outputs with the heads named in ``heads`` replaced by ``donor``'s.

    Both models see the same ``(image, prev_image, prior_hm)``; output shapes must agree (same
    input size, same embedding width when ``"embedding"`` is swapped).
    """

    def __init__(self, base: nn.Module, donor: nn.Module, heads: Sequence[str]):
        super().__init__()
        unknown = sorted(set(heads) - set(HEADS))
        if unknown:
            raise ValueError(f"HeadSwap: unknown head(s) {unknown}; expected names from {HEADS}")
        self.base, self.donor, self.heads = base, donor, tuple(heads)

    def forward(self, image, prev_image=None, prior_hm=None):
        out = dict(self.base(image, prev_image, prior_hm))
        if self.heads:
            donor = self.donor(image, prev_image, prior_hm)
            for key in self.heads:
                if donor[key].shape != out[key].shape:
                    raise ValueError(f"HeadSwap: head {key!r} is {tuple(donor[key].shape)} in the donor but "
                                     f"{tuple(out[key].shape)} in the base model")
                out[key] = donor[key]
        return out


@dataclass(frozen=True)
class Swap:
    """One row: ``base`` ("teacher" or "student") with ``heads`` from the other model."""

    base: str
    heads: tuple[str, ...] = ()
    embeddings: bool = True


DEFAULT_SWAPS: dict[str, Swap] = {
    "teacher": Swap("teacher"),
    "teacher, no emb": Swap("teacher", embeddings=False),
    "student": Swap("student"),
    "student, no emb": Swap("student", embeddings=False),
    "student + teacher emb": Swap("student", ("embedding",)),
    "student + teacher hm": Swap("student", ("logits_hm",)),
    "student + teacher wh, reg": Swap("student", ("wh", "reg")),
    "student + teacher tracking": Swap("student", ("tracking",)),
    "student + teacher hm, wh, reg": Swap("student", ("logits_hm", "wh", "reg")),
    "teacher + student hm": Swap("teacher", ("logits_hm",)),
    "teacher + student wh, reg": Swap("teacher", ("wh", "reg")),
}


def head_swap_table(teacher: nn.Module, student: nn.Module, sequences: Sequence[MOTSequence],
                    tracker_cfg: TrackerConfig | None = None, swaps: Mapping[str, Swap] | None = None) -> pd.DataFrame:
    """Track ``sequences`` with every swap and score it (combined over the sequences).

    Args:
        teacher, student: CenterTrack detectors (put in eval mode).
        sequences: scenes with ground truth, e.g. the held-out test split.
        tracker_cfg: the tracker of every row (e.g. ``TrackerConfig()``, the default).
        swaps: ``{row name: Swap}`` (default :data:`DEFAULT_SWAPS`).

    Returns:
        One row per swap: HOTA, DetA, AssA, MOTA, IDF1 and ``HOTA vs student`` (the row's HOTA
        minus the plain ``Swap("student")``'s, NaN without such a row).
    """
    models = {"teacher": teacher.eval(), "student": student.eval()}
    swaps = DEFAULT_SWAPS if swaps is None else swaps
    rows = {}
    for name, swap in swaps.items():
        if swap.base not in models:
            raise ValueError(f"head_swap_table: row {name!r} has base {swap.base!r}; expected 'teacher' or 'student'")
        donor = models["student" if swap.base == "teacher" else "teacher"]
        model = HeadSwap(models[swap.base], donor, swap.heads)
        results = {seq.name: MOTPipeline(model, tracker_cfg, use_embeddings=swap.embeddings).run(
            seq.frames, desc=f"{name}: {seq.name}") for seq in sequences}
        report = evaluate_mot({s.name: s.gt for s in sequences}, results,
                              seq_lengths={s.name: s.num_frames for s in sequences})
        rows[name] = report.combined[list(METRICS)].astype(float)
    table = pd.DataFrame(rows).T
    plain = [n for n, s in swaps.items() if s == Swap("student")]
    table["HOTA vs student"] = table["HOTA"] - table.loc[plain[0], "HOTA"] if plain else float("nan")
    return table
