"""``toolhut labels``: item labels from the server or a CSV file, card labels from a CSV file,
the cards that hang in the hut (condition, rating, phone sign-in).

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
from labels.hut_cards import ALL, MAX_COPIES, SET_NAMES, hut_cards
from labels.layout import PRESETS, Layout, RollLayout, SheetLayout
from labels.texts import ITEM_HINT, SUPPLY_HINT

if TYPE_CHECKING:
    from labels.model import Label

LAYOUTS = (*PRESETS, "custom", "roll")
CARD_KEY_ENV = "TOOLHUT_LABELS_CARD_KEY_FILE"
EXIT_REFUSED = 1  # some rows refused, the rest made
EXIT_NOTHING = 2  # nothing written


def configure(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="labels_source", required=True, metavar="SOURCE")
    items = sub.add_parser("items", help="labels for the server's items (a hut, a category, tags)")
    _server_options(items, hint=ITEM_HINT)
    items.add_argument("--category", help="only items of this category")

    supplies = sub.add_parser(
        "supplies", help="labels for the server's supplies (first aid...: taken, not lent)"
    )
    _server_options(supplies, hint=SUPPLY_HINT)

    csv = sub.add_parser("csv", help="labels for the rows of a CSV file")
    csv.add_argument(
        "file",
        type=Path,
        help="UTF-8 CSV: tag,name_zh,name_en,hut_name (with --cards: card_uid, and name / "
        "building_unit when printed)",
    )
    csv.add_argument("--cards", action="store_true", help="member card labels")
    csv.add_argument(
        "--card-key-file",
        type=Path,
        help=f"with --cards: file holding the secret key of the cards' QR references "
        f"(default ${CARD_KEY_ENV})",
    )
    csv.add_argument("--with-name", action="store_true", help="with --cards: print the name")
    csv.add_argument(
        "--with-address",
        action="store_true",
        help="with --cards: print the flat (building_unit); a lost card then says where",
    )
    csv.add_argument("--base-url", help="public base URL the QR codes point to (item labels)")
    csv.add_argument("--hut-name", help="hut name for rows that leave hut_name empty")
    csv.add_argument("--hint", default=ITEM_HINT, help="short hint printed on item labels")
    _output_options(csv)

    cards = sub.add_parser(
        "hut-cards",
        help="the cards that hang by the hut's scanner: condition, rating, phone sign-in",
    )
    cards.add_argument(
        "--set",
        choices=SET_NAMES,
        default=ALL,
        dest="card_set",
        help="which cards: rating (satisfied / so-so / not satisfied), rating-1to5, "
        "condition (good / needs repair / part missing), sign-in, or all (default)",
    )
    cards.add_argument(
        "--copies",
        type=_copies,
        default=1,
        help=f"how many of each card (e.g. one for each hut door; 1 to {MAX_COPIES})",
    )
    _output_options(cards, layout="2x7")
    parser.set_defaults(run=_usage(parser))


def _copies(text: str) -> int:
    try:
        copies = int(text)
    except ValueError:
        copies = 0
    if not 1 <= copies <= MAX_COPIES:
        raise argparse.ArgumentTypeError(f"{text!r}: a whole number from 1 to {MAX_COPIES}")
    return copies


def _server_options(p: argparse.ArgumentParser, *, hint: str) -> None:
    p.add_argument("--server", required=True, help="server URL, e.g. http://127.0.0.1:8000")
    p.add_argument("--hut", help="hut id; default: every hut")
    p.add_argument("--tag", action="append", default=[], dest="tags", help="only this tag (repeat)")
    p.add_argument("--base-url", required=True, help="public base URL the QR codes point to")
    p.add_argument("--hint", default=hint, help=f"short hint printed on the labels ({hint})")
    _output_options(p)


def _output_options(p: argparse.ArgumentParser, *, layout: str = "3x8") -> None:
    p.add_argument(
        "-o", "--output", type=Path, required=True, help="PDF file, or directory for png/svg files"
    )
    p.add_argument("--format", choices=("pdf", "png", "svg"), default="pdf")
    p.add_argument(
        "--layout",
        choices=LAYOUTS,
        default=layout,
        help=f"default {layout}; 3x8 (63.5x33.9 mm) and 2x7 (99.1x38.1 mm) A4 sheets, "
        "roll62 (62x29 mm at 300 dpi), roll (--label-size, --dpi) or custom (A4 grid: "
        "--label-size, --margins, --gaps)",
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
    p.add_argument(
        "--strict",
        action="store_true",
        help="all or nothing: any row that cannot become a label stops the batch "
        "(default: the others are made, the refused rows listed, exit code 1)",
    )
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
        return EXIT_NOTHING


def _card_key(args: argparse.Namespace) -> bytes:
    from toolhut.card_ref import MIN_KEY_BYTES

    path = args.card_key_file
    if path is None and os.environ.get(CARD_KEY_ENV):
        path = Path(os.environ[CARD_KEY_ENV])
    if path is None:
        raise LabelError(
            f"card labels need --card-key-file (or ${CARD_KEY_ENV}): the secret the QR "
            "references are made with, so a card's QR never shows its UID"
        )
    try:
        key = path.read_bytes().strip()
    except OSError as exc:
        raise LabelError(f"card key {path}: cannot read: {exc.strerror or exc}") from exc
    if len(key) < MIN_KEY_BYTES:
        raise LabelError(f"card key {path}: at least {MIN_KEY_BYTES} bytes, got {len(key)}")
    return key


def _read_labels(args: argparse.Namespace, refuse: Callable[[str], None] | None) -> Sequence[Label]:
    from labels import sources

    if args.labels_source == "hut-cards":
        return hut_cards(args.card_set, copies=args.copies)
    if args.labels_source == "items":
        return sources.items_from_server(
            args.server,
            base_url=args.base_url,
            hut=args.hut,
            category=args.category,
            tags=args.tags,
            hint=args.hint,
            refuse=refuse,
        )
    if args.labels_source == "supplies":
        return sources.supplies_from_server(
            args.server,
            base_url=args.base_url,
            hut=args.hut,
            tags=args.tags,
            hint=args.hint,
            refuse=refuse,
        )
    if args.cards:
        return sources.cards_from_csv(
            args.file,
            key=_card_key(args),
            with_name=args.with_name,
            with_address=args.with_address,
            refuse=refuse,
        )
    if not args.base_url:
        raise LabelError("item labels need --base-url (the public URL the QR codes point to)")
    return sources.items_from_csv(
        args.file, base_url=args.base_url, hut_name=args.hut_name, hint=args.hint, refuse=refuse
    )


def _run(args: argparse.Namespace) -> int:
    from labels.fonts import find_font
    from labels.make import Refused, make_labels

    layout = build_layout(args)
    font = find_font(args.font, env=os.environ)
    rows_refused: list[str] = []
    labels = _read_labels(args, None if args.strict else rows_refused.append)
    labels_refused: list[Refused] = []

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
            labels,
            output=args.output,
            fmt=args.format,
            layout=layout,
            font=font,
            progress=progress,
            refuse=None if args.strict else labels_refused.append,
        )
    finally:
        if bar is not None:
            bar.close()
    where = paths[0] if len(paths) == 1 else args.output
    print(f"{len(labels) - len(labels_refused)} labels -> {len(paths)} file(s) in {where}")
    refused = rows_refused + [str(r) for r in labels_refused]
    if refused:
        print(
            f"toolhut labels: {len(refused)} refused (the others were made; --strict for all "
            "or nothing):\n  " + "\n  ".join(refused),
            file=sys.stderr,
        )
        return EXIT_REFUSED
    return 0
