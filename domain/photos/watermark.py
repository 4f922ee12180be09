"""The evidence strip: visit facts drawn in a CJK font on a dark band below the photo."""

from __future__ import annotations

import functools
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

log = logging.getLogger(__name__)

# (path, face index). Noto's .ttc holds JP, KR, SC, TC, HK faces; index 2 is Simplified Chinese.
CJK_FONT_CANDIDATES: tuple[tuple[str, int], ...] = (
    ("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc", 0),  # Debian/Ubuntu fonts-wqy-microhei
    ("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc", 0),  # fonts-wqy-zenhei
    ("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc", 2),  # fonts-noto-cjk
    ("/usr/share/fonts/noto-cjk/NotoSansCJK-Regular.ttc", 2),  # Arch
    ("/usr/share/fonts/google-noto-cjk/NotoSansCJK-Regular.ttc", 2),  # Fedora
    ("/usr/share/fonts/wenquanyi/wqy-microhei/wqy-microhei.ttc", 0),  # Fedora/Arch wqy
    ("/System/Library/Fonts/PingFang.ttc", 0),  # macOS, for developers' machines
    ("C:/Windows/Fonts/msyh.ttc", 0),  # Windows, Microsoft YaHei
)

STRIP_BACKGROUND = (24, 24, 24)
STRIP_TEXT = (255, 255, 255)
_FONT_SIZE_DIVISOR = 45  # font px = width / 45: readable on a phone, ~15% of a 4:3 photo's height
_MIN_FONT_PX = 10
_LINE_SPACING = 1.3


@dataclass(frozen=True, slots=True)
class FontChoice:
    """Which font file the watermark uses; `path` None means Pillow's built-in Latin-only font."""

    path: Path | None
    index: int = 0

    @property
    def is_cjk(self) -> bool:
        return self.path is not None


@functools.cache
def _search_cjk_font() -> FontChoice:
    for path, index in CJK_FONT_CANDIDATES:
        if Path(path).is_file():
            return FontChoice(Path(path), index)
    log.warning("no CJK font found (install fonts-wqy-microhei); watermark Chinese text will not render")
    return FontChoice(None)


def resolve_font(font_path: str | Path | None = None) -> FontChoice:
    """The given font if it exists, else the first CJK font installed, else the built-in fallback."""
    if font_path is not None:
        if Path(font_path).is_file():
            return FontChoice(Path(font_path))
        log.warning("watermark font %s not found; searching standard locations", font_path)
    return _search_cjk_font()


def _load_font(choice: FontChoice, size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    # Loading a face costs about a millisecond; a fresh object per call also keeps FreeType faces
    # out of the worker threads' shared state.
    if choice.path is not None:
        try:
            return ImageFont.truetype(str(choice.path), size, index=choice.index)
        except OSError as exc:
            log.warning("cannot load font %s (%s); using Pillow's default font", choice.path, exc)
    return ImageFont.load_default(size)


def add_watermark_strip(image: Image.Image, lines: Sequence[str], font: FontChoice) -> Image.Image:
    """Returns a new RGB image: `image` with a dark band below it carrying `lines` in light text."""
    width, height = image.size
    size = max(_MIN_FONT_PX, width // _FONT_SIZE_DIVISOR)
    margin = max(4, size // 2)
    face = _load_font(font, size)
    widest = max((face.getlength(line) for line in lines), default=0.0)
    if widest > width - 2 * margin and size > _MIN_FONT_PX:
        # A long village name must not run off the edge: shrink the font to fit the width.
        size = max(_MIN_FONT_PX, int(size * (width - 2 * margin) / widest))
        face = _load_font(font, size)
    line_height = round(size * _LINE_SPACING)
    strip_height = 2 * margin + line_height * max(1, len(lines))
    out = Image.new("RGB", (width, height + strip_height), STRIP_BACKGROUND)
    out.paste(image, (0, 0))
    draw = ImageDraw.Draw(out)
    for i, line in enumerate(lines):
        draw.text((margin, height + margin + i * line_height), line, font=face, fill=STRIP_TEXT)
    return out
