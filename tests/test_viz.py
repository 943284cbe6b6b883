"""Visualisation: colours, drawing, overlays, plots, video round trips, scrubber (widget + fallback)."""

from __future__ import annotations

import colorsys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

from kdtrack_lite.eval.sot import evaluate_sot
from kdtrack_lite.viz.draw import draw_tracks, id_color, side_by_side
from kdtrack_lite.viz.overlay import overlay_attention, overlay_heatmap
from kdtrack_lite.viz.plots import (
    plot_attribute_bars, plot_attribute_radar, plot_metric_bars, plot_precision, plot_speed_accuracy, plot_success,
)
from kdtrack_lite.viz.video import count_video_frames, show_video, write_gif, write_mp4
from kdtrack_lite.viz.widgets import scrubber


def _frames(n=5, h=40, w=56):
    return [np.full((h, w, 3), 20 * i, np.uint8) for i in range(n)]


def test_id_color_is_stable_and_distinct():
    assert id_color(7) == id_color(7) == id_color(np.int64(7))
    hues = [colorsys.rgb_to_hsv(*(c / 255 for c in id_color(i)))[0] for i in range(1, 11)]
    gaps = np.abs(np.diff(hues))
    assert np.minimum(gaps, 1 - gaps).min() > 0.05  # consecutive ids far apart in hue
    assert len(set(id_color(i) for i in range(50))) == 50


def test_draw_tracks_uses_the_id_colour_and_leaves_input_alone():
    frame = np.zeros((60, 80, 3), np.uint8)
    out = draw_tracks(frame, [3], [[10, 20, 30, 25]], show_labels=False, thickness=1)
    assert frame.sum() == 0
    assert tuple(out[20, 25]) == id_color(3)  # top edge pixel
    assert tuple(out[30, 25]) == (0, 0, 0)  # inside stays empty
    with pytest.raises(ValueError, match="box 0 is NaN"):
        draw_tracks(frame, [1], [[np.nan, 0, 1, 1]])
    with pytest.raises(ValueError, match="same length"):
        draw_tracks(frame, [1, 2], [[0, 0, 1, 1]])
    assert draw_tracks(frame, [1], [[0, 0, 5, 5]], scores=[0.9]).shape == frame.shape


def test_side_by_side_shapes():
    a, b = np.zeros((40, 50, 3), np.uint8), np.zeros((20, 30, 3), np.uint8)
    out = side_by_side([a, b], ["teacher", "student"], gap=4, title_height=20)
    assert out.shape == (60, 50 + 4 + 60, 3)
    with pytest.raises(ValueError, match="2 frames but 1 titles"):
        side_by_side([a, b], ["x"])


def test_overlay_heatmap_resizes_and_blends():
    frame = np.zeros((64, 64, 3), np.uint8)
    hm = np.zeros((16, 16))
    hm[0, 0] = 1.0
    out = overlay_heatmap(frame, hm, alpha=1.0, cmap="gray")
    assert out.shape == (64, 64, 3)
    assert out[0, 0].mean() > 200 and out[63, 63].mean() < 5  # peak stays in its corner
    assert (overlay_heatmap(frame, hm, alpha=0.0) == frame).all()
    assert overlay_attention(frame, np.random.default_rng(0).random((7, 9))).shape == (64, 64, 3)
    with pytest.raises(ValueError, match="2-D"):
        overlay_heatmap(frame, np.zeros((2, 3, 4)))


def test_mp4_and_gif_round_trip(tmp_path):
    frames = _frames(6)
    mp4 = write_mp4(frames, tmp_path / "seq.mp4", fps=5)
    assert count_video_frames(mp4) == 6
    gif = write_gif(frames, tmp_path / "seq.gif", fps=5)
    from PIL import Image

    with Image.open(gif) as im:
        assert im.n_frames == 6 and im.size == (56, 40)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["seq.gif", "seq.mp4"]  # no temp files left
    assert "data:video/mp4;base64" in show_video(mp4).data
    assert "data:image/gif;base64" in show_video(gif, width=100).data
    with pytest.raises(ValueError, match="same size"):
        write_mp4([np.zeros((4, 4, 3), np.uint8), np.zeros((5, 4, 3), np.uint8)], tmp_path / "bad.mp4")
    assert not (tmp_path / "bad.mp4").exists()


def test_scrubber_fallback_and_widget(monkeypatch):
    frames = _frames(10)
    monkeypatch.setenv("KDTRACK_NO_WIDGETS", "1")
    fig = scrubber(frames)  # auto -> static strip
    assert isinstance(fig, plt.Figure) and len(fig.axes) == 6
    plt.close(fig)
    calls = []

    def render(i, boxes=True):
        calls.append((i, boxes))
        return frames[i]

    w = scrubber(render, n_frames=10, toggles={"boxes": True}, mode="widget")
    first = w.image.value
    w.slider.value = 7
    assert calls[-1] == (7, True) and w.image.value != first
    w.toggles["boxes"].value = False
    assert calls[-1] == (7, False)
    with pytest.raises(ValueError, match="n_frames"):
        scrubber(render)


def test_plots_draw_what_they_are_given():
    gt = np.array([[0, 0, 10, 10]] * 4, float)
    good = evaluate_sot({"a": gt + 1}, {"a": gt}, {"a": {"OCC": np.array([1, 0, 1, 0], bool), "FM": True}})
    bad = evaluate_sot({"a": gt + 4}, {"a": gt}, {"a": {"OCC": np.array([1, 0, 1, 0], bool), "FM": True}})
    ax = plot_success({"distilled": good, "student": bad})
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels[0].startswith("distilled [") and f"{good.overall.loc['ALL', 'AUC'] / 100:.3f}" in labels[0]
    ax = plot_precision({"distilled": good, "student": bad})
    assert len(ax.lines) == 3  # two curves + the 20 px marker
    assert len(plot_attribute_radar({"d": good, "s": bad}).lines) == 2
    assert len(plot_attribute_bars({"d": good, "s": bad}).patches) == 4
    df = pd.DataFrame({"fps": [30.0, 250.0], "AUC": [60.0, 55.0], "params": [8e6, 1e6]}, index=["teacher", "student"])
    ax = plot_speed_accuracy(df)
    assert [tuple(c.get_offsets()[0]) for c in ax.collections] == [(30.0, 60.0), (250.0, 55.0)]
    assert [t.get_text() for t in ax.texts] == ["teacher", "student"]
    ax = plot_speed_accuracy(df.assign(params=np.nan), legend=True)  # unknown sizes: one marker size
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["teacher", "student"] and not ax.texts
    ax = plot_metric_bars({"a": pd.Series({"HOTA": 50.0, "MOTA": 60.0, "IDF1": 55.0})})
    assert [p.get_height() for p in ax.patches] == [50.0, 60.0, 55.0]
    plt.close("all")
