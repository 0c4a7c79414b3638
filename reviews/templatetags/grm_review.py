"""Small template filters for the review pages."""

from __future__ import annotations

from typing import Any

from django import template

register = template.Library()


@register.filter
def index(values: Any, position: int) -> Any:
    """`values[position]`, or empty when there is no such element (scores of an unparsed sample)."""
    try:
        return values[position]
    except (IndexError, KeyError, TypeError):
        return ""


@register.filter
def duration(seconds: Any) -> str:
    """A time left, rounded as a person says it: "40 s", "3 min", "1 h 20 min"."""
    try:
        total = int(seconds)
    except (TypeError, ValueError):
        return ""
    if total < 60:
        return f"{total} s"
    minutes = round(total / 60)
    if minutes < 60:
        return f"{minutes} min"
    return f"{minutes // 60} h {minutes % 60} min"
