"""Finding and measuring the CJK font every renderer draws with.

reportlab embeds TrueType outlines only, so the font must be TrueType-flavoured (.ttf or .ttc);
Noto Sans CJK ships CFF outlines (.otf/.ttc) and is refused with a clear message.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from labels.errors import LabelError

FONT_ENV = "TOOLHUT_LABELS_FONT"  # path, optionally "path#index" for a collection
INSTALL_HINT = "apt-get install fonts-wqy-microhei"
# Shipped with the package (Apache-2.0, see fonts/README.md), so labels need nothing installed.
BUNDLED_FONT = Path(__file__).with_name("fonts") / "wqy-microhei.ttc"
# Then well-known places of TrueType CJK fonts from Debian/Ubuntu packages, best first.
KNOWN_FONTS: tuple[tuple[str, int], ...] = (
    (str(BUNDLED_FONT), 0),
    ("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc", 0),  # fonts-wqy-microhei
    ("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc", 0),  # fonts-wqy-zenhei
    ("/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf", 0),  # fonts-droid-fallback
    ("/usr/share/fonts/truetype/arphic/uming.ttc", 0),  # fonts-arphic-uming
)
_PT_MM = 25.4 / 72
_PROBE = "扫码借还工具"


@dataclass(frozen=True, slots=True)
class CjkFont:
    path: Path
    index: int = 0
    pdf_name: str = field(default="", compare=False)
    ascent: float = field(default=0.8, compare=False)  # of the em, above the baseline
    descent: float = field(default=0.2, compare=False)  # of the em, below the baseline (positive)

    def width_mm(self, text: str, size_pt: float) -> float:
        # Text fitting asks this thousands of times per label: sum cached advances instead of
        # calling reportlab's stringWidth (same widths, no kerning in either).
        widths = _advances(self.pdf_name)
        return sum(widths.get(ord(ch), 1.0) for ch in text) * size_pt * _PT_MM

    def missing(self, text: str) -> list[str]:
        cmap = _char_map(self.pdf_name)
        return sorted({ch for ch in text if ch != " " and ord(ch) not in cmap})


@lru_cache(maxsize=8)
def _char_map(pdf_name: str) -> frozenset[int]:
    from reportlab.pdfbase.pdfmetrics import getFont

    return frozenset(getFont(pdf_name).face.charToGlyph)


@lru_cache(maxsize=8)
def _advances(pdf_name: str) -> dict[int, float]:
    """Advance widths in em, by code point."""
    from reportlab.pdfbase.pdfmetrics import getFont

    face = getFont(pdf_name).face
    default = face.defaultWidth / 1000
    return {cp: face.charWidths.get(cp, default) / 1000 for cp in face.charToGlyph}


def _split(spec: str) -> tuple[Path, int]:
    path, _, index = spec.partition("#")
    try:
        return Path(path).expanduser(), int(index or 0)
    except ValueError as exc:
        raise LabelError(f"font {spec!r}: the part after '#' must be a face index") from exc


def find_font(
    explicit: str | Path | None = None, *, env: Mapping[str, str] | None = None
) -> CjkFont:
    """The explicit font, else ``$TOOLHUT_LABELS_FONT``, else the bundled one (or, should a
    packager have removed it, the first well-known one installed)."""
    if explicit is not None:
        return load_font(*_split(str(explicit)))
    if env and env.get(FONT_ENV):
        return load_font(*_split(env[FONT_ENV]))
    for path, index in KNOWN_FONTS:
        if os.path.isfile(path):
            return load_font(Path(path), index)
    raise LabelError(
        "no CJK font found for labels: install one (Debian/Ubuntu: "
        f"'{INSTALL_HINT}') or point {FONT_ENV} at a TrueType .ttf/.ttc font with Chinese glyphs"
    )


@lru_cache(maxsize=8)
def load_font(path: Path, index: int = 0) -> CjkFont:
    from reportlab.pdfbase.pdfmetrics import registerFont
    from reportlab.pdfbase.ttfonts import TTFError, TTFont

    if not path.is_file():
        raise LabelError(f"font file {path} does not exist")
    digest = hashlib.sha1(f"{path.resolve()}#{index}".encode()).hexdigest()[:10]
    name = f"ToolhutCJK-{digest}"
    try:
        font = TTFont(name, str(path), subfontIndex=index)
    except (TTFError, OSError, IndexError) as exc:
        raise LabelError(
            f"font {path} (face {index}) cannot be embedded: {exc}; use a TrueType CJK font "
            f"such as WenQuanYi Micro Hei ({INSTALL_HINT})"
        ) from exc
    registerFont(font)
    face = font.face
    loaded = CjkFont(
        path=path,
        index=index,
        pdf_name=name,
        ascent=face.ascent / 1000,
        descent=-face.descent / 1000,
    )
    if loaded.missing(_PROBE):
        raise LabelError(f"font {path} has no Chinese glyphs; {INSTALL_HINT}")
    return loaded
