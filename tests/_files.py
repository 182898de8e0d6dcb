"""Helpers shared by tests that assert "nothing changed" on disk."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path


def tree(root: Path) -> dict[str, str]:
    """Every file's SHA-256 and every link's target under ``root`` (links not followed), so a
    swapped symlink counts as a change as much as a rewritten file."""
    out = {}
    for folder, dirs, files in os.walk(root):
        for name in dirs + files:
            path = Path(folder) / name
            rel = str(path.relative_to(root))
            out[rel] = ("-> " + os.readlink(path) if path.is_symlink()
                        else hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else "dir")
    return out
