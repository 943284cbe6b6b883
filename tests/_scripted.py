"""Hand-made CenterTrack detector outputs for tracker tests (shared by the pipeline tests)."""

import numpy as np
import torch

from kdtrack_lite.data.heatmap import render_heatmap


def scripted_outputs(boxes_xyxy, H, W, S, tracking_in_px=None, peak=1.0):
    """Detector outputs ``(1, C, H/S, W/S)`` that decode to ``boxes_xyxy`` (score ~``peak``), with
    box ``i`` carrying embedding one-hot ``i`` and, when given, tracking offset ``tracking_in_px[i]``
    (input pixels; zero motion otherwise)."""
    h, w = H // S, W // S
    out = {k: torch.zeros(1, c, h, w) for k, c in {"wh": 2, "reg": 2, "tracking": 2, "embedding": 4}.items()}
    for i, (x1, y1, x2, y2) in enumerate(boxes_xyxy):
        cx, cy = (x1 + x2) / 2 / S, (y1 + y2) / 2 / S
        ix, iy = int(cx), int(cy)
        out["wh"][0, :, iy, ix] = torch.tensor([x2 - x1, y2 - y1])
        out["reg"][0, :, iy, ix] = torch.tensor([cx - ix, cy - iy])
        if tracking_in_px is not None:
            out["tracking"][0, :, iy, ix] = torch.tensor(tracking_in_px[i]) / S + torch.tensor([cx - ix, cy - iy])
        out["embedding"][0, i, iy, ix] = 1.0
    p = (torch.from_numpy(render_heatmap(np.array(boxes_xyxy), H, W, stride=S)) * peak).clamp(1e-4, 1 - 1e-4)
    out["logits_hm"] = torch.log(p / (1 - p))[None, None]
    return out
