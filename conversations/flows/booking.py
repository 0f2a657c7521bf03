"""相談を予約する: the booking intake, in the order the desk asks.

topic → age (flows/booking_age.py) → date → time (the slot is held from here) → name → reading → e-mail → phone →
what the consultation is about → a summary to confirm, correct, or abandon.
"""

from __future__ import annotations

from datetime import date, datetime

from conversations import messages as m
from conversations import questions
from conversations import validators as v
from conversations.crisis import mentions_crisis
from conversations.desk import BookingDetails, Confirmed, LimitReached, SlotLost
from conversations.flow import Advance, Chose, Ctx, Exit, Finish, Flow, Outcome, Reask, Reply, Said, Stay, Step
from conversations.schedule import label_date, label_slot, to_tokyo
from conversations.texts import NAV
from conversations.when import parse_day, parse_time
from conversations.flows import booking_age, booking_attendant, booking_reuse
from conversations.flows import booking_cards as cards


def guard(ctx: Ctx) -> Outcome | None:
    desk = ctx.desk
    reason = desk.restriction()
    if reason is not None:
        return Finish([m.text("申し訳ありません。現在、このアカウントからは予約をお受けできません。\n"
                              f"お問い合わせは窓口のお電話（{desk.settings.phone}）までお願いします。")])
    active = desk.active_bookings()
    if len(active) >= desk.settings.rules.max_active_bookings_per_user:
        return Finish([m.text("すでにご予約があります。同時にお取りできる予約は"
                              f"{desk.settings.rules.max_active_bookings_per_user}件までです。",
                              [m.postback_action("予約の確認・キャンセル", "menu:bookings", "予約の確認・キャンセル")])])
    return None


# 1. Topic

def ask_topic(ctx: Ctx) -> list[m.Message]:
    topics = ctx.desk.settings.topics
    return [m.text("ご相談のテーマをお選びください。",
                   [ctx.button(t, "topic", str(i)) for i, t in enumerate(topics)] + [m.message_action("やめる")])]


def choose_topic(ctx: Ctx, reply: Reply) -> Outcome:
    topics = ctx.desk.settings.topics
    topic = None
    if isinstance(reply, Chose) and reply.value.isdigit() and int(reply.value) < len(topics):
        topic = topics[int(reply.value)]
    elif isinstance(reply, Said):
        topic = next((t for t in topics if reply.text == t or reply.text in t.split("・")), None)
    if topic is None:
        return Reask("ご相談のテーマを、ボタンからお選びください。")
    if not ctx.desk.free_days(topic):
        return Exit([m.text("申し訳ありません。現在このテーマでご予約いただける日がありません。"
                            f"お電話（{ctx.desk.settings.phone}）でもご相談を承ります。")])
    return Advance({"topic": topic})


# 2. Date

def ask_date(ctx: Ctx) -> list[m.Message]:
    days = ctx.desk.free_days(ctx.answers["topic"])
    buttons = [ctx.button(f"{d.month}/{d.day}({label_date(d)[-2]})", "date", d.isoformat(), label_date(d))
               for d in days[:10]]
    picker = m.datetime_picker("カレンダーから選ぶ", ctx.data("date", "picker"), "date",
                               initial=days[0].isoformat(), min=days[0].isoformat(), max=days[-1].isoformat())
    return [m.text("ご希望の日をお選びください。", buttons + [picker, m.message_action("戻る"), m.message_action("やめる")])]


def choose_date(ctx: Ctx, reply: Reply) -> Outcome:
    desk = ctx.desk
    day: date | None = None
    if isinstance(reply, Chose):
        raw = reply.params.get("date") or reply.value
        try:
            day = date.fromisoformat(raw)
        except ValueError:
            day = None
    else:
        day = parse_day(reply.text, to_tokyo(desk.now()).date())
    if day is None:
        return Reask("日付は、ボタンから選ぶか「12/1」のように入力してください。")
    if day not in desk.free_days(ctx.answers["topic"]):
        return Reask(f"{label_date(day)}はご予約いただけません。表示された日からお選びください。")
    return Advance({"date": day.isoformat()})


# 3. Time (holds the slot)

def ask_time(ctx: Ctx) -> list[m.Message]:
    day = date.fromisoformat(ctx.answers["date"])
    slots = ctx.desk.free_slots(ctx.answers["topic"], day)
    return [cards.time_grid(ctx, day, slots, ctx.desk.settings.rules),
            m.text("ご希望の時間をお選びください。", [m.message_action("戻る"), m.message_action("やめる")])]


def choose_time(ctx: Ctx, reply: Reply) -> Outcome:
    desk, topic = ctx.desk, ctx.answers["topic"]
    day = date.fromisoformat(ctx.answers["date"])
    free = desk.free_slots(topic, day)
    slot: datetime | None = None
    if isinstance(reply, Chose):
        slot = next((s for s in free if s.isoformat() == reply.value), None)
        if slot is None:
            return Stay([m.text("申し訳ありません。その時間はちょうど埋まりました。別の時間をお選びください。")])
    else:
        wanted = parse_time(reply.text)
        slot = next((s for s in free if wanted and to_tokyo(s).time() == wanted), None)
        if slot is None:
            return Reask("時間は、表示されたボタンから選ぶか「10:00」のように入力してください。")
    held = desk.hold(topic, slot)
    if held is None:
        return Stay([m.text("申し訳ありません。その時間はちょうど埋まりました。別の時間をお選びください。")])
    until = to_tokyo(held.expires_at)
    reuse = None if desk.previous_details() is not None else "name"  # the offer to a returning user, or the name
    return Advance({"slot": slot.isoformat()}, goto=_back_to_summary(ctx) or reuse,
                   say=[m.text(f"{label_slot(slot, desk.settings.rules)} を仮予約しました（{until.hour}:{until:%M}まで）。"
                               f"{until.hour}:{until:%M}までに「確定」を押すと予約が確定します。続けてお名前などを伺います。")])


# 4-9. Details, each with its validator

def _back_to_summary(ctx: Ctx) -> str | None:
    """A correction made from the summary returns to the summary."""
    return "summary" if ctx.answers.get("editing") else None


def question(text: str):
    return lambda ctx: [m.text(text, NAV)]


def field(key: str, validate, *, questions_answered: bool = True, strict_questions: bool = False,
          validated_first: bool = False):
    """A step that takes typed text. At the free-text ones a question typed instead of the answer
    is answered, and the step asked again (`strict`: only a question the FAQ answers)."""
    def judge(ctx: Ctx, reply: Reply) -> Outcome:
        if not isinstance(reply, Said):
            return Reask("文字で入力してください。")
        result = validate(ctx, reply.text)
        # An e-mail address or a phone number that validates is an answer whatever words come with
        # it; words of crisis were answered already (the engine's hotlines) and the text is kept.
        if (questions_answered and not (validated_first and isinstance(result, v.Valid))
                and not mentions_crisis(reply.text, ctx.desk.settings.crisis_words)):
            answered = questions.asked_instead(ctx.desk, reply.text, strict=strict_questions)
            if answered is not None:
                return Stay(answered)
        if isinstance(result, v.Invalid):
            return Reask(result.reask)
        if isinstance(result, v.Ineligible):
            return Exit([m.text(result.message)])
        return Advance({key: result.value}, goto=_back_to_summary(ctx))
    return judge


# 10. Summary

def ask_summary(ctx: Ctx) -> list[m.Message]:
    ctx.answers.pop("editing", None)
    return [cards.summary(ctx, ctx.desk.settings.rules)]


def confirm_or_change(ctx: Ctx, reply: Reply) -> Outcome:
    choice = reply.value if isinstance(reply, Chose) else {"確定": "confirm", "修正": "edit"}.get(reply.text)
    if choice == "edit":
        return Advance(goto="edit")
    if choice != "confirm":
        return Reask("「確定」「修正」「やめる」からお選びください。")
    a = ctx.answers
    result = ctx.desk.confirm(BookingDetails(
        topic=a["topic"], slot=datetime.fromisoformat(a["slot"]), name=a["name"], furigana=a["furigana"],
        age=a["age"], email=a["email"], phone=a["phone"], consultation=a["consultation"],
        attention=bool(a.get("attention")),
        attendant=a.get("attendant")))
    if isinstance(result, SlotLost):
        return Advance({"editing": True}, goto="date", say=[m.text(
            "仮予約の期限が過ぎ、その時間はほかの方の予約で埋まりました。日時を選び直してください（ほかの入力内容はそのままです）。")])
    if isinstance(result, LimitReached):
        return Exit([m.text("すでに別のご予約があるため、確定できませんでした。")])
    assert isinstance(result, Confirmed)
    return Finish(cards.confirmation(ctx, result.booking))


EDITABLE = {"日時": "date", "お名前": "name", "フリガナ": "furigana", "年齢": "age",
            "メールアドレス": "email", "電話番号": "phone", "ご相談内容": "consultation", "同席者": "attendant"}


def ask_which_field(ctx: Ctx) -> list[m.Message]:
    return [m.text("修正する項目をお選びください。",
                   [ctx.button(label, "edit", step) for label, step in EDITABLE.items()] + [m.message_action("戻る")])]


def choose_field(ctx: Ctx, reply: Reply) -> Outcome:
    step = reply.value if isinstance(reply, Chose) else EDITABLE.get(reply.text)
    if step not in EDITABLE.values():
        return Reask("修正する項目を、ボタンからお選びください。")
    return Advance({"editing": True}, goto=step)


def release(ctx: Ctx) -> None:
    ctx.desk.release_hold()



BOOKING = Flow(
    name="booking",
    guard=guard,
    on_leave=release,
    quit_text="予約の申し込みを中止しました。仮予約はなくなり、入力途中の内容は保存していません。",
    steps=(
        Step("topic", ask_topic, choose_topic, "ご相談のテーマをボタンからお選びください。", reask_with_question=True),
        booking_age.step(_back_to_summary),
        Step("date", ask_date, choose_date, "ご希望の日をボタンから選ぶか、「12/1」のように入力してください。",
             reask_with_question=True),
        Step("time", ask_time, choose_time, "ご希望の時間をボタンから選ぶか、「10:00」のように入力してください。",
             reask_with_question=True),
        booking_reuse.STEP,
        Step("name", question("お名前（氏名）をご入力ください。"),
             field("name", lambda ctx, s: v.full_name(s)), "お名前を漢字などでご入力ください（例：山田 太郎）。"),
        Step("furigana", question("フリガナをカタカナでご入力ください。"),
             field("furigana", lambda ctx, s: v.furigana(s)), "お名前の読みをカタカナでご入力ください（例：ヤマダ タロウ）。"),
        Step("email", question("ご連絡先のメールアドレスをご入力ください。"),
             field("email", lambda ctx, s: v.email(s), validated_first=True), "メールアドレスをご入力ください（例：taro@example.jp）。"),
        Step("phone", question("ご連絡先の電話番号をご入力ください。"),
             field("phone", lambda ctx, s: v.phone(s), validated_first=True), "電話番号をご入力ください（例：090-1234-5678）。"),
        Step("consultation",
             lambda ctx: [m.text(f"ご相談内容を、{ctx.desk.settings.consultation_limit}文字以内でご入力ください"
                                 "（どんなことでお困りか、簡単で大丈夫です）。", NAV)],
             field("consultation", lambda ctx, s: v.consultation_text(s, ctx.desk.settings.consultation_limit),
                   strict_questions=True),
             "ご相談になりたいことを、文章でご入力ください。", keeps_crisis_text=True),
        booking_attendant.step(_back_to_summary),
        Step("summary", ask_summary, confirm_or_change, "内容をご確認のうえ「確定」を押してください。直す場合は「修正」です。",
             reask_with_question=True),
        Step("edit", ask_which_field, choose_field, "修正する項目をボタンからお選びください。", reask_with_question=True),
    ),
)
