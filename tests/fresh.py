"""Running a few lines in a fresh interpreter at the project's root: what a module loads, seen from a clean start."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def printed(script: str) -> str:
    """The last line `script` printed, run by a new Python process (which fails the test if it fails)."""
    finished = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=60, check=True
    )
    return finished.stdout.strip().splitlines()[-1]
