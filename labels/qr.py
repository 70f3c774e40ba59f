"""QR codes sized for print: error correction and module size chosen for the space given."""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from multiprocessing import get_context

import qrcode
from qrcode.constants import ERROR_CORRECT_H, ERROR_CORRECT_L, ERROR_CORRECT_M, ERROR_CORRECT_Q
from qrcode.exceptions import DataOverflowError

from labels.errors import LabelError

QUIET_ZONE = 4  # modules of white on every side, as ISO/IEC 18004 asks
# A handheld imager reads 0.33 mm modules reliably; 0.5 mm leaves room for a phone at arm's length
# and for toner spread, so error correction is only traded away below that.
PREFERRED_MODULE_MM = 0.5
MIN_MODULE_MM = 0.33
_LEVELS = (
    ("H", ERROR_CORRECT_H),
    ("Q", ERROR_CORRECT_Q),
    ("M", ERROR_CORRECT_M),
    ("L", ERROR_CORRECT_L),
)


@dataclass(frozen=True, slots=True)
class QrPlan:
    payload: str
    level: str  # L, M, Q or H
    version: int
    module_mm: float
    matrix: tuple[tuple[bool, ...], ...]  # without the quiet zone

    @property
    def modules(self) -> int:
        return len(self.matrix)

    @property
    def side_mm(self) -> float:
        """Printed side including the quiet zone."""
        return (self.modules + 2 * QUIET_ZONE) * self.module_mm

    def runs(self) -> list[tuple[int, int, int]]:
        """Horizontal runs of dark modules as (row, first column, length): fewer shapes to draw."""
        out: list[tuple[int, int, int]] = []
        for r, row in enumerate(self.matrix):
            c, n = 0, len(row)
            while c < n:
                if row[c]:
                    start = c
                    while c < n and row[c]:
                        c += 1
                    out.append((r, start, c - start))
                else:
                    c += 1
        return out


def _version(payload: str, level: int) -> int | None:
    code = qrcode.QRCode(error_correction=level, border=0)
    code.add_data(payload)
    try:
        return int(code.best_fit())
    except DataOverflowError:
        return None


def plan_qr(payload: str, *, box_mm: float, dot_mm: float | None = None) -> QrPlan:
    """The best QR for ``payload`` in a square of ``box_mm`` (quiet zone included).

    ``dot_mm`` is the printer's dot pitch for raster output: modules are then whole dots, so
    every module prints the same width.
    """
    candidates: list[tuple[float, int, str, int, int]] = []
    for rank, (name, level) in enumerate(_LEVELS):
        version = _version(payload, level)
        if version is None:
            continue
        modules = 17 + 4 * version
        module = box_mm / (modules + 2 * QUIET_ZONE)
        if dot_mm:
            module = math.floor(module / dot_mm + 1e-9) * dot_mm
        candidates.append((module, -rank, name, level, version))
    if not candidates:
        raise LabelError(f"payload of {len(payload)} characters is too long for a QR code")
    preferred = [c for c in candidates if c[0] >= PREFERRED_MODULE_MM - 1e-9]
    # Highest error correction that keeps modules comfortable; otherwise the biggest modules.
    best = preferred[0] if preferred else max(candidates)
    module, _, name, level, version = best
    if module < MIN_MODULE_MM - 1e-9:
        raise LabelError(
            f"QR code for {payload!r} would have {module:.2f} mm modules in a {box_mm:.1f} mm "
            f"square; at least {MIN_MODULE_MM} mm is needed to scan: use a bigger label or a "
            "shorter base URL"
        )
    code = qrcode.QRCode(version=version, error_correction=level, border=0)
    code.add_data(payload)
    code.make(fit=False)
    matrix = tuple(tuple(bool(v) for v in row) for row in code.get_matrix())
    return QrPlan(payload=payload, level=name, version=version, module_mm=module, matrix=matrix)


PARALLEL_FROM = 200  # below this, starting worker processes costs more than it saves


def _plan_or_error(job: tuple[str, float, float | None]) -> QrPlan | str:
    payload, box_mm, dot_mm = job
    try:
        return plan_qr(payload, box_mm=box_mm, dot_mm=dot_mm)
    except LabelError as exc:
        return str(exc)


def plan_many(
    payloads: Sequence[str],
    *,
    box_mm: float,
    dot_mm: float | None = None,
    tick: Callable[[], None] = lambda: None,
    workers: int | None = None,
) -> list[QrPlan | str]:
    """Plans in order, an error message in place of any that cannot be made.

    Choosing a QR mask is pure-Python work of about 6 ms a code, so big batches spread it
    over worker processes ("spawn": safe beside threads such as a progress bar's).
    """
    jobs = [(p, box_mm, dot_mm) for p in payloads]
    count = workers if workers is not None else min(4, os.cpu_count() or 1)
    out: list[QrPlan | str] = []
    if count <= 1 or (workers is None and len(jobs) < PARALLEL_FROM):
        for job in jobs:
            out.append(_plan_or_error(job))
            tick()
        return out
    with ProcessPoolExecutor(max_workers=count, mp_context=get_context("spawn")) as pool:
        for result in pool.map(_plan_or_error, jobs, chunksize=16):
            out.append(result)
            tick()
    return out
