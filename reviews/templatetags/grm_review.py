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
