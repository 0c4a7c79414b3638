from __future__ import annotations

from django.db import models


class RenderedText(models.Model):
    """The sanitized HTML of a stored text, so a page does not render Markdown on every view.

    `key` is a digest of the renderer's version, the kind of rendering and the text itself
    (`reviews.rendering.Source.key`): the same text shown the same way is stored once, whichever
    rows hold it, and a new renderer writes new keys instead of serving old HTML."""

    key = models.UUIDField(primary_key=True)
    version = models.PositiveSmallIntegerField(help_text="reviews.rendering.RENDERER_VERSION when rendered.")
    html = models.TextField()

    def __str__(self) -> str:
        return f"rendered text {self.key} (renderer {self.version})"
