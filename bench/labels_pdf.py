"""Item labels into one PDF (3x8 sheets by default): issue 5 asks for 1,000 in <= 10 s.

python bench/labels_pdf.py [--count 1000] [--layout 3x8] [--runs 3] [--quick]
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from harness import BenchRun, Measure, at_most, parser, repeat

from labels import PRESETS, ItemLabel
from labels.make import make_labels

NAMES = [
    ("博世冲击电钻（含钻头套装）", "Bosch impact drill with bit set"),
    ("铝合金人字梯 1.5 米", "Aluminium step ladder 1.5 m"),
    ("急救箱", "First-aid kit"),
    ("瑜伽垫", ""),
    ("电动螺丝刀", "Cordless screwdriver"),
]


def one_pdf(count: int, layout: str) -> dict[str, float]:
    labels = [
        ItemLabel.for_item(
            base_url="https://tools.example.org",
            tag=f"HUT1-{n:05d}",
            name_zh=NAMES[n % len(NAMES)][0],
            name_en=NAMES[n % len(NAMES)][1],
            hut_name="阳光花园一号工具屋",
        )
        for n in range(count)
    ]
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "labels.pdf"
        start = time.perf_counter()
        make_labels(labels, output=out, fmt="pdf", layout=PRESETS[layout])
        seconds = time.perf_counter() - start
        return {"s": seconds, "MB": out.stat().st_size / 1e6}


def main() -> int:
    p = parser(__doc__, runs=3)
    p.add_argument("--count", type=int, default=None, help="labels (default 1,000; quick 50)")
    p.add_argument("--layout", default="3x8", choices=sorted(PRESETS))
    args = p.parse_args()
    run = BenchRun("labels_pdf", args)
    count = args.count or (50 if run.quick else 1000)
    runs = repeat(run.runs, lambda _i: one_pdf(count, args.layout))
    run.add(
        Measure(
            f"{count:,} item labels into one {args.layout} PDF",
            "s",
            runs["s"],
            target=at_most(10.0, "≤ 10 s for 1,000 labels"),
            details={"pdf_mb": runs["MB"]},
        )
    )
    return run.finish()


if __name__ == "__main__":
    raise SystemExit(main())
