"""Machine translation through deep-translator against the sandbox's LibreTranslate, and what a
failure leaves: the Japanese text after a fixed line, the reason kept."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from hub.compose.messages import Composition, LocalText
from hub.config import Settings
from hub.translate import TranslationFailed, translate
from hub.translate.fallback import ENGLISH_LINE, FALLBACK_LINES, fallback_line
from hub.translate.fill import fill_missing
from hub.translate.providers import provider_code
from sandbox import Sandbox, hub_settings


@pytest.fixture(scope="module")
def translator() -> Iterator[Settings]:
    with Sandbox() as sb:
        yield Settings(**hub_settings(sb.http_url, sb.smtp_port), translator_timeout=1.0)  # type: ignore[arg-type]


class _Runtime:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings


def _composition(**fields: object) -> Composition:
    values: dict[str, object] = {"title": "大雨警報が発表されました", "body": "川に近づかないでください。",
                                 "channels": ["sms"], "audience": "all", **fields}
    return Composition(**values)  # type: ignore[arg-type]


def test_libretranslate_through_its_custom_url(translator: Settings) -> None:
    assert translate(translator, "大雨警報が発表されました", target="en") == "A heavy rain warning has been issued"
    assert translate(translator, "川に近づかないでください。", target="vi") == "Xin đừng đến gần sông."
    # Sentences the sandbox does not know come back visibly marked, never passed off as translated.
    assert translate(translator, "未知の文です。", target="en") == "[sandbox:en] 未知の文です。"


def test_a_notice_longer_than_a_translators_limit_is_translated_in_pieces_cut_between_paragraphs(
        translator: Settings) -> None:
    """The sandbox, as Google and LibreTranslate's public servers, refuses 5,000 characters at once."""
    paragraph = "大雨警報が発表されました\n\n川に近づかないでください。\n\n"
    body = paragraph * 300  # 8,700 characters: it used to go out as the fixed line and the Japanese
    assert len(body) > 5000
    english = translate(translator, body, target="en")
    assert english == "A heavy rain warning has been issued\n\nPlease stay away from rivers.\n\n" * 300
    one_line = "川に近づかないでください。" * 500  # no line to cut at: cut after a sentence
    assert translate(translator, one_line, target="vi") == " ".join(["Xin đừng đến gần sông."] * 500)
    chinese = translate(translator, one_line, target="zh")  # the sandbox puts a space between sentences…
    assert chinese.replace(" ", "") == "请不要靠近河流。" * 500
    assert chinese.count("。请") == 1, "…the hub none at its own cut: Chinese is written without"


def test_pieces_join_back_into_the_text_and_each_fits() -> None:
    from hub.translate.providers import PIECE_CHARS, pieces

    for text in ("あ" * 3000 + "。" + "い" * 3000 + "\n\n" + "う" * 100, "x" * 12000, "\n" * 9000,
                 ("避難所を開設しました。" * 300 + "\n") * 3, "短い文です。"):
        cut = pieces(text)
        assert "".join(p + sep for p, sep in cut) == text
        assert all(len(p) <= PIECE_CHARS for p, _ in cut)
    first, _ = pieces("あ" * 3000 + "。" + "い" * 3000)[0]
    assert first.endswith("。"), "cut after the sentence, its full stop with it"


def test_easy_japanese_is_never_machine_translated(translator: Settings) -> None:
    with pytest.raises(TranslationFailed, match="やさしい日本語"):
        translate(translator, "川に近づかないでください。", target="ja-easy")


def test_failures_say_why(translator: Settings) -> None:
    with pytest.raises(TranslationFailed, match="設定されていません"):
        translate(Settings(), "本文", target="en")
    with pytest.raises(TranslationFailed, match="接続できません"):
        translate(Settings(translator="libre", translator_url="http://127.0.0.1:9/"), "本文", target="en")
    with pytest.raises(TranslationFailed, match="DeepLのキー"):
        translate(Settings(translator="deepl"), "本文", target="en")


def test_provider_codes() -> None:
    assert provider_code("google", "zh") == "zh-CN"
    assert provider_code("libre", "zh") == "zh"
    assert provider_code("deepl", "en") == "en-us"


def test_fill_missing_marks_machine_texts_and_keeps_given_ones(translator: Settings) -> None:
    given = LocalText(title="Heavy rain", body="Reviewed text.", origin="reviewed")
    comp = fill_missing(_Runtime(translator), _composition(texts={"en": given}),  # type: ignore[arg-type]
                        ["en", "vi", "ja", "ja-easy"])
    assert comp.texts["en"] is given
    assert set(comp.texts) == {"en", "vi"}  # Japanese is the message itself; やさしい日本語 is written by people
    vi = comp.texts["vi"]
    assert (vi.origin, vi.error) == ("machine", None)
    assert (vi.title, vi.body) == ("Đã ban hành cảnh báo mưa lớn", "Xin đừng đến gần sông.")


def test_a_failed_translation_sends_japanese_after_the_fixed_line(translator: Settings) -> None:
    with Sandbox() as sb:
        settings = Settings(**hub_settings(sb.http_url, sb.smtp_port), translator_timeout=1.0)
        sb.inject_fault("translate", "500", count=0, match="en")
        sb.inject_fault("translate", "timeout", count=0, match="th", delay=2.0)
        comp = fill_missing(_Runtime(settings), _composition(overrides={"sms": "川に近づかないで"}),  # type: ignore[arg-type]
                            ["en", "th", "vi"])
    en, th = comp.texts["en"], comp.texts["th"]
    assert en.origin == th.origin == "fallback"
    assert en.body == f"{ENGLISH_LINE}\n川に近づかないでください。"
    assert en.overrides == {"sms": f"{ENGLISH_LINE}\n川に近づかないで"}
    assert en.title == "大雨警報が発表されました"
    assert "ERR_INTERNAL_SERVER_ERROR" in (en.error or "")
    assert "1秒以内に応答しませんでした" in (th.error or "")
    assert th.body.startswith(ENGLISH_LINE)  # no Thai line written yet: English
    assert comp.texts["vi"].origin == "machine"


def test_every_fallback_line_is_its_own_language() -> None:
    assert fallback_line("vi") == FALLBACK_LINES["vi"] != ENGLISH_LINE
    assert fallback_line("ne") == ENGLISH_LINE
    assert all(line.strip() and "\n" not in line for line in FALLBACK_LINES.values())


def test_production_never_sends_the_sandboxs_pseudo_translations(tmp_path: object) -> None:
    from hub.app import create_app
    from hub.config import ConfigError

    env = {"HUB_ENV": "production", "HUB_DATA_DIR": str(tmp_path), "HUB_SECRET_KEY": "s" * 32,
           "HUB_ALLOW_SANDBOX": "true"}
    create_app(Settings.from_env(env))
    with pytest.raises(ConfigError, match="HUB_TRANSLATOR"):
        create_app(Settings.from_env({**env, "HUB_TRANSLATOR": "bing"}))
    sandboxed = {**env, "HUB_TRANSLATOR": "libre", "HUB_TRANSLATOR_URL": "http://127.0.0.1:8025/"}
    assert Settings.from_env(sandboxed).translator_is_sandbox()
    create_app(Settings.from_env(sandboxed))  # allowed on purpose
    with pytest.raises(ConfigError, match="HUB_TRANSLATOR_URL"):  # even with every channel live
        Settings.from_env({**sandboxed, "HUB_ALLOW_SANDBOX": "false"}).check_startup([])
    assert Settings.from_env({**sandboxed, "HUB_TRANSLATOR_KEY": "k"}).masked()["translator_key"] == "********"


def test_the_sandbox_answers_as_libretranslate_does() -> None:
    import requests

    with Sandbox() as sb:
        url = sb.http_url
        ok = requests.post(f"{url}/translate", json={"q": ["これは訓練です。", "未知"], "source": "auto", "target": "en",
                                                     "format": "text"}, timeout=5)
        assert ok.status_code == 200
        assert ok.json()["translatedText"] == ["This is a drill.", "[sandbox:en] 未知"]
        assert ok.json()["detectedLanguage"][0]["language"] == "ja"
        form = requests.post(f"{url}/translate", data={"q": "断水のお知らせ", "source": "ja", "target": "vi"}, timeout=5)
        assert form.json() == {"translatedText": "Thông báo cắt nước"}
        missing = requests.post(f"{url}/translate", data={"source": "ja", "target": "en"}, timeout=5)
        assert (missing.status_code, missing.json()) == (400, {"error": "Invalid request: missing q parameter"})
        unknown = requests.post(f"{url}/translate", data={"q": "x", "source": "ja", "target": "xx"}, timeout=5)
        assert (unknown.status_code, unknown.json()) == (400, {"error": "xx is not supported"})
        sb.inject_fault("translate", "429")
        limited = requests.post(f"{url}/translate", data={"q": "x", "source": "ja", "target": "en"}, timeout=5)
        assert limited.status_code == 429 and "error" in limited.json()
        languages = requests.get(f"{url}/languages", timeout=5).json()
        assert {"code": "vi", "name": "Vietnamese"}.items() <= next(x for x in languages if x["code"] == "vi").items()
