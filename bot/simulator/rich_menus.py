"""The Messaging API's rich menu endpoints, answered as LINE answers them.

LINE's rules: a rich menu object is validated on create (size 800-2500 wide, at least 250 high and
1.45 times wider than high; name up to 300 characters; chatBarText up to 14; at most 20 areas, each
inside the menu; postback data up to 300 characters); a channel holds at most 1,000 menus. An image
(PNG or JPEG, at most 1 MB, here of exactly the menu's size) can be uploaded once per menu, and a
menu without one cannot become the default. Errors have LINE's shape: a `message` and, for a bad
request body, `details` with each property's problem.
"""

from __future__ import annotations

import re
import secrets
import struct
from typing import Any, Protocol

MAX_MENUS = 1000
MAX_IMAGE_BYTES = 1024 * 1024
ACTION_TYPES = {"postback", "message", "uri", "datetimepicker", "richmenuswitch", "camera", "cameraRoll",
                "location", "clipboard"}
PREFIXES = ("/v2/bot/richmenu", "/v2/bot/user/all/richmenu")
_MENU = re.compile(r"^/v2/bot/richmenu/(richmenu-[0-9a-f]{32})$")
_CONTENT = re.compile(r"^/v2/bot/richmenu/(richmenu-[0-9a-f]{32})/content$")
_DEFAULT = re.compile(r"^/v2/bot/user/all/richmenu/(richmenu-[0-9a-f]{32})$")

Reply = tuple[int, dict[str, Any]]


class RichMenuStore(Protocol):
    def rich_menus(self) -> list[dict[str, Any]]: ...
    def rich_menu(self, rich_menu_id: str) -> dict[str, Any] | None: ...
    def add_rich_menu(self, menu: dict[str, Any]) -> None: ...
    def delete_rich_menu(self, rich_menu_id: str) -> None: ...
    def rich_menu_image(self, rich_menu_id: str) -> tuple[str, bytes] | None: ...
    def attach_rich_menu_image(self, rich_menu_id: str, content_type: str, image: bytes) -> None: ...
    def default_rich_menu(self) -> str | None: ...
    def set_default_rich_menu(self, rich_menu_id: str | None) -> None: ...


def _text(value: Any, low: int, high: int) -> bool:
    return isinstance(value, str) and low <= len(value) <= high


def _whole(value: Any, low: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= low


def _action_problems(action: Any, where: str) -> list[dict[str, str]]:
    if not isinstance(action, dict) or action.get("type") not in ACTION_TYPES:
        return [{"message": "invalid action type", "property": f"{where}.type"}]
    problems = []
    if "label" in action and not _text(action["label"], 0, 20):
        problems.append({"message": "size must be between 0 and 20", "property": f"{where}.label"})
    if action["type"] == "postback":
        if not _text(action.get("data"), 1, 300):
            problems.append({"message": "size must be between 1 and 300", "property": f"{where}.data"})
        if "displayText" in action and not _text(action["displayText"], 1, 300):
            problems.append({"message": "size must be between 1 and 300", "property": f"{where}.displayText"})
    if action["type"] == "message" and not _text(action.get("text"), 1, 300):
        problems.append({"message": "size must be between 1 and 300", "property": f"{where}.text"})
    if action["type"] == "uri" and not _text(action.get("uri"), 1, 1000):
        problems.append({"message": "size must be between 1 and 1000", "property": f"{where}.uri"})
    return problems


def problems(menu: dict[str, Any]) -> list[dict[str, str]]:
    """What LINE would reject in a rich menu object, as its error `details`."""
    found: list[dict[str, str]] = []
    size = menu.get("size")
    width = size.get("width") if isinstance(size, dict) else None
    height = size.get("height") if isinstance(size, dict) else None
    if not (_whole(width, 800) and width <= 2500 and _whole(height, 250) and width / height >= 1.45):
        found.append({"message": "must be 800 to 2500 wide, at least 250 high and 1.45 times wider than high",
                      "property": "size"})
        width = height = None
    if not isinstance(menu.get("selected"), bool):
        found.append({"message": "must be specified", "property": "selected"})
    if not _text(menu.get("name"), 1, 300):
        found.append({"message": "size must be between 1 and 300", "property": "name"})
    if not _text(menu.get("chatBarText"), 1, 14):
        found.append({"message": "size must be between 1 and 14", "property": "chatBarText"})
    areas = menu.get("areas")
    if not isinstance(areas, list) or len(areas) > 20:
        found.append({"message": "size must be between 0 and 20", "property": "areas"})
        return found
    for i, area in enumerate(areas):
        where = f"areas[{i}]"
        bounds = area.get("bounds") if isinstance(area, dict) else None
        b = bounds if isinstance(bounds, dict) else {}
        if not (_whole(b.get("x"), 0) and _whole(b.get("y"), 0) and _whole(b.get("width"), 1)
                and _whole(b.get("height"), 1)):
            found.append({"message": "invalid bounds", "property": f"{where}.bounds"})
        elif width is not None and (b["x"] + b["width"] > width or b["y"] + b["height"] > height):
            found.append({"message": "must be inside the rich menu", "property": f"{where}.bounds"})
        found += _action_problems(area.get("action") if isinstance(area, dict) else None, f"{where}.action")
    return found


def image_size(image: bytes) -> tuple[int, int] | None:
    """Width and height of a PNG or JPEG, read from its header; None when it is neither."""
    if image.startswith(b"\x89PNG\r\n\x1a\n") and image[12:16] == b"IHDR":
        return struct.unpack(">II", image[16:24])
    if not image.startswith(b"\xff\xd8"):
        return None
    at = 2
    while at + 9 < len(image):
        if image[at] != 0xFF:
            return None
        marker = image[at + 1]
        length = struct.unpack(">H", image[at + 2:at + 4])[0]
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):  # a start-of-frame segment
            height, width = struct.unpack(">HH", image[at + 5:at + 9])
            return width, height
        at += 2 + length
    return None


def _bad_body(found: list[dict[str, str]]) -> Reply:
    return 400, {"message": f"The request body has {len(found)} error(s)", "details": found}


def handle(store: RichMenuStore, method: str, path: str, headers: dict[str, str], raw: bytes,
           body: dict[str, Any] | None) -> Reply:
    """One rich menu request; `body` is the parsed JSON for the endpoints that take JSON."""
    if method == "POST" and path in ("/v2/bot/richmenu", "/v2/bot/richmenu/validate"):
        if body is None:
            return 400, {"message": "The request body could not be parsed as JSON"}
        found = problems(body)
        if found:
            return _bad_body(found)
        if path.endswith("/validate"):
            return 200, {}
        if len(store.rich_menus()) >= MAX_MENUS:
            return 400, {"message": "The number of rich menus has reached the upper limit"}
        rich_menu_id = "richmenu-" + secrets.token_hex(16)
        store.add_rich_menu({"richMenuId": rich_menu_id, **{k: body[k] for k in
                                                            ("size", "selected", "name", "chatBarText", "areas")}})
        return 200, {"richMenuId": rich_menu_id}
    if method == "GET" and path == "/v2/bot/richmenu/list":
        return 200, {"richmenus": store.rich_menus()}
    if path == "/v2/bot/user/all/richmenu" and method == "DELETE":
        store.set_default_rich_menu(None)
        return 200, {}
    if path == "/v2/bot/user/all/richmenu" and method == "GET":
        default = store.default_rich_menu()
        return (200, {"richMenuId": default}) if default else (404, {"message": "no default richmenu"})
    if (found := _CONTENT.match(path)) and method == "POST":
        return _upload(store, found.group(1), headers, raw)
    if (found := _DEFAULT.match(path)) and method == "POST":
        if store.rich_menu(found.group(1)) is None:
            return 404, {"message": "Not found"}
        if store.rich_menu_image(found.group(1)) is None:
            return 400, {"message": "must upload richmenu image before applying it to user"}
        store.set_default_rich_menu(found.group(1))
        return 200, {}
    if (found := _MENU.match(path)) and method in ("GET", "DELETE"):
        menu = store.rich_menu(found.group(1))
        if menu is None:
            return 404, {"message": "Not found"}
        if method == "GET":
            return 200, menu
        store.delete_rich_menu(found.group(1))
        return 200, {}
    return 404, {"message": "Not found"}


def _upload(store: RichMenuStore, rich_menu_id: str, headers: dict[str, str], image: bytes) -> Reply:
    content_type = headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type not in ("image/png", "image/jpeg"):
        return 415, {"message": "A content type not supported by the API is requested"}
    menu = store.rich_menu(rich_menu_id)
    if menu is None:
        return 404, {"message": "Not found"}
    if len(image) > MAX_IMAGE_BYTES:
        return 413, {"message": "Request entity too large"}
    size = image_size(image)
    if size is None or (content_type == "image/png") != image.startswith(b"\x89PNG"):
        return 400, {"message": "The image could not be read as " + content_type}
    if size != (menu["size"]["width"], menu["size"]["height"]):
        return 400, {"message": f"The image is {size[0]}x{size[1]}; the rich menu is "
                                f"{menu['size']['width']}x{menu['size']['height']}"}
    if store.rich_menu_image(rich_menu_id) is not None:
        return 400, {"message": "An image has already been uploaded to the richmenu"}
    store.attach_rich_menu_image(rich_menu_id, content_type, image)
    return 200, {}
