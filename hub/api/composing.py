"""From what a front door received (API JSON or the composer form) to a checked Composition and a preview.

Shared by the API and the web composer so both apply the same rules: the department a sender may
use, cancellations and corrections that go exactly where the original went (hub.compose.corrections),
and the audience counted the way planning will count it (an exercise reaches drill participants only).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from channels.base import Capability, Rendered
from hub.api.auth import Principal
from hub.api.common import N_, ApiError, as_id, translate_problems
from hub.api.guards import has_nul
from hub.api.translations import read_languages, read_texts
from hub.compose.approval import needs_approval
from hub.compose.audience import (
    AUDIENCE_HELP,
    RECEIVED_STATES,
    Audience,
    AudienceError,
    contact_ids_query,
    require_usable,
    unknown_part,
)
from hub.compose.corrections import carried_channels, default_cancel_body, is_prepared_cancel, shown_title
from hub.compose.messages import ComposeError, Composition, preview, preview_languages
from hub.compose.public import PLACEHOLDER_PUBLIC_ID, is_public, public_channels_closed_to
from hub.compose.quiet import hold as quiet_hold
from hub.compose.quiet import local_words, window_words
from hub.compose.schedule import ScheduleError, read_schedule
from hub.compose.senders import signature
from hub.i18n import current_locale
from hub.i18n import gettext as _
from hub.models import Area, Category, Contact, Delivery, Department, Message, Mode, MsgType, follows_up
from hub.notices.personal import follow_up_sample
from hub.policy import Action, may_follow_up, may_override
from hub.relay import clock
from hub.residents.easy_japanese import check as check_easy
from hub.residents.languages import EASY_JAPANESE
from hub.residents.questions import ANSWERABLE_ON, read_question, read_question_text
from hub.runtime import Runtime

JST = ZoneInfo("Asia/Tokyo")
CHANNELS = ("sms", "voice", "email", "line", "x", "rss")
CHANNEL_LABELS = {"sms": N_("SMS"), "voice": N_("音声電話"), "email": N_("メール"), "line": N_("LINE"),
                  "x": N_("X（旧Twitter）"), "rss": N_("ホームページ・フィード")}
MSG_TYPE_LABELS = {MsgType.ALERT: N_("緊急・防災"), MsgType.NOTICE: N_("お知らせ"),
                   MsgType.UPDATE: N_("訂正・続報"), MsgType.CANCEL: N_("取消")}

FOLLOW_UP = "follow-up"  # Composition.source of cancellations and corrections (hub.compose.corrections)


# More entries than channels exist can only be a mistake or an attack: refused before any lookup.
MAX_CHANNELS = 16


class InvalidInput(ApiError):
    """The request itself is wrong (types, unknown names, nothing to say): 400, and nothing is stored.

    422 (``compose_failed``) is kept for a well-formed message some channel cannot carry as written.
    """

    def __init__(self, problems: dict[str, list[str]]) -> None:
        super().__init__(400, "invalid_message", _("入力内容に問題があります"), problems=problems)


def compose_failed(problems: dict[str, list[str]]) -> ApiError:
    return ApiError(422, "compose_error", _("このままでは送信できません。チャネルごとの問題を直してください"),
                    problems=translate_problems(problems))


# The columns' lengths (hub.models.Message): PostgreSQL refuses a longer value at commit, a 500.
MAX_LENGTHS = {"title": 200, "audience": 200, "update_label": 16}


def _text(data: Mapping[str, Any], key: str, problems: dict[str, list[str]]) -> str:
    value = data.get(key)
    if value is None:
        return ""
    if not isinstance(value, str):
        problems.setdefault(key, []).append(_("文字列で指定してください"))
        return ""
    limit = MAX_LENGTHS.get(key)
    if limit is not None and len(value.strip()) > limit:
        problems.setdefault(key, []).append(_("{max} 文字以内にしてください").format(max=limit))
        return value.strip()[:limit]
    return value


def _choice(data: Mapping[str, Any], key: str, allowed: tuple[str, ...], default: str,
            problems: dict[str, list[str]]) -> str:
    value = data.get(key) or default
    if value not in allowed:
        problems.setdefault(key, []).append(_("次のいずれかを指定してください: {values}").format(
            values=", ".join(allowed)))
        return default
    return str(value)


def composition_from(session: Session, data: Mapping[str, Any], principal: Principal) -> Composition:
    """A Composition from untrusted input; raises InvalidInput listing every problem at once."""
    comp, problems = read_composition(session, data, principal)
    if problems:
        raise InvalidInput(problems)
    return comp


def read_composition(session: Session, data: Mapping[str, Any],
                     principal: Principal) -> tuple[Composition, dict[str, list[str]]]:
    """The Composition and the problems found; the live preview renders even an unfinished one."""
    nul = [key for key, value in data.items() if has_nul(value)]
    if nul:  # requests are refused earlier (hub/api/guards.py); this guards every other caller
        raise InvalidInput({key: [_("NUL文字（\\0）は使えません")] for key in nul})
    problems: dict[str, list[str]] = {}
    channels = _channels(data.get("channels"), problems)
    overrides = data.get("overrides") or {}
    if not isinstance(overrides, dict) or not all(isinstance(v, str) for v in overrides.values()):
        problems.setdefault("overrides", []).append(_("チャネル名と本文の組で指定してください"))
        overrides = {}
    overrides = {k: v for k, v in overrides.items() if v.strip()}
    comp = Composition(
        title=_text(data, "title", problems).strip(),
        body=_text(data, "body", problems).strip(),
        channels=channels,
        audience=_text(data, "audience", problems).strip() or "all",
        mode=_choice(data, "mode", tuple(Mode), Mode.ACTUAL, problems),
        msg_type=_choice(data, "msg_type", tuple(MsgType), MsgType.ALERT, problems),
        overrides=overrides,
        update_label=_text(data, "update_label", problems).strip() or "訂正",
    )
    if not data.get("mode"):
        # No default on purpose: actual vs exercise is always a conscious choice.
        problems["mode"] = [_("実配信か訓練かを選んでください")]
    comp.texts = read_texts(data.get("texts"), CHANNELS, problems)
    read_languages(data.get("languages"), problems)
    if data.get("translate") not in (None, True, False):
        problems.setdefault("translate", []).append(_("true か false で指定してください"))
    comp.category_code = _category(session, data.get("category"), problems)
    comp.department_id = _department(session, data.get("department"), principal, problems)
    comp.override_reason = _override(data.get("override"), principal, problems)
    comp.references_id = _references(session, data.get("references"), comp.msg_type, problems)
    comp.question, question_problems = read_question(data.get("question"))
    if question_problems:
        problems["question"] = [_(p) for p in question_problems]
    _question_texts(comp, data.get("texts"), problems)
    scheduled = data.get("scheduled_at")
    if scheduled:
        try:
            comp.scheduled_at = read_schedule(str(scheduled))
        except ScheduleError as exc:
            problems.setdefault("scheduled_at", []).append(_(str(exc)))
    _audience(session, comp.audience, problems)
    if "audience" not in problems and not follows_up(comp.msg_type):  # a follow-up goes where its original went
        try:
            require_usable(session, Audience.parse(comp.audience))
        except AudienceError as exc:
            problems.setdefault("audience", []).append(_(str(exc)))
    if follows_up(comp.msg_type) and comp.references_id:
        _as_follow_up(session, comp, principal, problems)
    elif "audience" not in problems:
        _private_on_public(comp, problems)
    if comp.question and is_follow_up(comp):
        problems.setdefault("question", []).append(_("訂正・取消にはアンケートを付けられません"))
    elif comp.question and comp.channels and not set(comp.channels) & set(ANSWERABLE_ON):
        problems.setdefault("question", []).append(
            _("アンケートに回答できるチャネル（SMS・LINE・メール・音声電話）を選んでください"))
    if not comp.channels and not is_follow_up(comp) and "channels" not in problems:
        problems.setdefault("*", []).append("チャネルを1つ以上選んでください")
    if not comp.title and not comp.body:
        problems.setdefault("*", []).append("件名か本文を入力してください")
    return comp, problems


def _channels(raw: Any, problems: dict[str, list[str]]) -> list[str]:
    """The chosen channel names; wrong types, unknown names and repeats are problems, not guesses."""
    if raw is None or raw == []:
        return []
    if not isinstance(raw, list) or not all(isinstance(c, str) for c in raw):
        problems.setdefault("channels", []).append(_("チャネル名の配列で指定してください"))
        return []
    if len(raw) > MAX_CHANNELS:
        # Checked before anything else so a list of thousands of names costs nothing.
        raise InvalidInput({"channels": [_("チャネルは {max} 個までです").format(max=MAX_CHANNELS)]})
    unknown = [c for c in dict.fromkeys(raw) if c not in CHANNELS]
    if unknown:
        problems.setdefault("channels", []).append(
            _("このチャネルはありません: {names}").format(names=", ".join(unknown)))
    repeated = [c for c in dict.fromkeys(raw) if raw.count(c) > 1]
    if repeated:
        problems.setdefault("channels", []).append(
            _("チャネルが重複しています: {names}").format(names=", ".join(repeated)))
    return [c for c in dict.fromkeys(raw) if c in CHANNELS]


def _audience(session: Session, spec: str, problems: dict[str, list[str]]) -> None:
    try:
        audience = Audience.parse(spec)
    except AudienceError:
        problems.setdefault("audience", []).append(_("宛先「{spec}」の指定が正しくありません（使えるもの: {help}）")
                                                   .format(spec=spec, help=AUDIENCE_HELP))
        return
    part = unknown_part(session, audience)
    if part is not None:
        # Without this a typo would be sent to nobody and still be reported as 完了.
        problems.setdefault("audience", []).append(_("宛先「{part}」は登録されていません").format(part=part))


def _private_on_public(comp: Composition, problems: dict[str, list[str]]) -> None:
    closed = public_channels_closed_to(comp.audience, comp.channels)
    if closed:
        problems.setdefault("channels", []).append(
            _("職員・名簿・差し込み（CSV）宛てのメッセージは、誰でも読める公開チャネル（{names}）には送れません")
            .format(names=", ".join(closed)))


def is_follow_up(comp: Composition) -> bool:
    return comp.source == FOLLOW_UP


def _as_follow_up(session: Session, comp: Composition, principal: Principal,
                  problems: dict[str, list[str]]) -> None:
    """A cancellation or correction goes where the original went: its channels, recipients and mode.

    What the officer chose for those is replaced, so the preview shows what hub.compose.corrections
    will really send.
    """
    original = session.get(Message, comp.references_id)
    assert original is not None
    if not may_follow_up(principal, original):
        raise ApiError(403, "forbidden", _("他の部署のメッセージは取消・訂正できません"))
    comp.mode, comp.source = original.mode, FOLLOW_UP
    comp.channels = carried_channels(session, original.id)
    if comp.msg_type == MsgType.UPDATE and not comp.channels and original.still_planning:
        comp.channels = list(original.channels)  # as hub.compose.corrections.follow_up will send it
    comp.audience = f"message:{original.id}"
    comp.category_code, comp.department_id = original.category_code, original.department_id
    comp.scheduled_at, comp.overrides = None, {}
    comp.title = comp.title or shown_title(original)
    for key in ("mode", "channels", "audience", "category", "department", "overrides", "scheduled_at"):
        problems.pop(key, None)
    comp.prepared = comp.msg_type == MsgType.CANCEL and is_prepared_cancel(original, comp.title, comp.body)
    if comp.msg_type == MsgType.CANCEL and not comp.body:
        comp.body = default_cancel_body(original)
    elif comp.msg_type == MsgType.UPDATE and not comp.body:
        problems["body"] = [_("訂正の本文を入力してください")]


def _category(session: Session, raw: Any, problems: dict[str, list[str]]) -> str | None:
    if not raw:
        return None
    found = session.scalar(select(Category).where(or_(Category.code == str(raw), Category.name == str(raw))))
    if found is None:
        problems.setdefault("category", []).append(_("分類「{value}」は登録されていません").format(value=raw))
        return None
    if found.disabled_at is not None:
        problems.setdefault("category", []).append(
            _("分類「{value}」は無効になっているため新しい配信には使えません").format(value=raw))
        return None
    return found.code


def _department(session: Session, raw: Any, principal: Principal,
                problems: dict[str, list[str]]) -> int | None:
    """The department named, else the operator's home department; the operator must SEND there."""
    if not raw:
        if principal.department_id is None:
            problems.setdefault("department", []).append(
                _("送信する部署を指定してください（所属部署が登録されていません）"))
            return None
        department_id: int = principal.department_id
    else:
        key = str(raw)
        dept = session.scalar(select(Department).where(or_(Department.code == key, Department.name == key)))
        if dept is None:
            problems.setdefault("department", []).append(
                _("部署「{value}」は登録されていません").format(value=raw))
            return None
        if dept.disabled_at is not None:
            problems.setdefault("department", []).append(
                _("部署「{value}」は無効になっているため新しい配信には使えません").format(value=raw))
            return None
        department_id = dept.id
    # Each department sends under its own identity: a sender may not borrow another's.
    if not principal.may(Action.SEND, department_id):
        raise ApiError(403, "forbidden", _("この部署の名義で送信する権限がありません"))
    return department_id


def _override(raw: Any, principal: Principal, problems: dict[str, list[str]]) -> str | None:
    """``{"reason": "…"}``: the emergency override, for an operator who holds it, with a reason."""
    if raw in (None, False, ""):
        return None
    if not may_override(principal):
        raise ApiError(403, "forbidden", _("緊急時の承認省略（オーバーライド）の権限がありません"))
    reason = raw.get("reason") if isinstance(raw, dict) else None
    if not isinstance(reason, str) or not reason.strip():
        problems.setdefault("override", []).append(_("承認を省略する理由を入力してください"))
        return None
    return reason.strip()


def _references(session: Session, raw: Any, msg_type: str, problems: dict[str, list[str]]) -> int | None:
    if raw in (None, ""):
        if follows_up(msg_type):
            problems.setdefault("references", []).append(_("取消・訂正には元のメッセージの番号が必要です"))
        return None
    ref_id = as_id(raw)
    if ref_id is None or session.get(Message, ref_id) is None:
        problems.setdefault("references", []).append(
            _("参照するメッセージ {value} はありません").format(value=raw))
        return None
    return ref_id


def audience_query_for(comp: Composition) -> Any:
    query = contact_ids_query(Audience.parse(comp.audience), category=comp.category_code)
    if comp.mode != Mode.ACTUAL:
        query = query.where(Contact.exercise_participant.is_(True))
    return query


def audience_size(session: Session, comp: Composition) -> int:
    return int(session.scalar(select(func.count()).select_from(audience_query_for(comp).subquery())) or 0)


def reachable(session: Session, rt: Runtime, comp: Composition, channel: str) -> int:
    """Upper bound of recipients on one channel (consent and number type are checked at planning)."""
    ch = rt.channel(channel)
    if ch.capabilities & Capability.BROADCAST or not ch.address_field:
        return 1
    if is_follow_up(comp):
        return int(session.scalar(select(func.count()).select_from(Delivery).where(
            Delivery.message_id == comp.references_id, Delivery.channel == channel,
            Delivery.state.in_(RECEIVED_STATES))) or 0)
    column = getattr(Contact, ch.address_field)
    ids = audience_query_for(comp).subquery()
    query = select(func.count()).select_from(Contact).where(
        Contact.id.in_(select(ids.c.id)), column.is_not(None), column != "")
    return int(session.scalar(query) or 0)


def describe_audience(session: Session, spec: str) -> str:
    """The audience in words, for the confirmation step and the status page."""
    try:
        audience = Audience.parse(spec)
    except AudienceError:
        return spec
    name = audience.value
    model: Any = {"category": Category, "area": Area, "department": Department}.get(audience.kind)
    if model is not None:
        row = session.scalar(select(model).where(or_(model.code == name, model.name == name)))
        name = row.name if row is not None else name
    words = {
        "all": _("登録者全員"), "residents": _("住民全員"), "staff": _("職員全員"),
        "category": _("分類「{name}」の登録者"), "area": _("地域「{name}」の登録者"),
        "department": _("部署「{name}」の職員"), "list": _("宛先リスト {name}"),
        "message": _("メッセージ #{name} を受け取った可能性のある人"),
        "personal": _("差し込み送信 #{name} の行（一人ひとりに差し込んだ文面）"),
    }
    return words.get(audience.kind, spec).format(name=name)


def rendered_json(r: Rendered) -> dict[str, Any]:
    meta = {k: v for k, v in r.meta.items() if isinstance(v, str | int | float | bool) and k != "twiml"}
    return {"subject": r.subject, "text": r.text, "units": r.units, "warnings": [_(w) for w in r.warnings],
            "errors": [_(e) for e in r.errors], "meta": meta}


def _placeholder_id(session: Session) -> int:
    return int(session.scalar(select(func.max(Message.id))) or 0) + 1


def _placeholder_public_id(session: Session, comp: Composition) -> str | None:
    # The real link is /m/<public_id>, only on public messages; one of the same length keeps the
    # preview's counts honest.
    original = session.get(Message, comp.references_id) if comp.references_id else None
    return PLACEHOLDER_PUBLIC_ID if is_public(comp.mode, comp.audience, original) else None


def _needs_approval(session: Session, rt: Runtime, comp: Composition, problems: dict[str, list[str]]) -> bool:
    if "audience" in problems or comp.override_reason:
        return False
    try:
        return needs_approval(session, rt, comp)
    except AudienceError:
        return False


def quiet_words(window: str, until: datetime) -> str:
    """「静かな時間帯（21:00〜8:00）のため、12月2日 8:00 に送信します」 in the operator's language."""
    return _("静かな時間帯（{window}）のため、{when} に送信します").format(
        window=window_words(window), when=local_words(until, current_locale()))


def sends_at(session: Session, rt: Runtime, comp: Composition) -> dict[str, str] | None:
    """When a notice held by its department's quiet hours will actually go (None: when asked)."""
    department = session.get(Department, comp.department_id) if comp.department_id is not None else None
    night = quiet_hold(rt.settings, department, comp.msg_type, comp.scheduled_at, clock.now())
    if night is None:
        return None
    return {"window": str(night.window), "at": night.until.isoformat(),
            "text": quiet_words(str(night.window), night.until)}


def preview_payload(session: Session, rt: Runtime, comp: Composition,
                    problems: dict[str, list[str]] | None = None) -> dict[str, Any]:
    problems = dict(problems or {})
    rendered: dict[str, Rendered] = {}
    comp = replace(comp, sender_name=signature(session, comp))
    try:
        rendered = preview(rt, comp, _placeholder_id(session), _placeholder_public_id(session, comp))
        rendered = follow_up_sample(session, rt.channel, comp, rendered, problems)
    except ComposeError as exc:
        problems.update(exc.problems)
    follow_up = is_follow_up(comp)
    size = 0 if "audience" in problems else audience_size(session, comp)
    channels: dict[str, Any] = {}
    for name, r in rendered.items():
        item = rendered_json(r)
        item["recipients"] = 0 if "audience" in problems else reachable(session, rt, comp, name)
        item["units_total"] = r.units * item["recipients"]
        channels[name] = item
        if r.errors:
            problems[name] = list(r.errors)
    return {
        "mode": comp.mode,
        "msg_type": comp.msg_type,
        "languages": _languages_preview(rt, comp, _placeholder_id(session), _placeholder_public_id(session, comp)),
        "needs_approval": _needs_approval(session, rt, comp, problems),
        "sends_at": sends_at(session, rt, comp),
        "audience": {"spec": comp.audience, "label": describe_audience(session, comp.audience), "size": size},
        "channels": channels,
        # A follow-up to something nobody received yet only withdraws the original.
        "follow_up": ({"original": comp.references_id, "withdraw_only": not comp.channels}
                      if follow_up else None),
        "problems": translate_problems(problems),
        "ok": not problems,
    }


def _languages_preview(rt: Runtime, comp: Composition, message_id: int, public_id: str | None) -> dict[str, Any]:
    """Each language's text as every channel renders it; a channel it does not fit sends Japanese."""
    if not comp.texts or any(ch not in rt.available_channels() for ch in comp.channels):
        return {}
    out: dict[str, Any] = {}
    for language, by_channel in preview_languages(rt, comp, message_id, public_id).items():
        local = comp.texts[language]
        out[language] = {"origin": local.origin, "error": local.error,
                         "channels": {name: rendered_json(r) for name, r in by_channel.items()}}
        if language == EASY_JAPANESE:
            # The person writing it sees, as they type, what would make it hard to read.
            out[language]["findings"] = [f.as_dict() for f in check_easy("\n".join((local.title, local.body)))]
    return out


def _question_texts(comp: Composition, raw: Any, problems: dict[str, list[str]]) -> None:
    """Each language's ``question`` (the survey's text and labels in it), checked against the Japanese one."""
    if not isinstance(raw, dict) or "question" in problems:
        return
    for code, local in comp.texts.items():
        item = raw.get(code)
        given = item.get("question") if isinstance(item, dict) else None
        question, wrong = read_question_text(given, comp.question)
        if wrong:
            problems.setdefault(f"texts.{code}.question", []).extend(_(p) for p in wrong)
        elif question is not None:
            comp.texts[code] = replace(local, question=question)
