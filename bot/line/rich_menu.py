"""The rich menu under the chat, as LINE's rich menu object, and the image that ships with it.

Its tiles send exactly the postbacks of the menu's quick replies (`conversations.texts.MENU_ITEMS`),
so tapping a tile and tapping a chip are the same turn for the conversation rules. The image is drawn
from this layout by `scripts/make_rich_menu_image.py` and committed; `flask --app bot richmenu deploy`
uploads it, and the simulator shows it when no menu was deployed to it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from conversations.texts import MENU_ITEMS

# Stable: deploy finds the menus it made earlier by this name and replaces them.
NAME = "mirai-career-port/main-menu"
CHAT_BAR_TEXT = "メニュー"
WIDTH, HEIGHT = 2500, 1686
ROWS = 2
IMAGE = Path(__file__).resolve().parents[1] / "static" / "rich-menu.png"
IMAGE_TYPE = "image/png"


def tiles() -> list[tuple[str, str, dict[str, int]]]:
    """(label, postback data, bounds) of each tile, left to right and top to bottom: two rows, the
    top one taking the odd tile, each row's tiles sharing its width."""
    items = list(MENU_ITEMS)
    top = (len(items) + 1) // 2
    rows = [items[:top], items[top:]]
    height = HEIGHT // ROWS
    laid_out = []
    for row, row_items in enumerate(rows):
        width = WIDTH // len(row_items)
        for column, (label, data) in enumerate(row_items):
            last_column, last_row = column == len(row_items) - 1, row == ROWS - 1
            # The last row and column take the odd pixels, so the areas cover the whole image.
            bounds = {"x": column * width, "y": row * height,
                      "width": WIDTH - column * width if last_column else width,
                      "height": HEIGHT - row * height if last_row else height}
            laid_out.append((label, data, bounds))
    return laid_out


def definition() -> dict[str, Any]:
    """The rich menu object sent to LINE's "Create rich menu"."""
    return {
        "size": {"width": WIDTH, "height": HEIGHT},
        "selected": True,  # open when the chat opens, as a first-time user needs it
        "name": NAME,
        "chatBarText": CHAT_BAR_TEXT,
        "areas": [{"bounds": bounds,
                   "action": {"type": "postback", "label": label, "data": data, "displayText": label}}
                  for label, data, bounds in tiles()],
    }
