"""Make the NAS test helpers (nas_fakes) importable in any pytest import mode, and in the pool
workers and subprocesses the tests start (they inherit sys.path)."""

import sys
from pathlib import Path

HERE = str(Path(__file__).resolve().parent)
if HERE not in sys.path:
    sys.path.insert(0, HERE)
