from __future__ import annotations

import pytest
from PIL import Image

from labels import LabelError
from labels.qr import MIN_MODULE_MM, PREFERRED_MODULE_MM, QUIET_ZONE, QrPlan, plan_many, plan_qr
from tests.labels.readback import decode

URL = "https://tools.example.org/i/HUT1-00042"


def raster(plan: QrPlan, module_px: int = 4) -> Image.Image:
    n = plan.modules + 2 * QUIET_ZONE
    image = Image.new("L", (n, n), 255)
    for r, row in enumerate(plan.matrix):
        for c, dark in enumerate(row):
            if dark:
                image.putpixel((c + QUIET_ZONE, r + QUIET_ZONE), 0)
    return image.resize((n * module_px, n * module_px), Image.Resampling.NEAREST)


def test_big_square_gets_the_highest_error_correction() -> None:
    plan = plan_qr(URL, box_mm=30)
    assert plan.level == "H"
    assert plan.module_mm >= PREFERRED_MODULE_MM
    assert plan.side_mm == pytest.approx(30)
    assert decode(raster(plan)) == [URL]


def test_small_square_trades_correction_for_bigger_modules() -> None:
    plan = plan_qr(URL, box_mm=17)
    assert plan.level in {"L", "M"}
    assert MIN_MODULE_MM <= plan.module_mm < PREFERRED_MODULE_MM
    assert decode(raster(plan)) == [URL]


def test_modules_are_whole_printer_dots_for_raster_output() -> None:
    dot = 25.4 / 300
    plan = plan_qr(URL, box_mm=26, dot_mm=dot)
    assert plan.module_mm / dot == pytest.approx(round(plan.module_mm / dot))
    assert plan.side_mm <= 26


def test_too_small_a_square_is_refused() -> None:
    with pytest.raises(LabelError, match="bigger label or a shorter base URL"):
        plan_qr("https://tools.example.org/" + "x" * 150, box_mm=17)


def test_quiet_zone_is_part_of_the_planned_side() -> None:
    plan = plan_qr(URL, box_mm=20)
    assert plan.side_mm == pytest.approx((plan.modules + 8) * plan.module_mm)


def test_plan_many_in_worker_processes_keeps_order_and_reports_errors() -> None:
    payloads = [f"{URL}{n}" for n in range(6)] + ["https://x.org/" + "y" * 400]
    plans = plan_many(payloads, box_mm=17, workers=2)
    assert [p.payload for p in plans[:-1] if isinstance(p, QrPlan)] == payloads[:-1]
    assert isinstance(plans[-1], str) and "shorter base URL" in plans[-1]
    assert plans[:-1] == plan_many(payloads[:-1], box_mm=17, workers=1)
