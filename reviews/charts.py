"""Geometry of the server-rendered SVG charts (the run page's accuracy as k grows). Pure arithmetic on
a run's stored report; the templates draw it."""

from __future__ import annotations

import math
from typing import Any


def accuracy_chart(report: dict[str, Any], *, width: int = 520, height: int = 240) -> dict[str, Any] | None:
    """Geometry of the accuracy-vs-k chart (server-rendered SVG): k on a log2 axis, accuracy on y."""
    curves: dict[str, dict[int, float]] = {}
    for name, key in (("Voting@k", "voting_curve"), ("MetaRM@k", "meta_curve")):
        points = report.get(key) or {}
        if points:
            curves[name] = {int(k): float(v) for k, v in points.items()}
    if not curves:
        return None
    ks = sorted({k for points in curves.values() for k in points})
    values = [v for points in curves.values() for v in points.values()]
    low, high = max(0.0, min(values) - 0.05), min(1.0, max(values) + 0.05)
    if high - low < 0.1:
        low, high = max(0.0, high - 0.1), max(high, 0.1)
    left, right, top, bottom = 48, width - 16, 12, height - 32
    span = math.log2(ks[-1]) if ks[-1] > 1 else 1.0

    def x(k: int) -> float:
        return left + (right - left) * (math.log2(k) / span if ks[-1] > 1 else 0.5)

    def y(v: float) -> float:
        return bottom - (bottom - top) * (v - low) / (high - low)

    series = [
        {
            "name": name,
            "points": " ".join(f"{x(k):.1f},{y(v):.1f}" for k, v in sorted(points.items())),
            "dots": [{"x": round(x(k), 1), "y": round(y(v), 1), "k": k, "value": v} for k, v in sorted(points.items())],
        }
        for name, points in curves.items()
    ]
    ticks = [{"y": round(y(v), 1), "label": f"{v:.2f}"} for v in (low, (low + high) / 2, high)]
    return {
        "width": width,
        "height": height,
        "left": left,
        "right": right,
        "top": top,
        "bottom": bottom,
        "series": series,
        "x_ticks": [{"x": round(x(k), 1), "label": k} for k in ks],
        "y_ticks": ticks,
    }
