"""1,000 item labels into one PDF (3x8 sheets); prints the seconds it took.

Run: .venv/bin/python bench/labels_pdf.py [COUNT] [LAYOUT]   (issue 5 asks for <= 10 s)
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

from labels import PRESETS, ItemLabel
from labels.make import make_labels

NAMES = [
    ("博世冲击电钻（含钻头套装）", "Bosch impact drill with bit set"),
    ("铝合金人字梯 1.5 米", "Aluminium step ladder 1.5 m"),
    ("急救箱", "First-aid kit"),
    ("瑜伽垫", ""),
    ("电动螺丝刀", "Cordless screwdriver"),
]


def main(count: int = 1000, layout: str = "3x8") -> float:
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
        size = out.stat().st_size
    print(f"{count} labels, layout {layout}: {seconds:.2f} s ({size / 1e6:.1f} MB)")
    return seconds


if __name__ == "__main__":
    main(
        int(sys.argv[1]) if len(sys.argv) > 1 else 1000, sys.argv[2] if len(sys.argv) > 2 else "3x8"
    )
