"""Stored run reports for the page and API tests: version 2 (`scaling`) and the older format."""

from __future__ import annotations

from typing import Any

XSS_SUBSET = "<script>alert(1)</script>"


def point(k: int, value: float, low: float, high: float, stderr: float | None = None) -> dict[str, Any]:
    return {"k": k, "value": value, "low": low, "high": high, "stderr": stderr, "exact": stderr is None}


def scaling_report(*, metric: str = "accuracy", subsets: dict[str, Any] | None = None) -> dict[str, Any]:
    """Voting@k and MetaRM@k at k = 1, 2, 4 (k = 4 sampled, with a Monte Carlo error), two subsets."""
    voting = [point(1, 0.61, 0.55, 0.67), point(2, 0.64, 0.58, 0.7), point(4, 0.7, 0.64, 0.76, stderr=0.004)]
    metarm = [point(1, 0.62, 0.56, 0.68), point(2, 0.68, 0.62, 0.74), point(4, 0.74, 0.68, 0.8, stderr=0.005)]
    if subsets is None:
        subsets = {
            "chat": {"queries": 40, "voting": [point(1, 0.8, 0.7, 0.9)], "metarm": [point(1, 0.82, 0.72, 0.92)]},
            XSS_SUBSET: {"queries": 20, "voting": [point(1, 0.3, 0.2, 0.4), point(2, 0.35, 0.25, 0.45)]},
        }
    return {
        "version": 2,
        "bias": {"first_shown_wins": {"rate": 0.5, "total": 12}},
        "labelled_queries": 60,
        "scaling": {
            "mode": "best",
            "metric": metric,
            "queries": 60,
            "ks": [1, 2, 4],
            "voting": voting,
            "metarm": metarm,
            "subsets": subsets,
        },
    }


def old_report() -> dict[str, Any]:
    return {
        "bias": {"first_shown_wins": {"rate": 0.5, "total": 12}},
        "labelled_queries": 3,
        "voting_curve": {"1": 0.9, "2": 0.95, "4": 1.0},
        "meta_curve": {"1": 0.92, "2": 0.97, "4": 1.0},
    }
