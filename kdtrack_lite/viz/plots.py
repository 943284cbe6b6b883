"""The field's standard figures: success/precision plots (OTB/LaSOT), per-attribute radar and bar
charts, a speed-accuracy scatter and grouped metric bars (MOTChallenge-style tables as bars).

Every function draws on ``ax`` (a new figure when ``None``) and returns the Axes, so notebooks can
compose them. Legends follow the OTB convention: ``name [score]``, sorted best first.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from ..eval.sot import ALL, PRECISION_AT_PX, PRECISION_THRESHOLDS, SUCCESS_THRESHOLDS


def _ax(ax, polar: bool = False, figsize=(5, 4)):
    if ax is not None:
        return ax
    fig = plt.figure(figsize=figsize)
    return fig.add_subplot(111, polar=polar)


def _curve(item, key: str, default_x: np.ndarray):
    """(x, y) from a SOTReport, a (x, y) pair or a bare y array."""
    if hasattr(item, "curves"):
        return default_x, np.asarray(item.curves[ALL][key])
    if isinstance(item, tuple) and len(item) == 2:
        return np.asarray(item[0]), np.asarray(item[1])
    return default_x, np.asarray(item)


def plot_success(curves: dict, ax=None, title: str = "Success plot"):
    """Success rate vs overlap threshold; legend ``name [AUC]``.

    Args:
        curves: ``{name: SOTReport | (thresholds, rates) | rates (21,)}``.
    """
    ax = _ax(ax)
    items = [(n, *_curve(c, "success", SUCCESS_THRESHOLDS)) for n, c in curves.items()]
    for n, x, y in sorted(items, key=lambda t: -np.mean(t[2])):
        ax.plot(x, y, lw=2, label=f"{n} [{np.mean(y):.3f}]")
    ax.set(xlabel="Overlap threshold", ylabel="Success rate", title=title, xlim=(0, 1), ylim=(0, 1.02))
    ax.grid(alpha=0.3)
    ax.legend(loc="lower left", fontsize=8)
    return ax


def plot_precision(curves: dict, ax=None, title: str = "Precision plot", normalized: bool = False):
    """Precision vs centre-error threshold; legend ``name [P@20]`` (or normalised precision AUC).

    Args:
        curves: ``{name: SOTReport | (thresholds, rates) | rates (51,)}``.
        normalized: plot the LaSOT normalised-precision curves instead (x in [0, 0.5]).
    """
    ax = _ax(ax)
    key = "norm_precision" if normalized else "precision"
    default_x = np.linspace(0, 0.5, 51) if normalized else PRECISION_THRESHOLDS
    items = []
    for n, c in curves.items():
        x, y = _curve(c, key, default_x)
        score = float(np.mean(y)) if normalized else float(np.interp(PRECISION_AT_PX, x, y))
        items.append((n, x, y, score))
    for n, x, y, s in sorted(items, key=lambda t: -t[3]):
        ax.plot(x, y, lw=2, label=f"{n} [{s:.3f}]")
    if not normalized:
        ax.axvline(PRECISION_AT_PX, color="gray", ls=":", lw=1)
    ax.set(xlabel="Normalised location error" if normalized else "Location error threshold (px)",
           ylabel="Precision", title=title, ylim=(0, 1.02))
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right", fontsize=8)
    return ax


def _attr_table(tables: dict, metric: str) -> pd.DataFrame:
    """``{tracker: per_attribute DataFrame | SOTReport}`` -> DataFrame (attributes x trackers)."""
    cols = {}
    for n, t in tables.items():
        t = t.per_attribute if hasattr(t, "per_attribute") else t
        if metric not in t:
            raise ValueError(f"{n}: no column {metric!r} in the attribute table (has {list(t.columns)})")
        cols[n] = t[metric]
    df = pd.DataFrame(cols)
    if df.empty:
        raise ValueError("no attribute rows to plot")
    return df


def plot_attribute_radar(tables: dict, metric: str = "AUC", ax=None, title: str | None = None):
    """Radar chart, one axis per attribute, one polygon per tracker (e.g. student vs distilled)."""
    df = _attr_table(tables, metric)
    ax = _ax(ax, polar=True, figsize=(5, 5))
    angles = np.linspace(0, 2 * np.pi, len(df), endpoint=False)
    closed = np.concatenate([angles, angles[:1]])
    for n in df.columns:
        v = df[n].to_numpy(float)
        ax.plot(closed, np.concatenate([v, v[:1]]), lw=2, label=n)
        ax.fill(closed, np.concatenate([v, v[:1]]), alpha=0.1)
    ax.set_xticks(angles)
    ax.set_xticklabels(df.index)
    ax.set_title(title or f"{metric} per attribute")
    ax.legend(loc="upper right", bbox_to_anchor=(1.3, 1.1), fontsize=8)
    return ax


def plot_attribute_bars(tables: dict, metric: str = "AUC", ax=None, title: str | None = None):
    """Grouped bars: attributes on x, one bar per tracker."""
    df = _attr_table(tables, metric)
    ax = _ax(ax, figsize=(max(5, 0.9 * len(df) * max(1, len(df.columns) / 2)), 4))
    df.plot.bar(ax=ax, rot=0, width=0.8)
    ax.set(ylabel=metric, title=title or f"{metric} per attribute")
    ax.grid(axis="y", alpha=0.3)
    return ax


def plot_speed_accuracy(points: pd.DataFrame | dict, accuracy: str = "AUC", fps: str = "fps",
                        size: str | None = "params", ax=None, logx: bool = True, title: str | None = None,
                        legend: bool = False):
    """Scatter of speed (x, FPS) against accuracy (y); marker area grows with ``size`` (e.g. params).

    Args:
        points: DataFrame indexed by model name with columns ``fps`` and ``accuracy``
            (``size`` optional), or ``{name: (fps, accuracy)}``.
        legend: name the points in a legend below the axes instead of next to each point
            (for many points close together).
    """
    if isinstance(points, dict):
        points = pd.DataFrame({n: {fps: v[0], accuracy: v[1]} for n, v in points.items()}).T
        size = None
    for c in (fps, accuracy):
        if c not in points:
            raise ValueError(f"plot_speed_accuracy: no column {c!r} (has {list(points.columns)})")
    ax = _ax(ax)
    s = 60.0
    if size is not None and size in points:
        v = np.nan_to_num(points[size].to_numpy(float), nan=0.0)  # unknown size: the smallest marker
        if v.max() > 0:
            s = 40 + 400 * np.sqrt(v / v.max())
    sizes = np.broadcast_to(s, (len(points),))
    for i, (n, row) in enumerate(points.iterrows()):
        marker = "os^Dv<>p*h"[i // 10 % 10] if legend else "o"
        ax.scatter([row[fps]], [row[accuracy]], s=sizes[i], alpha=0.7, c=f"C{i % 10}", marker=marker, label=str(n))
        if not legend:
            ax.annotate(str(n), (row[fps], row[accuracy]), textcoords="offset points", xytext=(6, 4), fontsize=9)
    if legend:
        ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.15), ncol=1, markerscale=0.5)
    if logx:
        ax.set_xscale("log")
    ax.set(xlabel="Frames per second" + (" (log)" if logx else ""), ylabel=accuracy,
           title=title or "Speed vs accuracy (up-right is better)")
    ax.grid(alpha=0.3, which="both")
    return ax


def plot_metric_bars(tables: dict, metrics=("HOTA", "MOTA", "IDF1"), ax=None, title: str | None = None):
    """Grouped bars of MOT metrics, one group per metric, one bar per tracker/run.

    Args:
        tables: ``{name: MOTReport | Series | one-row DataFrame}`` (a MOTReport gives its combined row).
    """
    rows = {}
    for n, t in tables.items():
        t = t.combined if hasattr(t, "combined") else t
        t = t.iloc[-1] if isinstance(t, pd.DataFrame) else t
        missing = [m for m in metrics if m not in t]
        if missing:
            raise ValueError(f"{n}: missing metric(s) {missing}")
        rows[n] = t[list(metrics)].astype(float)
    df = pd.DataFrame(rows)
    ax = _ax(ax)
    df.plot.bar(ax=ax, rot=0, width=0.8)
    ax.set(ylabel="score (%)", title=title or " / ".join(metrics))
    ax.grid(axis="y", alpha=0.3)
    return ax
