"""Deploying the rich menu through line-bot-sdk's v3 clients: validate, create, upload, make default.

The order keeps users with a working menu whatever fails: the old default stays until the new menu
has its image and is the default, and only then are the older menus of the same name deleted. A
run that fails half-way leaves a menu nobody sees; the next successful run deletes it with the rest.
Never logs or prints the access token.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Callable

import urllib3
from linebot.v3.messaging import ApiClient, Configuration, MessagingApi, MessagingApiBlob, RichMenuRequest
from linebot.v3.messaging.exceptions import ApiException

from bot.config import Config


class RichMenuError(Exception):
    """A step LINE refused or did not answer, with what LINE said (never message content)."""

    def __init__(self, step: str, status: int | None, detail: str, request_id: str | None = None, *,
                 unsent: bool = False) -> None:
        self.step, self.status, self.detail, self.request_id = step, status, detail, request_id
        self.unsent = unsent  # the SDK's own checks refused it: LINE was never asked
        answer = "refused before sending" if unsent else f"LINE answered {status}" if status else "no answer from LINE"
        where = f" (x-line-request-id {request_id})" if request_id else ""
        super().__init__(f"{step} failed: {answer}: {detail}{where}")


def _client(host: str, access_token: str) -> ApiClient:
    configuration = Configuration(host=host, access_token=access_token)
    # A deploy is run by a person who can run it again; urllib3 must not resend a POST behind our back.
    configuration.retries = urllib3.Retry(total=0, connect=0, read=0, redirect=0, status=0)
    return ApiClient(configuration)


def _detail(body: Any) -> str:
    try:
        answer = json.loads(body)
    except (TypeError, ValueError):
        return ""
    if not isinstance(answer, dict):
        return ""
    details = "; ".join(f"{d.get('property', '')}: {d.get('message', '')}" for d in answer.get("details") or []
                        if isinstance(d, dict))
    return (str(answer.get("message", "")) + (f" ({details})" if details else ""))[:500]


def _request_id(headers: Any) -> str | None:
    return next((v for k, v in dict(headers or {}).items() if k.lower() == "x-line-request-id"), None)


def _request(menu: dict[str, Any]) -> RichMenuRequest:
    try:
        return RichMenuRequest.from_dict(menu)
    except ValueError as e:  # the SDK's pydantic models check lengths and ranges before any request
        raise RichMenuError("validate", None, " ".join(str(e).split())[:500], unsent=True) from None


class RichMenuApi:
    def __init__(self, config: Config) -> None:
        token = config.line_channel_access_token
        self._clients = [_client(config.line_api_base_url, token), _client(config.line_api_data_url, token)]
        self._api = MessagingApi(self._clients[0])
        self._blob = MessagingApiBlob(self._clients[1])  # uploads go to LINE's api-data host
        # An image upload is up to 1 MB: give it more time than a message.
        self._timeout = (config.line_connect_timeout, max(config.line_read_timeout, 30.0))

    def close(self) -> None:
        for client in self._clients:
            client.close()

    def _call(self, step: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, _request_timeout=self._timeout, **kwargs)
        except ApiException as e:
            raise RichMenuError(step, e.status or None, _detail(e.body), _request_id(e.headers)) from None
        except (urllib3.exceptions.HTTPError, OSError) as e:
            raise RichMenuError(step, None, type(e).__name__) from None

    def validate(self, menu: dict[str, Any]) -> None:
        self._call("validate", self._api.validate_rich_menu_object, _request(menu))

    def create(self, menu: dict[str, Any]) -> str:
        return self._call("create", self._api.create_rich_menu, _request(menu)).rich_menu_id

    def upload_image(self, rich_menu_id: str, image: bytes, content_type: str) -> None:
        # The SDK sets no Content-Type for this call; without one it would try to send JSON.
        self._call("upload image", self._blob.set_rich_menu_image, rich_menu_id, image,
                   _headers={"Content-Type": content_type})

    def set_default(self, rich_menu_id: str) -> None:
        self._call("set default", self._api.set_default_rich_menu, rich_menu_id)

    def default_id(self) -> str | None:
        try:
            return self._call("get default", self._api.get_default_rich_menu_id).rich_menu_id
        except RichMenuError as e:
            if e.status == 404:  # LINE's answer when no default is set
                return None
            raise

    def menus(self) -> list[dict[str, Any]]:
        answer = self._call("list", self._api.get_rich_menu_list)
        return [menu.to_dict() for menu in answer.richmenus]

    def delete(self, rich_menu_id: str) -> None:
        self._call("delete", self._api.delete_rich_menu, rich_menu_id)


@dataclass(frozen=True)
class Deployed:
    rich_menu_id: str
    deleted: tuple[str, ...]


def deploy(api: RichMenuApi, menu: dict[str, Any], image: bytes, content_type: str,
           say: Callable[[str], None] = lambda _: None) -> Deployed:
    """Put `menu` with `image` in front of every user and delete the older menus of the same name."""
    api.validate(menu)
    rich_menu_id = api.create(menu)
    say(f"created rich menu {rich_menu_id}")
    api.upload_image(rich_menu_id, image, content_type)
    say(f"uploaded its image ({len(image):,} bytes, {content_type})")
    api.set_default(rich_menu_id)
    say(f"set {rich_menu_id} as the default rich menu")
    older = [m["richMenuId"] for m in api.menus() if m.get("name") == menu["name"] and m["richMenuId"] != rich_menu_id]
    for old in older:
        api.delete(old)
        say(f"deleted the older rich menu {old}")
    return Deployed(rich_menu_id, tuple(older))
