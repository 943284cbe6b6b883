"""A frame scrubber for notebooks: slider + toggles with ipywidgets, a static strip without.

``scrubber(frames)`` or ``scrubber(render_fn, n_frames, toggles={"boxes": True, "heatmap": False})``
where ``render_fn(i, **toggles) -> (H, W, 3) RGB frame``.

Widgets render only in a live Jupyter front-end. :func:`scrubber` falls back to a static strip of
evenly spaced frames drawn with matplotlib (which also shows on GitHub and in nbval runs) when
any of these holds (OUR DESIGN CHOICE, so a notebook never shows a dead widget):

* ``KDTRACK_NO_WIDGETS=1`` is set;
* ``ipywidgets`` cannot be imported;
* there is no IPython kernel (plain Python, a script, a test).

``mode="widget"`` builds the widget even without a kernel (what the tests do to check it).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence

import cv2
import matplotlib.pyplot as plt
import numpy as np

from .draw import as_rgb_uint8

NO_WIDGETS_ENV = "KDTRACK_NO_WIDGETS"


def widgets_available() -> bool:
    """True when an ipywidgets scrubber can render here (see the module docstring)."""
    if os.environ.get(NO_WIDGETS_ENV, "").strip().lower() in {"1", "true", "yes", "on"}:
        return False
    try:
        import ipywidgets  # noqa: F401
        from IPython import get_ipython
    except ImportError:
        return False
    ip = get_ipython()
    return ip is not None and getattr(ip, "kernel", None) is not None


def _renderer(frames_or_render_fn, n_frames: int | None) -> tuple[Callable[..., np.ndarray], int]:
    if callable(frames_or_render_fn):
        if n_frames is None or n_frames < 1:
            raise ValueError("scrubber(render_fn, n_frames): n_frames >= 1 is required with a render function")
        return frames_or_render_fn, int(n_frames)
    frames: Sequence = frames_or_render_fn
    if len(frames) == 0:
        raise ValueError("scrubber: no frames")
    n = len(frames) if n_frames is None else min(int(n_frames), len(frames))
    return (lambda i, **_: frames[i]), n


def static_strip(render: Callable[..., np.ndarray], n_frames: int, toggles: dict[str, bool] | None = None,
                 count: int = 6, width: float = 2.6):
    """Matplotlib figure with ``count`` evenly spaced frames, titled with their index."""
    idx = np.unique(np.linspace(0, n_frames - 1, min(count, n_frames)).round().astype(int))
    fig, axes = plt.subplots(1, len(idx), figsize=(width * len(idx), width), squeeze=False)
    for ax, i in zip(axes[0], idx):
        ax.imshow(as_rgb_uint8(render(int(i), **(toggles or {}))))
        ax.set_title(f"frame {i}", fontsize=9)
        ax.axis("off")
    fig.tight_layout()
    return fig


def _png(frame) -> bytes:
    ok, buf = cv2.imencode(".png", cv2.cvtColor(as_rgb_uint8(frame), cv2.COLOR_RGB2BGR))
    if not ok:
        raise RuntimeError("could not PNG-encode the frame")
    return buf.tobytes()


def build_widget(render: Callable[..., np.ndarray], n_frames: int, toggles: dict[str, bool] | None = None):
    """The ipywidgets scrubber: ``VBox([IntSlider, Checkbox..., Image])``; moving a control re-renders."""
    import ipywidgets as W

    slider = W.IntSlider(value=0, min=0, max=n_frames - 1, step=1, description="frame",
                         continuous_update=True, layout=W.Layout(width="60%"))
    play = W.Play(value=0, min=0, max=n_frames - 1, interval=100, description="play")
    W.jslink((play, "value"), (slider, "value"))
    boxes = {k: W.Checkbox(value=bool(v), description=k, indent=False) for k, v in (toggles or {}).items()}
    image = W.Image(format="png", value=_png(render(0, **{k: b.value for k, b in boxes.items()})))

    def update(_change=None):
        image.value = _png(render(slider.value, **{k: b.value for k, b in boxes.items()}))

    slider.observe(update, names="value")
    for b in boxes.values():
        b.observe(update, names="value")
    box = W.VBox([W.HBox([play, slider]), W.HBox(list(boxes.values())), image])
    box.slider, box.toggles, box.image = slider, boxes, image  # handles for tests and callers
    return box


def scrubber(frames_or_render_fn, n_frames: int | None = None, toggles: dict[str, bool] | None = None,
             mode: str = "auto", strip_count: int = 6):
    """Scrub through a sequence.

    Args:
        frames_or_render_fn: a sequence of ``(H, W, 3)`` frames, or ``render_fn(i, **toggles)``.
        n_frames: number of frames (required with a render function).
        toggles: ``{name: initial bool}`` checkboxes passed to ``render_fn`` as keyword arguments.
        mode: ``"auto"`` (widget where it can render, else strip), ``"widget"`` or ``"static"``.
        strip_count: frames in the static strip.

    Returns:
        The ipywidgets ``VBox`` (display it, or leave it last in a cell) or a matplotlib Figure.
    """
    if mode not in {"auto", "widget", "static"}:
        raise ValueError(f"mode must be 'auto', 'widget' or 'static', got {mode!r}")
    render, n = _renderer(frames_or_render_fn, n_frames)
    if mode == "widget" or (mode == "auto" and widgets_available()):
        return build_widget(render, n, toggles)
    return static_strip(render, n, toggles, count=strip_count)
