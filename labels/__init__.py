"""QR labels for hut items, resident cards and the cards that hang in the hut: PDF sheets,
label-printer PNGs, SVG.

Importing this package is light; reportlab, Pillow and fontTools load when labels are made.
"""

from typing import Any

from labels.errors import LabelError
from labels.layout import PRESETS, RollLayout, SheetLayout
from labels.model import CardLabel, HutCard, ItemLabel, item_url

__all__ = [
    "PRESETS",
    "CardLabel",
    "HutCard",
    "ItemLabel",
    "LabelError",
    "RollLayout",
    "SheetLayout",
    "item_url",
    "make_labels",
]


def __getattr__(name: str) -> Any:
    # make_labels pulls in qrcode; load it on first use so `toolhut labels --help` stays fast.
    if name == "make_labels":
        from labels.make import make_labels

        return make_labels
    raise AttributeError(name)
