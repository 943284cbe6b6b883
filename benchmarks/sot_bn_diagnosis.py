"""Why the SiamFC teacher is no better than its 150x smaller student (issue 5): a BatchNorm look.

Measured on the shipped checkpoints, VALIDATION data only (the table in RESULTS.md, "SOT diagnosis"):

1. balanced logistic loss on 8 batches of 16 training pairs, the model in eval mode (BN running
   statistics, as when tracking) and in train mode (BN batch statistics, as when training);
2. the same loss with *branch-specific* BN statistics: running statistics re-estimated (a
   cumulative average over ``--calib-batches`` batches of training pairs) once on template crops
   only and once on search crops only, each branch normalised with its own;
3. how often the response map's argmax lies within one stride (8 px) of the true target centre on
   validation pairs without photometric augmentation, shared vs branch-specific statistics;
4. success AUC of the full tracker on the first ``--val-sequences`` validation sequences, both ways.

    OMP_WAIT_POLICY=PASSIVE PYTHONPATH=. python benchmarks/sot_bn_diagnosis.py --threads 2
"""
from __future__ import annotations

import argparse
import copy
import json

import torch
from torch import nn

from kdtrack_lite.checkpoint import load_checkpoint
from kdtrack_lite.eval.sot_protocol import evaluate_siamfc
from kdtrack_lite.models.siamfc import SiamFCLoss
from kdtrack_lite.train.sot import SOTDataConfig, make_sot_split, siam_pair_config, siamfc_forward, sot_loader


class BranchStats(nn.Module):
    """A SiamFC whose template and search crops are normalised by two different BN statistics."""

    def __init__(self, template_model: nn.Module, search_model: nn.Module):
        super().__init__()
        self.template_model, self.search_model, self.cfg = template_model, search_model, template_model.cfg

    def features(self, images: torch.Tensor) -> torch.Tensor:
        branch = self.template_model if images.shape[-1] == self.cfg.template_size else self.search_model
        return branch.features(images)

    def response(self, z_feat: torch.Tensor, x_feat: torch.Tensor) -> torch.Tensor:
        return self.template_model.response(z_feat, x_feat)

    def forward(self, template: torch.Tensor, search: torch.Tensor) -> torch.Tensor:
        return self.response(self.features(template), self.features(search))


def recalibrated(model: nn.Module, batches: list[dict], key: str) -> nn.Module:
    """A copy of ``model`` whose BN running statistics are the cumulative average over ``batch[key]``."""
    out = copy.deepcopy(model)
    for module in out.modules():
        if isinstance(module, nn.BatchNorm2d):
            module.reset_running_stats()
            module.momentum = None  # cumulative moving average
    out.train()
    with torch.no_grad():
        for batch in batches:
            out.features(batch[key])
    return out.eval()


def pair_loss(model: nn.Module, batches: list[dict], train_mode: bool = False) -> float:
    model = copy.deepcopy(model).train(train_mode)
    loss = SiamFCLoss(stride=model.cfg.stride)
    with torch.no_grad():
        return sum(float(loss(siamfc_forward(model, b), b)["loss_task"]) for b in batches) / len(batches)


def within_one_stride(model: nn.Module, batches: list[dict]) -> float:
    hits = []
    with torch.no_grad():
        for b in batches:
            r = model(b["template"], b["search"])[:, 0]
            size = r.shape[-1]
            idx = r.flatten(1).argmax(1)
            centre = (size - 1) / 2
            dx = (idx % size - centre) * model.cfg.stride - b["target_offset"][:, 0]
            dy = (idx // size - centre) * model.cfg.stride - b["target_offset"][:, 1]
            hits.append(torch.hypot(dx, dy) <= model.cfg.stride)
    return float(torch.cat(hits).float().mean())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", nargs="+", default=["sot_teacher", "sot_student"])
    ap.add_argument("--val-sequences", type=int, default=36)
    ap.add_argument("--calib-batches", type=int, default=20)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    cfg = SOTDataConfig.make(train_sequences=60, val_sequences=args.val_sequences)
    train, val = make_sot_split("train", cfg), make_sot_split("val", cfg)
    rows = {}
    for name in args.models:
        model = load_checkpoint(f"data_samples/checkpoints/{name}.pt").build().eval()
        pairs = lambda seqs, seed, **kw: [b for _, b in zip(range(args.calib_batches), sot_loader(  # noqa: E731
            seqs, 16, seed=seed, pair_cfg=siam_pair_config(model.cfg, seed, **kw)))]
        calib, train_pairs = pairs(train, 7), pairs(train, 123)[:8]
        val_pairs = pairs(val, 9, photometric_prob=0.0, blur_prob=0.0)
        branch = BranchStats(recalibrated(model, calib, "template"), recalibrated(model, calib, "search")).eval()
        rows[name] = {
            "loss eval-mode BN": pair_loss(model, train_pairs),
            "loss train-mode BN": pair_loss(model, train_pairs, train_mode=True),
            "loss branch BN": pair_loss(branch, train_pairs),
            "val pairs within 8 px, shared BN": within_one_stride(model, val_pairs),
            "val pairs within 8 px, branch BN": within_one_stride(branch, val_pairs),
            "val AUC shared BN": float(evaluate_siamfc(model, val).overall.loc["ALL", "AUC"]),
            "val AUC branch BN": float(evaluate_siamfc(branch, val).overall.loc["ALL", "AUC"]),
        }
        print(json.dumps({name: {k: round(v, 4) for k, v in rows[name].items()}}), flush=True)


if __name__ == "__main__":
    main()
