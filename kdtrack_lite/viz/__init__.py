"""Visualisation: boxes and ids, overlays, the field's plots, video/GIF export, a frame scrubber.

Frames are ``(H, W, 3)`` uint8 RGB throughout.
"""

from .draw import draw_tracks, id_color, side_by_side
from .overlay import overlay_attention, overlay_heatmap
from .plots import (
    plot_attribute_bars, plot_attribute_radar, plot_metric_bars, plot_precision, plot_speed_accuracy, plot_success,
)
from .video import show_video, write_gif, write_mp4
from .widgets import scrubber

__all__ = ["draw_tracks", "id_color", "side_by_side", "overlay_attention", "overlay_heatmap",
           "plot_attribute_bars", "plot_attribute_radar", "plot_metric_bars", "plot_precision",
           "plot_speed_accuracy", "plot_success", "show_video", "write_gif", "write_mp4", "scrubber"]
