"""`flask --app bot richmenu ...`: deploy the repository's rich menu to the LINE channel, list its menus."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from bot.line import rich_menu
from bot.line.rich_menu_api import RichMenuApi, RichMenuError, deploy
from bot.services import current_services

richmenu = AppGroup("richmenu", help="The rich menu under the chat (bot/line/rich_menu.py and its image).")


def _aftermath(error: RichMenuError, simulator: bool) -> str:
    """What the operator needs to know about the channel's state after a failed step."""
    hint = ""
    if simulator and error.status is None and not error.unsent:
        hint = " (in simulator mode the menu goes to the running app's simulator: start it with `make run`)"
    if error.step in ("validate", "create", "upload image") or (error.step == "set default" and error.status):
        return hint + "; the previous default rich menu is unchanged"
    if error.step == "set default":
        return hint + "; LINE may or may not have switched: check with `flask --app bot richmenu show`"
    return hint + "; the new menu is the default, but older ones remain: deploy again to remove them"


@richmenu.command("deploy")
def deploy_command() -> None:
    """Create the rich menu with its image, make it the default, delete the older ones of its name."""
    config = current_services().config
    api = RichMenuApi(config)
    try:
        done = deploy(api, rich_menu.definition(), rich_menu.IMAGE.read_bytes(), rich_menu.IMAGE_TYPE, click.echo)
    except RichMenuError as e:
        raise click.ClickException(str(e) + _aftermath(e, config.simulator)) from None
    finally:
        api.close()
    click.echo(f"rich menu {done.rich_menu_id} is live ({len(done.deleted)} older removed)")


@richmenu.command("show")
def show_command() -> None:
    """List the channel's rich menus; the default one is marked with *."""
    api = RichMenuApi(current_services().config)
    try:
        default, menus = api.default_id(), api.menus()
    except RichMenuError as e:
        raise click.ClickException(str(e)) from None
    finally:
        api.close()
    for menu in menus:
        mark = "*" if menu["richMenuId"] == default else " "
        size = f"{menu['size']['width']}x{menu['size']['height']}"
        click.echo(f"{mark} {menu['richMenuId']}  {menu['name']}  {size}  {menu['chatBarText']}  "
                   f"{len(menu['areas'])} areas")
    if not menus:
        click.echo("no rich menus")
