#!/usr/bin/env python3
"""Draw bot/static/rich-menu.png from the rich menu's layout (bot/line/rich_menu.py).

The committed PNG is what ships; run this again only when the layout or the labels change:

    .venv/bin/pip install pillow             # a dev tool only, never a runtime dependency
    apt-get install fonts-noto-cjk           # if `fc-list :lang=ja` lists no Noto Sans CJK
    .venv/bin/python scripts/make_rich_menu_image.py

It needs Noto Sans CJK Bold (Debian's fonts-noto-cjk). Each tile gets a plain line icon and its
label, split at "・" onto two lines when it does not fit.
"""

from __future__ import annotations

import sys
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.line import rich_menu  # noqa: E402
from conversations import texts  # noqa: E402

FONT = "/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc"
FONT_INDEX = 0  # the .ttc's first face is the Japanese one (Noto Sans CJK JP)
LABEL_PX = 104
LINE_GAP = 24
ICON_PX = 300
GAP = 10  # the white rule between tiles

# A calm public-office palette: one deep blue call to action, the rest pale tints with navy ink.
INK = "#1f3a5f"
STYLE = {  # postback data: (tile, ink, icon accent)
    texts.BOOK: ("#1f5c99", "#ffffff", "#ffffff"),
    texts.MY_BOOKINGS: ("#e8f0f8", INK, "#2f6ea5"),
    texts.CHAT: ("#2f7d6d", "#ffffff", "#ffffff"),
    texts.POLICY: ("#eef4ef", INK, "#3d7a5a"),
    texts.FAQ: ("#f6f2ea", INK, "#9a6a2f"),
}


def calendar(draw: ImageDraw.ImageDraw, box: tuple[int, int, int, int], color: str) -> None:
    left, top, right, bottom = box
    width = 18
    draw.rounded_rectangle((left, top + 30, right, bottom), radius=36, outline=color, width=width)
    draw.rectangle((left + width, top + 100, right - width, top + 100 + width), fill=color)
    for x in (left + 80, right - 80):
        draw.rounded_rectangle((x - 12, top, x + 12, top + 70), radius=12, fill=color)
    cell = (right - left - 120) // 3
    for row in range(2):
        for column in range(3):
            x = left + 60 + column * cell + cell // 2
            y = top + 170 + row * 70
            draw.rounded_rectangle((x - 22, y - 18, x + 22, y + 18), radius=6, fill=color)


def checklist(draw: ImageDraw.ImageDraw, box: tuple[int, int, int, int], color: str) -> None:
    left, top, right, bottom = box
    draw.rounded_rectangle((left + 20, top + 20, right - 20, bottom), radius=30, outline=color, width=18)
    draw.rounded_rectangle((left + 90, top, right - 90, top + 60), radius=18, fill=color)
    for i in range(3):
        y = top + 120 + i * 60
        draw.line((left + 70, y, left + 100, y + 26, left + 140, y - 20), fill=color, width=14, joint="curve")
        draw.rounded_rectangle((left + 165, y - 6, right - 70, y + 14), radius=10, fill=color)


def document(draw: ImageDraw.ImageDraw, box: tuple[int, int, int, int], color: str) -> None:
    left, top, right, bottom = box
    fold = 70
    left, right = left + 35, right - 35
    draw.line((left, top, right - fold, top, right, top + fold, right, bottom, left, bottom, left, top),
              fill=color, width=18, joint="curve")
    draw.line((right - fold, top, right - fold, top + fold, right, top + fold), fill=color, width=14)
    for i, end in enumerate((right - 50, right - 50, right - 50, left + 140)):
        y = top + 110 + i * 45
        draw.rounded_rectangle((left + 45, y, end, y + 18), radius=9, fill=color)


def question(draw: ImageDraw.ImageDraw, box: tuple[int, int, int, int], color: str) -> None:
    left, top, right, bottom = box
    draw.rounded_rectangle((left, top + 10, right, bottom - 60), radius=60, outline=color, width=18)
    draw.polygon(((left + 70, bottom - 75), (left + 70, bottom), (left + 150, bottom - 75)), fill=color)
    mark = ImageFont.truetype(FONT, 170, index=FONT_INDEX)
    # "mm" centres on the font's em box, where a Latin "?" sits high: nudge it to the visual middle.
    draw.text(((left + right) // 2, (top + bottom - 50) // 2 + 18), "?", font=mark, fill=color, anchor="mm")


def bubbles(draw: ImageDraw.ImageDraw, box: tuple[int, int, int, int], color: str) -> None:
    left, top, right, bottom = box
    # Two speech bubbles: the user's, and the counsellor's answer overlapping it.
    draw.rounded_rectangle((left, top + 20, right - 90, top + 170), radius=50, outline=color, width=18)
    draw.polygon(((left + 60, top + 160), (left + 40, top + 230), (left + 130, top + 165)), fill=color)
    draw.rounded_rectangle((left + 90, top + 130, right, bottom - 40), radius=50, fill=color)
    draw.polygon(((right - 60, bottom - 50), (right - 30, bottom + 10), (right - 130, bottom - 50)), fill=color)


ICONS = {texts.BOOK: calendar, texts.CHAT: bubbles, texts.MY_BOOKINGS: checklist, texts.POLICY: document, texts.FAQ: question}


def label_lines(label: str, font: ImageFont.FreeTypeFont, room: int) -> list[str]:
    if font.getlength(label) <= room or "・" not in label:
        return [label]
    head, _, tail = label.partition("・")
    return [head, tail]


def draw_tile(draw: ImageDraw.ImageDraw, label: str, data: str, bounds: dict[str, int]) -> None:
    tile, ink, accent = STYLE[data]
    x, y, w, h = bounds["x"], bounds["y"], bounds["width"], bounds["height"]
    draw.rectangle((x, y, x + w - 1, y + h - 1), fill=tile)
    font = ImageFont.truetype(FONT, LABEL_PX, index=FONT_INDEX)
    lines = label_lines(label, font, w - 120)
    text_height = len(lines) * LABEL_PX + (len(lines) - 1) * LINE_GAP
    block = ICON_PX + 70 + text_height
    top = y + (h - block) // 2
    centre = x + w // 2
    ICONS[data](draw, (centre - ICON_PX // 2, top, centre + ICON_PX // 2, top + ICON_PX), accent)
    for i, line in enumerate(lines):
        line_top = top + ICON_PX + 70 + i * (LABEL_PX + LINE_GAP)
        draw.text((centre, line_top), line, font=font, fill=ink, anchor="mt")


def main() -> None:
    image = Image.new("RGB", (rich_menu.WIDTH, rich_menu.HEIGHT), "#ffffff")
    draw = ImageDraw.Draw(image)
    for label, data, bounds in rich_menu.tiles():
        draw_tile(draw, label, data, bounds)
    # The white rules between tiles, drawn over the tile edges.
    for _, _, b in rich_menu.tiles():
        if b["x"]:
            draw.rectangle((b["x"] - GAP // 2, b["y"], b["x"] + GAP // 2 - 1, b["y"] + b["height"]), fill="#ffffff")
        if b["y"]:
            draw.rectangle((b["x"], b["y"] - GAP // 2, b["x"] + b["width"], b["y"] + GAP // 2 - 1), fill="#ffffff")
    # A small palette keeps the file far under LINE's 1 MB while the text stays smooth.
    image.quantize(colors=64, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE).save(
        rich_menu.IMAGE, optimize=True)
    print(f"wrote {rich_menu.IMAGE} ({rich_menu.IMAGE.stat().st_size} bytes)")


if __name__ == "__main__":
    main()
