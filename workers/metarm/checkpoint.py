"""A meta-RM checkpoint folder: `save_pretrained` files plus `metarm.json` (how it was trained, its
validation metrics and a content hash of the other files)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

MANIFEST = "metarm.json"
_CHUNK = 1 << 20


def content_hash(folder: Path | str) -> str:
    """sha256 over every file's relative path and bytes, in sorted path order, metarm.json excluded."""
    root = Path(folder)
    digest = hashlib.sha256()
    files = sorted(
        (path.relative_to(root).as_posix(), path)
        for path in root.rglob("*")
        if path.is_file() and path.relative_to(root).as_posix() != MANIFEST
    )
    for relative, path in files:
        name = relative.encode()
        # Lengths before each path and body, so no two different folders feed the same byte stream.
        digest.update(len(name).to_bytes(8, "big") + name + path.stat().st_size.to_bytes(8, "big"))
        with path.open("rb") as handle:
            while chunk := handle.read(_CHUNK):
                digest.update(chunk)
    return digest.hexdigest()


def write_manifest(folder: Path, manifest: dict[str, Any]) -> None:
    (folder / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")


def read_manifest(folder: Path | str) -> dict[str, Any] | None:
    """The folder's metarm.json, or None for a checkpoint not trained here (or a hub name)."""
    path = Path(folder) / MANIFEST
    if not path.is_file():
        return None
    manifest: dict[str, Any] = json.loads(path.read_text())
    return manifest


TRAINED_ON = "trained_on.jsonl"


def record_trained_on(folder: Path | str, records: list[dict[str, Any]]) -> str:
    """Keep which judgments a checkpoint was trained on (one JSON line each: sample, query, label and
    where the label came from) in the folder, and refresh the content hash that covers it; returns it."""
    root = Path(folder)
    with (root / TRAINED_ON).open("w") as out:
        for record in records:
            out.write(json.dumps(record, sort_keys=True) + "\n")
    digest = content_hash(root)
    manifest = read_manifest(root) or {}
    manifest["content_hash"] = digest
    write_manifest(root, manifest)
    return digest
