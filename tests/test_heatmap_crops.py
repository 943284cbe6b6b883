import math

import numpy as np
import pytest

from kdtrack_lite.data.crops import context_size, crop_and_resize
from kdtrack_lite.data.heatmap import draw_gaussian, gaussian_kernel, gaussian_radius, render_heatmap


def test_gaussian_radius_keeps_iou_at_min_overlap():
    # a box shifted by r in both corners (case 3 of the CornerNet rule) should be near IoU 0.7
    r = gaussian_radius(40, 20, 0.7)
    assert 1 < r < 20
    assert gaussian_radius(80, 40, 0.7) == pytest.approx(2 * r, rel=1e-6)  # linear in size


def test_kernel_peak_and_sigma():
    k = gaussian_kernel(3)
    assert k.shape == (7, 7) and k[3, 3] == 1.0
    sigma = 7 / 6
    assert k[3, 4] == pytest.approx(math.exp(-1 / (2 * sigma**2)), rel=1e-6)


def test_draw_gaussian_at_border_and_max_merge():
    hm = np.zeros((10, 10), np.float32)
    draw_gaussian(hm, (0, 0), 2)
    assert hm[0, 0] == 1.0 and hm[0, 2] > 0 and hm[5, 5] == 0
    draw_gaussian(hm, (1, 0), 2, peak=0.5)
    assert hm[0, 0] == 1.0  # max, not sum
    draw_gaussian(hm, (20, 20), 2)  # outside: nothing
    assert hm.max() == 1.0


def test_render_heatmap_peaks_at_box_centres():
    boxes = np.array([[8, 8, 24, 40], [40, 20, 56, 52]], np.float32)
    hm = render_heatmap(boxes, 64, 64, stride=4)
    assert hm.shape == (16, 16)
    assert hm[6, 4] == 1.0 and hm[9, 12] == 1.0


def test_crop_is_centred_and_scaled():
    img = np.zeros((100, 100, 3), np.float32)
    img[45:55, 45:55] = 1.0  # a 10x10 square centred at (49.5, 49.5)
    crop = crop_and_resize(img, (49.5, 49.5), 20, 40, fill=np.zeros(3))
    ys, xs = np.nonzero(crop[..., 0] > 0.5)
    assert abs(xs.mean() - 19.5) < 0.6 and abs(ys.mean() - 19.5) < 0.6
    assert 18 <= xs.max() - xs.min() + 1 <= 22  # 10 px at scale 2


def test_crop_outside_frame_uses_fill():
    img = np.full((20, 20, 3), 7, np.uint8)
    crop = crop_and_resize(img, (-50, -50), 10, 8, fill=np.array([1, 2, 3]))
    assert (crop[..., 0] == 1).all() and crop.dtype == np.uint8
    assert context_size(10, 10) == pytest.approx(20.0)
