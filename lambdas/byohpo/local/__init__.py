"""The local engine: the same tuning request, run on this machine with real training processes."""

from __future__ import annotations

import os
from pathlib import Path

#: Where ``byohpo run`` keeps its store and trial folders, relative to the working directory.
DEFAULT_HOME = Path("byohpo-runs")
STORE_ENV = "BYOHPO_STORE"


def default_store_path() -> Path:
    """``$BYOHPO_STORE``, else ``./byohpo-runs/byohpo.sqlite``."""
    return Path(os.environ.get(STORE_ENV) or DEFAULT_HOME / "byohpo.sqlite")
