"""``toolhut labels``: item labels from the server or a CSV file, card labels from a CSV file.

Kept light: reportlab, qrcode and Pillow are imported only when labels are made.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from labels.errors import LabelError
from labels.layout import PRESETS, Layout, RollLayout, SheetLayout

if TYPE_CHECKING:
    from labels.model import CardLabel, ItemLabel

LAYOUTS = (*PRESETS, "custom", "roll")


def configure(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="labels_source", required=True, metavar="SOURCE")
    items = sub.add_parser("items", help="labels for the server's items (a hut, a category, tags)")
    items.add_argument("--server", required=True, help="server URL, e.g. http://127.0.0.1:8000")
    items.add_argument("--hut", help="hut id; default: every hut")
    items.add_argument("--category", help="only items of this category")
    items.add_argument(
        "--tag", action="append", default=[], dest="tags", help="only this tag (repeat)"
    )
    items.add_argument("--base-url", required=True, help="public base URL the QR codes point to")
    items.add_argument("--hint", default="扫码借还", help="short hint printed on item labels")
    _output_options(items)

    csv = sub.add_parser("csv", help="labels for the rows of a CSV file")
    csv.add_argument(
        "file",
        type=Path,
        help="UTF-8 CSV: tag,name_zh,name_en,hut_name (with --cards: name,building_unit,card_uid)",
    )
    csv.add_argument("--cards", action="store_true", help="resident card labels")
    csv.add_argument("--base-url", help="public base URL the QR codes point to (item labels)")
    csv.add_argument("--hut-name", help="hut name for rows that leave hut_name empty")
    csv.add_argument("--hint", default="扫码借还", help="short hint printed on item labels")
    _output_options(csv)
    parser.set_defaults(run=_usage(parser))


def _output_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "-o", "--output", type=Path, required=True, help="PDF file, or directory for png/svg files"
    )
    p.add_argument("--format", choices=("pdf", "png", "svg"), default="pdf")
    p.add_argument(
        "--layout",
        choices=LAYOUTS,
        default="3x8",
        help="3x8 (63.5x33.9 mm) and 2x7 (99.1x38.1 mm) A4 sheets, roll62 (62x29 mm "
        "at 300 dpi), roll (--label-size, --dpi) or custom (A4 grid: --label-size, "
        "--margins, --gaps)",
    )
    p.add_argument("--label-size", metavar="WxH", help="label size in mm, e.g. 62x40")
    p.add_argument("--margins", metavar="TOP,LEFT", default="0,0", help="sheet margins in mm")
    p.add_argument("--gaps", metavar="X,Y", default="0,0", help="gaps between labels in mm")
    p.add_argument("--dpi", type=int, default=300, help="roll PNG resolution")
    p.add_argument("--page-size", metavar="WxH", default="210x297", help="custom sheet page, mm")
    p.add_argument(
        "--font",
        help="TrueType CJK font (.ttf/.ttc[#index]); default "
        "$TOOLHUT_LABELS_FONT or an installed WenQuanYi/Droid font",
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(run=run)


def _usage(parser: argparse.ArgumentParser) -> Callable[[argparse.Namespace], int]:
    def run(_args: argparse.Namespace) -> int:
        parser.print_usage(sys.stderr)
        return 2

    return run


def _pair(text: str, sep: str, what: str) -> tuple[float, float]:
    try:
        a, b = (float(v) for v in text.lower().split(sep))
    except ValueError as exc:
        raise LabelError(f"{what} {text!r}: expected two numbers like 10{sep}5") from exc
    return a, b


def build_layout(args: argparse.Namespace) -> Layout:
    if args.layout in ("roll", "roll62"):
        width, height = _pair(args.label_size or "62x29", "x", "--label-size")
        return RollLayout(label_width=width, label_height=height, dpi=args.dpi, name=args.layout)
    if args.layout in PRESETS:
        if args.label_size:
            raise LabelError(f"--label-size goes with --layout custom or roll, not {args.layout}")
        return PRESETS[args.layout]
    if not args.label_size:
        raise LabelError("--layout custom needs --label-size WxH (mm)")
    width, height = _pair(args.label_size, "x", "--label-size")
    page_w, page_h = _pair(args.page_size, "x", "--page-size")
    top, left = _pair(args.margins, ",", "--margins")
    gap_x, gap_y = _pair(args.gaps, ",", "--gaps")
    return SheetLayout(
        label_width=width,
        label_height=height,
        margin_top=top,
        margin_left=left,
        gap_x=gap_x,
        gap_y=gap_y,
        page_width=page_w,
        page_height=page_h,
    )


def run(args: argparse.Namespace) -> int:
    try:
        return _run(args)
    except LabelError as exc:
        print(f"toolhut labels: {exc}", file=sys.stderr)
        return 2


def _run(args: argparse.Namespace) -> int:
    from labels import sources
    from labels.fonts import find_font
    from labels.make import make_labels

    layout = build_layout(args)
    font = find_font(args.font, env=os.environ)
    labels: Sequence[ItemLabel | CardLabel]
    if args.labels_source == "items":
        labels = sources.items_from_server(
            args.server,
            base_url=args.base_url,
            hut=args.hut,
            category=args.category,
            tags=args.tags,
            hint=args.hint,
        )
    elif args.cards:
        labels = sources.cards_from_csv(args.file)
    else:
        if not args.base_url:
            raise LabelError("item labels need --base-url (the public URL the QR codes point to)")
        labels = sources.items_from_csv(
            args.file, base_url=args.base_url, hut_name=args.hut_name, hint=args.hint
        )

    bar = None
    if not args.no_progress:
        from tqdm import tqdm

        bar = tqdm(
            total=2 * len(labels),
            unit="step",
            desc="labels",
            file=sys.stderr,
            disable=None,
            leave=False,
        )

    def progress(done: int, total: int) -> None:
        if bar is not None:
            bar.update(done - bar.n)

    try:
        paths = make_labels(
            labels, output=args.output, fmt=args.format, layout=layout, font=font, progress=progress
        )
    finally:
        if bar is not None:
            bar.close()
    where = paths[0] if len(paths) == 1 else args.output
    print(f"{len(labels)} labels -> {len(paths)} file(s) in {where}")
    return 0
