"""Analytics tests (helpers: analytics_reference.py, analytics_pipeline.py)."""

from __future__ import annotations

import sys
from pathlib import Path

# The test modules import their helpers from this directory (no __init__.py here, as in
# the other test folders); make that independent of how pytest was invoked.
sys.path.insert(0, str(Path(__file__).resolve().parent))
