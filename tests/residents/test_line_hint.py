"""Every LINE message says how to reach one's preferences (a multicast cannot carry a personal link)."""

from __future__ import annotations

from channels.base import Draft
from channels.line import MAX_CHARS, SETTINGS_HINTS, LineChannel, LineConfig
from hub.config import Settings


def test_the_hint_follows_the_text_in_the_recipients_language() -> None:
    line = LineChannel(LineConfig(settings_hint=True))
    assert line.render(Draft(title="避難指示", body="避難してください。")).text == (
        "避難指示\n避難してください。\n\n" + SETTINGS_HINTS["ja"])
    assert line.render(Draft(title="Sơ tán", body="…", language="vi")).text.endswith(SETTINGS_HINTS["en"])
    assert line.render(Draft(title="ひなん", body="…", language="ja-easy")).text.endswith(SETTINGS_HINTS["ja-easy"])


def test_the_officers_words_come_first_and_the_limit_is_theirs() -> None:
    line = LineChannel(LineConfig(settings_hint=True))
    full = line.render(Draft(title="", body="", override="あ" * (MAX_CHARS - 10)))
    assert full.text == "あ" * (MAX_CHARS - 10) and not full.errors
    assert line.render(Draft(title="", body="", override="あ" * (MAX_CHARS + 1))).errors


def test_the_hint_is_a_setting() -> None:
    assert LineConfig.from_settings(Settings().resolved()).settings_hint
    assert not LineConfig.from_settings(Settings(line_settings_hint=False).resolved()).settings_hint
