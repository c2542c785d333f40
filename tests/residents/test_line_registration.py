"""Acceptance: a LINE follower picks Vietnamese, 防災 and an area with quick replies (the steps after
the language in English), then gets the 防災 messages for that area in Vietnamese — and not those
of another area or category.

Everything goes through the sandbox as in production: the follow and every button press are
webhooks signed by the sandbox's LINE stand-in, the hub answers with LINE's reply API, and the
messages are multicasts whose copies are read back from the sandbox's LINE inbox.
"""

from __future__ import annotations

from flask import Flask
from sqlalchemy import select

from hub.compose.messages import LocalText
from hub.models import AuditLog, Contact
from hub.models.residents import Subscription
from hub.runtime import Runtime
from sandbox import SandboxClient
from tests.api.support import seed
from tests.residents.support import Follower, line_items, quick_replies, texts
from tests.support.hubtools import rows, send, wait_for

USER = "U" + "5" * 32
OSHU, HANAMAKI = "0321500", "0320500"


def _register(follower: Follower) -> dict[str, object]:
    welcome = follower.follow()
    assert welcome["meta"]["endpoint"] == "reply", "the follow is answered with its reply token (free)"
    # The language first, asked in Japanese and English, each language named in its own words.
    assert "友だち追加ありがとうございます" in texts(welcome) and "Thank you for adding us" in texts(welcome)
    assert "① 受け取る言語を選んでください / Choose your language" in texts(welcome)
    assert {"日本語", "English", "Tiếng Việt"} <= set(quick_replies(welcome))
    categories = follower.press(welcome, "Tiếng Việt")
    assert "Press the topics you want to receive" in texts(categories)
    # The city's topics and areas by the names it gave them in Vietnamese (the demo city gave some).
    assert {"Thiên tai", "Sức khỏe", "Done"} <= set(quick_replies(categories))
    pressed = follower.press(categories, "Thiên tai")
    assert "Chosen: Thiên tai" in texts(pressed) and "✓Thiên tai" in quick_replies(pressed)
    areas = follower.press(pressed, "Done")
    assert "Choose the area where you live" in texts(areas) and "No area" in quick_replies(areas)
    assert "Thành phố Oshu" in quick_replies(areas) and "奥州市" not in quick_replies(areas)
    return follower.press(areas, "Thành phố Oshu")


def test_a_follower_chooses_on_line_and_receives_their_area_and_category_in_vietnamese(
        app: Flask, runtime: Runtime, sandbox_client: SandboxClient) -> None:
    seed(app)
    follower = Follower(sandbox_client, USER)
    done = _register(follower)
    assert "You are registered" in texts(done) and "Language: Tiếng Việt" in texts(done) and "/r/p/" in texts(done)

    with runtime.session() as s:
        contact = s.scalar(select(Contact).where(Contact.line_user_id == USER))
        assert contact is not None
        assert ([c.code for c in contact.categories], [a.code for a in contact.areas], contact.language) \
            == (["bousai"], [OSHU], "vi")
        records = {(r.kind, r.code, r.source, r.revoked_at is None)
                   for r in s.scalars(select(Subscription).where(Subscription.contact_id == contact.id))}
        assert records == {("category", "bousai", "line:postback", True), ("area", OSHU, "line:postback", True),
                           ("language", "vi", "line:postback", True)}
        changes = s.scalars(select(AuditLog).where(AuditLog.action == "preferences.changed",
                                                   AuditLog.subject_id == str(contact.id))).all()
        assert len(changes) == 3

    before = len(line_items(sandbox_client, USER))
    vietnamese = LocalText(title="Lệnh sơ tán", body="Hãy sơ tán đến nơi trú ẩn gần nhất.")
    ours = send(runtime, channels=["line"], audience=f"area:{OSHU}", category_code="bousai",
                title="避難指示", body="最寄りの避難所へ避難してください。", texts={"vi": vietnamese})
    other_area = send(runtime, channels=["line"], audience=f"area:{HANAMAKI}", category_code="bousai",
                      title="花巻市の避難指示", body="花巻市の方は避難してください。", texts={"vi": vietnamese})
    other_category = send(runtime, channels=["line"], audience=f"area:{OSHU}", category_code="kenko",
                          title="健診のお知らせ", body="明日は健診日です。", texts={"vi": vietnamese})
    for message_id in (ours, other_area, other_category):
        wait_for(lambda m=message_id: all(r.state in ("sent", "skipped") for r in rows(runtime, m)))

    [received] = line_items(sandbox_client, USER)[before:]
    assert received["text"].startswith("Lệnh sơ tán") and "Hãy sơ tán" in received["text"]
    assert "「設定」" in received["text"], "every LINE message says how to reach one's settings"
    assert received["meta"]["endpoint"] == "multicast"
    # The other messages did reach others (the area's other residents, the other area's).
    assert any(r.state == "sent" for r in rows(runtime, other_area))
    assert all(r.address != USER for m in (other_area, other_category) for r in rows(runtime, m))


def test_settings_word_answers_with_the_personal_link_and_lets_a_part_be_changed(
        app: Flask, runtime: Runtime, sandbox_client: SandboxClient) -> None:
    seed(app)
    follower = Follower(sandbox_client, USER)
    _register(follower)
    answer = follower.say("設定")
    assert answer["meta"]["endpoint"] == "reply"
    assert "Topics: Thiên tai" in texts(answer) and "Area: Thành phố Oshu" in texts(answer)
    assert "/r/p/" in texts(answer)
    languages = follower.press(answer, "Change language")
    done = follower.press(languages, "日本語")
    assert "言語: 日本語" in texts(done) and "登録しました" in texts(done), "from now on in Japanese"
    assert "分類: 防災" in texts(done) and "地域: 奥州市" in texts(done), "and the city's names in Japanese"
    with runtime.session() as s:
        contact = s.scalar(select(Contact).where(Contact.line_user_id == USER))
        assert contact is not None and contact.language == "ja"
        vi = s.scalar(select(Subscription).where(Subscription.contact_id == contact.id,
                                                  Subscription.code == "vi"))
        assert vi is not None and vi.revoked_at is not None, "the earlier choice is kept, dated, as withdrawn"
    before = follower.count()
    sandbox_client.emit_line_event({"type": "message", "source": {"type": "user", "userId": USER},
                                    "message": {"type": "text", "id": "2", "text": "こんにちは", "quoteToken": "q"}})
    assert follower.count() == before, "other words are not answered by registration"


def test_a_late_answer_is_pushed_when_the_reply_token_is_refused(
        app: Flask, runtime: Runtime, sandbox_client: SandboxClient) -> None:
    """A busy lane can make the reply token stale: LINE refuses it, the hub pushes instead."""
    seed(app)
    user = "U" + "6" * 32
    sandbox_client.emit_line_event({"type": "follow", "replyToken": "0f3779fba3b349968c5d07db31eab56f",
                                    "source": {"type": "user", "userId": user}})
    wait_for(lambda: len(line_items(sandbox_client, user)) == 1)
    [welcome] = line_items(sandbox_client, user)
    assert welcome["meta"]["endpoint"] == "multicast" and "日本語" in quick_replies(welcome)


def test_categories_beyond_one_quick_reply_are_paged_with_next(
        app: Flask, runtime: Runtime, sandbox_client: SandboxClient) -> None:
    from hub.models import Category

    seed(app)
    with runtime.session() as s:
        s.add_all(Category(code=f"extra{n}", name=f"分類{n:02d}") for n in range(20))
    follower = Follower(sandbox_client, USER)
    welcome = follower.press(follower.follow(), "日本語")
    assert "② 受け取りたい情報の分類を押してください" in texts(welcome), "a Japanese reader goes on in Japanese"
    first = quick_replies(welcome)
    assert len(first) == 13 and "次へ ▶" in first and "決定" in first
    second = follower.press(welcome, "次へ ▶")
    page2 = set(quick_replies(second)) - {"次へ ▶", "決定"}
    assert page2 and not page2 & set(first)
    label = sorted(page2)[0]
    pressed = follower.press(second, label)
    assert set(quick_replies(pressed)) == (page2 - {label}) | {"✓" + label, "次へ ▶", "決定"}, \
        "the page pressed on is shown again, with the choice marked"


def test_forged_or_foreign_postbacks_change_nothing(
        app: Flask, runtime: Runtime, sandbox_client: SandboxClient) -> None:
    seed(app)
    follower = Follower(sandbox_client, USER)
    follower.follow()
    for data in ("reg|c|0|no-such-category", "reg|a|9999999", "reg|l|xx", "reg|c|abc", "reg|zz|1", "reg|",
                 "relay|1|q|1", "reg|c|0|" + "x" * 400):
        result = sandbox_client.emit_line_event({"type": "postback", "postback": {"data": data},
                                                 "source": {"type": "user", "userId": USER}})
        assert result["status"] == 200, (data, result)
    stranger = sandbox_client.emit_line_event({"type": "postback", "postback": {"data": "reg|c|0|bousai"},
                                               "source": {"type": "user", "userId": "U" + "9" * 32}})
    assert stranger["status"] == 200
    with runtime.session() as s:
        contact = s.scalar(select(Contact).where(Contact.line_user_id == USER))
        assert contact is not None
        assert (contact.categories, contact.areas, contact.language) == ([], [], "ja")
        assert s.scalar(select(Subscription)) is None
        assert s.scalar(select(Contact).where(Contact.line_user_id == "U" + "9" * 32)) is None


def test_a_reader_of_easy_japanese_is_answered_in_it(
        app: Flask, runtime: Runtime, sandbox_client: SandboxClient) -> None:
    seed(app)
    follower = Follower(sandbox_client, USER)
    categories = follower.press(follower.follow(), "やさしい日本語")
    assert "② ほしい おしらせの しゅるいを おしてください" in texts(categories)
    areas = follower.press(follower.press(categories, "ぼうさい（さいがい）"), "けってい")
    assert "すんでいる ちいき" in texts(areas) and "えらばない" in quick_replies(areas)
    # No やさしい日本語 name for the area: its Japanese name, never the English one.
    assert "奥州市" in quick_replies(areas) and "Oshu City" not in quick_replies(areas)
    done = follower.press(areas, "奥州市")
    assert "とうろく しました" in texts(done) and "ことば: やさしい日本語" in texts(done)


def test_every_word_of_the_conversation_has_its_easy_japanese_and_english() -> None:
    """A word added in Japanese without the others would reach those readers in Japanese, silently."""
    import ast
    import inspect

    from hub.i18n import catalog, gettext
    from hub.residents import line_flow

    words = {node.args[0].value for node in ast.walk(ast.parse(inspect.getsource(line_flow)))
             if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "_"
             and node.args and isinstance(node.args[0], ast.Constant)}
    assert len(words) >= 15
    assert sorted(words - set(catalog("ja-easy"))) == []
    assert sorted(w for w in words if gettext(w, "en") == w) == []
    # The やさしい日本語 words pass the hub's own checker of what makes plain Japanese hard.
    from hub.residents.easy_japanese import check

    assert {w: [f.text for f in check(v)] for w, v in catalog("ja-easy").items() if w in words and check(v)} == {}
