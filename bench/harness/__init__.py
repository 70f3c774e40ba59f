"""What every bench shares: the runner (repeat, median and spread, ratio to the raw part
of the same run, machine block, ``--quick``/``--runs``/``--json``), the real services, and
the raw parts themselves (broker, database tap, pseudo-terminal, batched pipeline).

A bench is a script in bench/ run by path (``python bench/x.py``); it imports this package
by its bare name. Importing it puts this tree first on the path, for the bench and for
every process it starts (``PYTHONPATH``), so a bench measures the code of the tree it is
in, whichever tree the virtual environment was installed from, and ``tests.support`` (the
tests' services) is importable. A ``PYTHONPATH`` already set wins: bench/alternate.sh runs
one bench's script on two trees that way.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

_ROOT = str(Path(__file__).resolve().parents[2])
if os.environ.get("PYTHONPATH"):
    # A tree named by the caller (bench/alternate.sh runs one bench on two trees) wins.
    if _ROOT not in sys.path:
        sys.path.append(_ROOT)
else:
    sys.path.insert(1, _ROOT)
    os.environ["PYTHONPATH"] = _ROOT

from .measures import (  # noqa: E402
    Floor,
    Measure,
    Target,
    at_most,
    percentile,
    ratio_at_least,
    ratio_at_most,
    repeat,
)
from .run import BenchRun, parser  # noqa: E402

__all__ = [
    "BenchRun",
    "Floor",
    "Measure",
    "Target",
    "at_most",
    "parser",
    "percentile",
    "ratio_at_least",
    "ratio_at_most",
    "repeat",
]
