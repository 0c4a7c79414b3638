"""Geometry of the server-rendered SVG charts: a run's value (accuracy or ROC-AUC) against k on a log2
axis, each curve with its bootstrap band, error bars where size-k subsets were sampled, and horizontal
reference lines (chance, a greedy run). Pure arithmetic; the templates draw it and escape every label."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

Z_95 = 1.96  # a 95% interval from a standard error


class PointLike(Protocol):
    @property
    def k(self) -> int: ...
    @property
    def value(self) -> float: ...
    @property
    def low(self) -> float | None: ...
    @property
    def high(self) -> float | None: ...
    @property
    def stderr(self) -> float | None: ...
    @property
    def exact(self) -> bool | None: ...


@dataclass(frozen=True)
class Series:
    """One curve to draw: its legend label, the style slot (1-4) and its points."""

    label: str
    points: Sequence[PointLike]
    style: int = 1


@dataclass(frozen=True)
class Reference:
    """A horizontal line at `value`, labelled, optionally linked (e.g. a greedy run's page)."""

    label: str
    value: float
    kind: str  # "chance" or "baseline"
    url: str = ""


def _fmt(number: float) -> str:
    return f"{number:.1f}"


def scaling_chart(
    series: Sequence[Series],
    *,
    references: Sequence[Reference] = (),
    y_label: str = "accuracy",
    title: str = "",
    width: int = 560,
    height: int = 280,
) -> dict[str, Any] | None:
    """The chart's geometry, or None when no series has a point. y runs from 0 to 1 whatever the data."""
    drawn = [s for s in series if s.points]
    if not drawn:
        return None
    ks = sorted({point.k for s in drawn for point in s.points})
    left, right, top, bottom = 52, width - 20, 14, height - 40
    pad = 14  # keeps k = 1 and the largest k off the axes
    span = math.log2(ks[-1]) if ks[-1] > 1 else 0.0

    def x(k: int) -> float:
        if not span:
            return (left + right) / 2
        return left + pad + (right - left - 2 * pad) * math.log2(k) / span

    def y(value: float) -> float:
        return bottom - (bottom - top) * min(1.0, max(0.0, value))

    curves: list[dict[str, Any]] = []
    any_sampled = False
    for s in drawn:
        points = sorted(s.points, key=lambda point: point.k)
        banded = [p for p in points if p.low is not None and p.high is not None]
        band = ""
        if len(banded) >= 2 or (len(banded) == 1 and len(points) == 1):
            upper = [f"{_fmt(x(p.k))},{_fmt(y(p.high or 0.0))}" for p in banded]
            lower = [f"{_fmt(x(p.k))},{_fmt(y(p.low or 0.0))}" for p in reversed(banded)]
            band = " ".join(upper + lower)
        dots = []
        for p in points:
            sampled = p.exact is False and p.stderr is not None
            any_sampled = any_sampled or sampled
            dot: dict[str, Any] = {
                "x": _fmt(x(p.k)),
                "y": _fmt(y(p.value)),
                "k": p.k,
                "value": p.value,
                "low": p.low,
                "high": p.high,
                "stderr": p.stderr,
                "sampled": sampled,
            }
            if sampled:
                margin = Z_95 * float(p.stderr or 0.0)
                dot["error_top"], dot["error_bottom"] = _fmt(y(p.value + margin)), _fmt(y(p.value - margin))
                dot["error_left"], dot["error_right"] = _fmt(x(p.k) - 4), _fmt(x(p.k) + 4)
            dots.append(dot)
        curves.append(
            {
                "label": s.label,
                "style": f"s{s.style}",
                "line": " ".join(f"{_fmt(x(p.k))},{_fmt(y(p.value))}" for p in points),
                "band": band,
                "dots": dots,
            }
        )
    lines = [
        {"label": ref.label, "value": ref.value, "kind": ref.kind, "url": ref.url, "y": _fmt(y(ref.value))}
        for ref in references
        if math.isfinite(ref.value)
    ]
    return {
        "width": width,
        "height": height,
        "left": left,
        "right": right,
        "top": top,
        "bottom": bottom,
        "curves": curves,
        "references": lines,
        "sampled": any_sampled,
        "y_label": y_label,
        "title": title or f"{y_label} against k (log2 axis)",
        "x_ticks": [{"x": _fmt(x(k)), "label": k} for k in ks],
        "y_ticks": [{"y": _fmt(y(v)), "label": f"{v:.2f}"} for v in (0.0, 0.25, 0.5, 0.75, 1.0)],
        "x_label_y": bottom + 32,
        "tick_label_y": bottom + 16,
        "tick_label_x": left - 6,
        "y_label_x": 12,
        "y_label_y": (top + bottom) / 2,
    }
