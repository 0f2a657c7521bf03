"""The rich menu: `flask --app bot richmenu deploy` against the fake LINE platform and the simulator.

The command's real line-bot-sdk clients talk HTTP to the fake (tests/support/fake_line.py), which
answers as LINE does and keeps what was deployed in its store.
"""

from __future__ import annotations

import io
import json
import struct
import urllib.request
import zlib
from typing import Iterator

import pytest
from flask import Flask
from PIL import Image

from bot import create_app
from bot.line import rich_menu
from bot.config import Config
from bot.line.rich_menu_api import RichMenuApi, RichMenuError, deploy
from conversations.texts import MENU_ITEMS
from tests.conftest import ACCESS_TOKEN, CHANNEL_SECRET
from tests.support.fake_line import FakeLine

UPLOAD = "/v2/bot/richmenu/*/content"
SET_DEFAULT = "/v2/bot/user/all/richmenu/*"


def line_config(fake_line: FakeLine, tmp_path, token: str = ACCESS_TOKEN) -> Config:
    # The rich menu commands never touch the database: an empty SQLite file will do.
    return Config(secret_key="test-secret-key", database_url=f"sqlite:///{tmp_path / 'unused.sqlite3'}",
                  line_channel_secret=CHANNEL_SECRET, line_channel_access_token=token,
                  line_api_base_url=fake_line.url, simulator=False, instance_dir=tmp_path / "instance",
                  line_read_timeout=2.0)


@pytest.fixture
def line_app(fake_line, tmp_path) -> Iterator[Flask]:
    app = create_app(line_config(fake_line, tmp_path))
    yield app
    app.extensions["services"].close()


def run(app: Flask, *args: str):
    return app.test_cli_runner().invoke(args=["richmenu", *args])


def ours(fake_line: FakeLine) -> list[dict]:
    return [m for m in fake_line.store.rich_menus() if m["name"] == rich_menu.NAME]


def png(width: int, height: int) -> bytes:
    """A real grey PNG of this size."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    rows = b"".join(b"\x00" + b"\x80" * width for _ in range(height))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


def test_deploy_creates_the_menu_with_the_menu_postbacks_uploads_the_image_and_makes_it_the_default(
        line_app, fake_line):
    result = run(line_app, "deploy")

    assert result.exit_code == 0, result.output
    [menu] = ours(fake_line)
    assert menu["richMenuId"] in result.output
    assert menu["chatBarText"] == "メニュー" and menu["selected"] is True
    assert menu["size"] == {"width": rich_menu.WIDTH, "height": rich_menu.HEIGHT}
    actions = [area["action"] for area in menu["areas"]]
    assert actions == [{"type": "postback", "label": label, "data": data, "displayText": label}
                       for label, data in MENU_ITEMS]
    assert fake_line.store.rich_menu_image(menu["richMenuId"]) == ("image/png", rich_menu.IMAGE.read_bytes())
    assert fake_line.store.default_rich_menu() == menu["richMenuId"]
    steps = [(c.method, c.path.replace(menu["richMenuId"], "ID"), c.status) for c in fake_line.calls]
    assert steps == [("POST", "/v2/bot/richmenu/validate", 200), ("POST", "/v2/bot/richmenu", 200),
                     ("POST", "/v2/bot/richmenu/ID/content", 200), ("POST", "/v2/bot/user/all/richmenu/ID", 200),
                     ("GET", "/v2/bot/richmenu/list", 200)]


def test_deploying_again_leaves_exactly_one_menu_of_ours_the_new_default_and_other_menus_alone(
        line_app, fake_line, tmp_path):
    api = RichMenuApi(line_config(fake_line, tmp_path))
    campaign = api.create({**rich_menu.definition(), "name": "spring-campaign"})
    api.close()
    assert run(line_app, "deploy").exit_code == 0
    [first] = ours(fake_line)

    result = run(line_app, "deploy")

    assert result.exit_code == 0, result.output
    [second] = ours(fake_line)
    assert second["richMenuId"] != first["richMenuId"]
    assert fake_line.store.default_rich_menu() == second["richMenuId"]
    assert f"deleted the older rich menu {first['richMenuId']}" in result.output
    assert fake_line.store.rich_menu(campaign) is not None


@pytest.mark.parametrize("failing, step", [(UPLOAD, "upload image"), (SET_DEFAULT, "set default")])
def test_a_step_that_fails_half_way_leaves_the_old_default_and_the_next_deploy_tidies_up(
        line_app, fake_line, failing, step):
    assert run(line_app, "deploy").exit_code == 0
    [old] = ours(fake_line)
    fake_line.fail_next(failing, 500)

    failed = run(line_app, "deploy")

    assert failed.exit_code == 1
    assert f"{step} failed: LINE answered 500" in failed.output
    assert "the previous default rich menu is unchanged" in failed.output
    assert fake_line.store.default_rich_menu() == old["richMenuId"]
    assert fake_line.store.rich_menu_image(old["richMenuId"]) is not None

    assert run(line_app, "deploy").exit_code == 0
    [new] = ours(fake_line)
    assert new["richMenuId"] != old["richMenuId"]
    assert fake_line.store.default_rich_menu() == new["richMenuId"]


def test_line_refuses_an_image_of_another_size_than_the_menu_and_the_old_default_stays(
        line_app, fake_line, tmp_path):
    assert run(line_app, "deploy").exit_code == 0
    [old] = ours(fake_line)
    api = RichMenuApi(line_config(fake_line, tmp_path))

    with pytest.raises(RichMenuError) as refused:
        deploy(api, rich_menu.definition(), png(2500, 843), "image/png")
    api.close()

    assert (refused.value.step, refused.value.status) == ("upload image", 400)
    assert "2500x843" in refused.value.detail and "2500x1686" in refused.value.detail
    assert fake_line.store.default_rich_menu() == old["richMenuId"]


def outside(menu: dict) -> dict:
    areas = [dict(area) for area in menu["areas"]]
    areas[-1] = {**areas[-1], "bounds": {**areas[-1]["bounds"], "width": 2000}}
    return {**menu, "areas": areas}


@pytest.mark.parametrize("change, problem, unsent", [
    (lambda menu: {**menu, "chatBarText": "メニューを開いてご用件をお選びください"}, "chatBarText", True),
    (outside, f"areas[{len(MENU_ITEMS) - 1}].bounds", False),  # the SDK cannot know; LINE's validate endpoint does
])
def test_a_menu_line_would_reject_is_stopped_at_validation_before_anything_is_created(
        fake_line, tmp_path, change, problem, unsent):
    api = RichMenuApi(line_config(fake_line, tmp_path))

    with pytest.raises(RichMenuError) as refused:
        deploy(api, change(rich_menu.definition()), rich_menu.IMAGE.read_bytes(), rich_menu.IMAGE_TYPE)
    api.close()

    assert refused.value.step == "validate" and refused.value.unsent is unsent
    assert refused.value.status == (None if unsent else 400)
    assert problem in refused.value.detail
    assert fake_line.store.rich_menus() == []


def test_a_wrong_access_token_fails_the_deploy_with_lines_401_and_creates_nothing(fake_line, tmp_path):
    app = create_app(line_config(fake_line, tmp_path, token="not-the-channels-token"))
    try:
        result = run(app, "deploy")
    finally:
        app.extensions["services"].close()

    assert result.exit_code == 1
    assert "validate failed: LINE answered 401" in result.output
    assert "not-the-channels-token" not in result.output
    assert fake_line.store.rich_menus() == []


def test_show_lists_the_channels_menus_and_marks_the_default(line_app, fake_line):
    assert run(line_app, "show").output.strip() == "no rich menus"
    run(line_app, "deploy")
    [menu] = ours(fake_line)

    listed = run(line_app, "show")

    assert listed.exit_code == 0
    assert listed.output.strip() == (f"* {menu['richMenuId']}  {rich_menu.NAME}  2500x1686  メニュー  {len(MENU_ITEMS)} areas")


def test_the_committed_image_is_a_png_of_the_menus_size_within_lines_limits_and_the_areas_cover_it():
    data = rich_menu.IMAGE.read_bytes()
    image = Image.open(io.BytesIO(data))

    assert image.format == "PNG"
    assert image.size == (rich_menu.WIDTH, rich_menu.HEIGHT)
    assert len(data) <= 1024 * 1024
    covered = sum(b["width"] * b["height"] for _, _, b in rich_menu.tiles())
    assert covered == rich_menu.WIDTH * rich_menu.HEIGHT
    assert all(b["x"] + b["width"] <= rich_menu.WIDTH and b["y"] + b["height"] <= rich_menu.HEIGHT
               for _, _, b in rich_menu.tiles())


def get(url: str) -> tuple[str, bytes]:
    with urllib.request.urlopen(url, timeout=5) as response:
        return response.headers["Content-Type"], response.read()


def test_the_simulator_shows_the_repositorys_menu_until_one_is_deployed_to_it_and_then_that_one(live):
    shown = json.loads(get(f"{live.url}/simulator/api/rich-menu")[1])
    assert shown["richMenuId"] is None and shown["areas"] == rich_menu.definition()["areas"]
    assert get(live.url + shown["imageUrl"])[1] == rich_menu.IMAGE.read_bytes()

    for _ in range(2):  # the second deploy replaces the first in the simulator's database too
        result = live.app.test_cli_runner().invoke(args=["richmenu", "deploy"])
        assert result.exit_code == 0, result.output

    [deployed] = [m for m in live.store.rich_menus() if m["name"] == rich_menu.NAME]
    shown = json.loads(get(f"{live.url}/simulator/api/rich-menu")[1])
    assert shown["richMenuId"] == deployed["richMenuId"] == live.store.default_rich_menu()
    assert [a["action"]["data"] for a in shown["areas"]] == [data for _, data in MENU_ITEMS]
    assert get(live.url + shown["imageUrl"]) == ("image/png", rich_menu.IMAGE.read_bytes())


def test_image_uploads_go_to_lines_data_host_unless_the_api_host_is_moved(tmp_path):
    real = {"LINE_CHANNEL_SECRET": "s", "LINE_CHANNEL_ACCESS_TOKEN": "t", "SECRET_KEY": "k",
            "PUBLIC_BASE_URL": "https://desk.example.jp", "INSTANCE_PATH": str(tmp_path)}

    def data_host(env: dict[str, str]) -> str:
        return Config.from_env(env).line_api_data_url

    assert data_host(real) == "https://api-data.line.me"
    assert data_host({**real, "LINE_API_BASE_URL": "http://127.0.0.1:9/"}) == "http://127.0.0.1:9"
    assert data_host({**real, "LINE_API_DATA_BASE_URL": "https://proxy.example/data/"}) == "https://proxy.example/data"
    assert data_host({"INSTANCE_PATH": str(tmp_path), "PORT": "8123"}) == "http://127.0.0.1:8123/simulator/line"
