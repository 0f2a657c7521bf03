"""/simulator: the chat page, its JSON API, and the Messaging API the bot's LINE client calls."""

from __future__ import annotations

from flask import Blueprint, Response, abort, current_app, jsonify, render_template, request, url_for

from bot.line import rich_menu

from bot.simulator import events
from bot.simulator.platform import MessagingApi
from bot.simulator.store import DatabaseStore
from bot.services import current_services

bp = Blueprint("simulator", __name__, url_prefix="/simulator")

# Long enough for a person to watch a slow turn, as LINE's own token lives about a minute.
REPLY_TOKEN_TTL = 60.0


def _store() -> DatabaseStore:
    return current_app.extensions["simulator_store"]


@bp.route("/line/<path:api_path>", methods=["GET", "POST", "DELETE"])
def messaging_api(api_path: str):
    config = current_services().config
    answer = MessagingApi(_store(), config.line_channel_access_token).handle(
        request.method, "/" + api_path, dict(request.headers), request.get_data()
    )
    response = jsonify(answer.body)
    response.status_code = answer.status
    response.headers.update(answer.headers)
    return response


@bp.get("/")
def page():
    return render_template("simulator.html", desk_name=current_services().desk_settings.desk_name)


@bp.get("/api/rich-menu")
def default_rich_menu():
    """The menu under the chat: the one deployed to the simulator as default, else the repository's own,
    so `make run` shows it before anyone has run `flask --app bot richmenu deploy`."""
    store = _store()
    deployed = store.default_rich_menu()
    menu = store.rich_menu(deployed) if deployed else None
    if menu is None:
        shown = {**rich_menu.definition(), "richMenuId": None,
                 "imageUrl": url_for("static", filename=rich_menu.IMAGE.name)}
    else:
        shown = {**menu, "imageUrl": url_for("simulator.rich_menu_image", rich_menu_id=deployed)}
    response = jsonify(shown)
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/api/rich-menus/<rich_menu_id>/image")
def rich_menu_image(rich_menu_id: str):
    found = _store().rich_menu_image(rich_menu_id)
    if found is None:
        abort(404)
    content_type, image = found
    # A menu's image never changes once uploaded (LINE allows one upload), so it may be cached.
    return Response(image, content_type=content_type, headers={"Cache-Control": "max-age=86400"})


@bp.get("/api/personas")
def personas():
    return {"personas": _store().personas()}


@bp.post("/api/personas")
def add_persona():
    name = str((request.get_json(silent=True) or {}).get("display_name") or "").strip()
    if not name:
        abort(400, "display_name is required")
    return _store().add_persona(name), 201


@bp.get("/api/chat")
def chat():
    user_id = request.args.get("user_id", "")
    after = request.args.get("after", 0, type=int)
    if not user_id:
        abort(400, "user_id is required")
    response = jsonify({"entries": _store().chat(user_id, after)})
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.post("/api/events")
def make_event():
    """Build and sign one webhook body; the page then posts it to /callback as LINE would."""
    data = request.get_json(silent=True) or {}
    user_id = str(data.get("user_id") or "")
    kind = data.get("type")
    if not user_id.startswith("U"):
        abort(400, "user_id is required")
    store = _store()
    token = store.issue_reply_token(user_id, REPLY_TOKEN_TTL) if kind != "unfollow" else ""
    if kind == "message":
        said = str(data.get("text") or "")
        if not said:
            abort(400, "text is required")
        event, shown = events.text(user_id, token, said), {"type": "message", "text": said}
    elif kind == "sticker":
        event, shown = events.sticker(user_id, token), {"type": "sticker"}
    elif kind == "postback":
        params = {str(k): str(v) for k, v in (data.get("params") or {}).items()}
        event = events.postback(user_id, token, str(data.get("data") or ""), params or None)
        shown = {"type": "postback", "data": str(data.get("data") or ""), "params": params,
                 "display_text": str(data.get("display_text") or "") or None}
    elif kind == "follow":
        unblocked = bool(data.get("unblocked"))
        event, shown = events.follow(user_id, token, unblocked=unblocked), {"type": "follow", "unblocked": unblocked}
    elif kind == "unfollow":
        event, shown = events.unfollow(user_id), {"type": "unfollow"}
    else:
        abort(400, "type must be message, sticker, postback, follow or unfollow")
    store.record_user_action(user_id, shown)
    body = events.body(event)
    secret = current_services().config.line_channel_secret
    return {"body": body, "signature": events.signature(secret, body)}
