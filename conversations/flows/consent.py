"""Consent to the operating policy (利用規約 to users): shown before anything personal is asked, recorded per version."""

from __future__ import annotations

from conversations import chat
from conversations import messages as m
from conversations import texts
from conversations.schedule import to_tokyo
from conversations.flow import Chose, Ctx, Exit, Finish, Flow, Outcome, Reask, Reply, Said, Start, Step

AGREE_WORDS = ("同意する", "同意します", "はい")
DECLINE_WORDS = ("同意しない", "同意しません", "いいえ")


def policy_card(ctx: Ctx) -> list[m.Message]:
    policy = ctx.desk.policy()
    url = f"{ctx.desk.settings.policy_url}/{policy.version}"
    bubble = {
        "type": "bubble",
        "header": {"type": "box", "layout": "vertical", "contents": [
            {"type": "text", "text": "ご利用の前に", "size": "sm", "color": "#888888"},
            {"type": "text", "text": policy.title, "weight": "bold", "wrap": True},
        ]},
        "body": {"type": "box", "layout": "vertical", "spacing": "md", "contents": [
            {"type": "text", "text": f"{ctx.desk.settings.desk_name}は、{texts.who_for(ctx.desk.settings)}のための"
                                     "相談窓口です。", "wrap": True, "size": "sm", "weight": "bold"},
            {"type": "text", "text": policy.summary, "wrap": True, "size": "sm"},
            {"type": "text", "text": f"施行日：{texts.day_label(policy.effective, to_tokyo(ctx.desk.now()).date())}",
             "size": "xs", "color": "#888888"},
        ]},
        "footer": {"type": "box", "layout": "vertical", "spacing": "sm", "contents": [
            {"type": "button", "style": "link", "action": m.uri_action("全文を読む", url)},
            {"type": "button", "style": "primary", "action": ctx.button("同意する", "agree", "yes")},
            {"type": "button", "style": "secondary", "action": ctx.button("同意しない", "agree", "no")},
        ]},
    }
    return [m.flex("利用規約への同意のお願い", bubble)]


def ask_agreement(ctx: Ctx) -> list[m.Message]:
    return [m.text("ご相談の予約には、利用規約への同意が必要です。内容をご確認ください。")] + policy_card(ctx)


def judge_agreement(ctx: Ctx, reply: Reply) -> Outcome:
    agreed = None
    if isinstance(reply, Chose):
        agreed = {"yes": True, "no": False}.get(reply.value)
    elif isinstance(reply, Said):
        agreed = True if reply.text in AGREE_WORDS else False if reply.text in DECLINE_WORDS else None
    if agreed is None:
        return Reask("「同意する」または「同意しない」をお選びください。")
    version = ctx.desk.policy().version
    ctx.desk.record_consent(version, agreed)
    if not agreed:
        return Exit([m.text("同意いただけない場合、本サービスはご利用いただけません。\n"
                            "ご確認いただける場合は、いつでも「利用規約」からお手続きください。",
                            [m.postback_action("利用規約", "menu:policy", "利用規約")])])
    thanks = m.text("ご同意いただき、ありがとうございます。")
    if ctx.answers.get("then") == "booking":
        return Start("booking", [thanks])
    if ctx.answers.get("then") == "chat":
        return Finish([thanks] + chat.ask_for_person(ctx.desk))
    return Finish([thanks])


CONSENT = Flow(
    name="consent",
    steps=(
        Step("agree", ask_agreement, judge_agreement,
             help="利用規約をお読みいただき、「同意する」か「同意しない」をお選びください。",
             reask_with_question=True),
    ),
)
