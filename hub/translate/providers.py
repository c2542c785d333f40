"""One text, one target language, through the provider ``HUB_TRANSLATOR`` names.

deep-translator does the provider's wire format. Two things it does not do are done here: a
deadline (its requests carry no timeout, and a translator that hangs must not hang the composer
or a trigger), and one exception type whose message says why, in words an operator can act on.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from hub.residents.languages import EASY_JAPANESE, JAPANESE, LANGUAGES

if TYPE_CHECKING:
    from hub.config import Settings

PROVIDERS = ("libre", "deepl", "google", "none")
DEEPL_FREE_KEY_SUFFIX = ":fx"  # DeepL's free-plan keys end so, and are served by api-free.deepl.com

# Hub language code → the provider's, where they differ. Languages a provider lacks are still
# asked for: its refusal is the reason the operator sees, and a provider's list grows over time.
PROVIDER_CODES: dict[str, dict[str, str]] = {
    # LibreTranslate's codes are the ISO 639-1 ones the hub uses ("zh": simplified Chinese).
    "libre": {},
    # DeepL: EN alone is deprecated as a target; residents in Japan writing Portuguese are mostly Brazilian.
    "deepl": {"en": "en-us", "pt": "pt-br", "zh": "zh"},
    # Google Translate names simplified Chinese zh-CN and Tagalog (Filipino) tl.
    "google": {"zh": "zh-CN"},
}


class TranslationFailed(RuntimeError):
    """The text could not be translated; ``str(exc)`` says why (shown to the operator, kept in the record)."""


def translator_ready(settings: Settings) -> bool:
    """Whether machine translation is configured at all (``GET /api/v1/translations`` says which; the
    cancel page words its note by it). Unconfigured, every translation fails to the fixed notice line."""
    if settings.translator == "libre":
        return bool(settings.translator_url)
    if settings.translator == "deepl":
        return bool(settings.translator_key)
    return settings.translator == "google"


def provider_code(provider: str, language: str) -> str:
    return PROVIDER_CODES.get(provider, {}).get(language, language)


def translate(settings: Settings, text: str, source: str = JAPANESE, target: str = "en") -> str:
    """``text`` in ``target``; raises :class:`TranslationFailed` with the reason.

    やさしい日本語 is never machine-translated: its texts are written for it by a person.
    """
    if target == EASY_JAPANESE or source == EASY_JAPANESE:
        raise TranslationFailed("やさしい日本語は機械翻訳しません（人が書いた文を使います）")
    if target not in LANGUAGES:
        raise TranslationFailed(f"言語コード「{target}」は扱っていません")
    if not text.strip() or target == source:
        return text
    provider = settings.translator
    if provider == "none" or provider not in PROVIDERS:
        raise TranslationFailed("機械翻訳が設定されていません（HUB_TRANSLATOR）")
    translator = _make(settings, provider, provider_code(provider, source), provider_code(provider, target))
    cut = pieces(text)
    translated = []
    for n, (piece, separator) in enumerate(cut, start=1):
        if not piece.strip():
            translated.append(piece + separator)
            continue
        result = _with_deadline(lambda: translator.translate(piece), settings.translator_timeout)  # noqa: B023
        if not isinstance(result, str) or not result.strip():
            raise TranslationFailed("翻訳サービスが空の訳文を返しました")
        # Cut between two sentences of one paragraph: most languages put a space there, Japanese none.
        between = separator or ("" if n == len(cut) or target in UNSPACED else " ")
        translated.append(result + between)
    return "".join(translated)


# Google Translate refuses 5,000 characters in one request, and LibreTranslate's public servers
# as many; a notice may hold 10,000. Longer texts go in pieces cut where a reader would pause.
PIECE_CHARS = 4500
UNSPACED = frozenset({"ja", "zh"})  # languages written without spaces between sentences
_CUTS = ("\n\n", "\n", "。", "．", "！", "？", ". ", "、", " ")


def pieces(text: str, limit: int = PIECE_CHARS) -> list[tuple[str, str]]:
    """``text`` as (piece, separator) pairs of at most ``limit`` characters that join back into it:
    cut after a paragraph where one fits, else a line, else a sentence, else a clause."""
    out: list[tuple[str, str]] = []
    rest = text
    while len(rest) > limit:
        window = rest[:limit]
        for cut in _CUTS:
            at = window.rfind(cut)
            if at >= limit // 4:
                break
        else:
            at, cut = limit, ""
        if cut.strip():  # a sentence's or clause's mark stays with its sentence
            piece, separator, rest = rest[:at + len(cut)], "", rest[at + len(cut):]
        else:  # newlines and spaces are kept between the translated pieces, as written
            piece, separator, rest = rest[:at], cut, rest[at + len(cut):]
        out.append((piece, separator))
    out.append((rest, ""))
    return out


def _make(settings: Settings, provider: str, source: str, target: str) -> Any:
    from deep_translator import DeeplTranslator, GoogleTranslator, LibreTranslator

    # Built with a pair every version of deep-translator knows, then pointed at the real pair
    # through its public setters: its built-in language lists are older than the providers' own,
    # and the provider's answer is the better judge of what it can translate.
    try:
        if provider == "libre":
            if not settings.translator_url:
                raise TranslationFailed("LibreTranslateのURLが設定されていません（HUB_TRANSLATOR_URL）")
            url = settings.translator_url.rstrip("/") + "/"  # deep-translator appends "translate"
            # deep-translator insists on a key; a self-hosted server usually wants none, so none is sent.
            translator: Any = LibreTranslator(source="ja", target="en", api_key=settings.translator_key or "-",
                                              custom_url=url)
            translator.api_key = settings.translator_key
        elif provider == "deepl":
            if not settings.translator_key:
                raise TranslationFailed("DeepLのキーが設定されていません（HUB_TRANSLATOR_KEY）")
            translator = DeeplTranslator(source="ja", target="en", api_key=settings.translator_key,
                                         use_free_api=settings.translator_key.endswith(DEEPL_FREE_KEY_SUFFIX))
        else:
            translator = GoogleTranslator(source="ja", target="en")
    except TranslationFailed:
        raise
    except Exception as exc:  # deep-translator's own checks
        raise TranslationFailed(_reason(exc)) from exc
    translator.source, translator.target = source, target
    return translator


def _with_deadline(call: Callable[[], str], timeout: float) -> str:
    """``call()`` or TranslationFailed after ``timeout`` seconds (the request is left to finish alone)."""
    outcome: dict[str, Any] = {}

    def run() -> None:
        try:
            outcome["value"] = call()
        except BaseException as exc:  # handed to the caller's thread
            outcome["error"] = exc

    worker = threading.Thread(target=run, name="translate", daemon=True)
    worker.start()
    worker.join(timeout)
    if worker.is_alive():
        raise TranslationFailed(f"翻訳サービスが{timeout:g}秒以内に応答しませんでした")
    if "error" in outcome:
        raise TranslationFailed(_reason(outcome["error"])) from outcome["error"]
    return str(outcome.get("value") or "")


def _reason(exc: BaseException) -> str:
    """What went wrong, without the key (deep-translator puts the key in its authorization error)."""
    from deep_translator import exceptions as dt
    from requests import RequestException

    if isinstance(exc, dt.AuthorizationException):
        return "翻訳サービスがキーを受け付けませんでした（HUB_TRANSLATOR_KEY）"
    if isinstance(exc, dt.TooManyRequests):
        return "翻訳サービスの利用上限に達しました（429）"
    if isinstance(exc, dt.ServerException):
        # Its message is the status's name (ERR_INTERNAL_SERVER_ERROR …); the status code is not kept.
        return f"翻訳サービスがエラーを返しました（{exc.args[0] if exc.args else 'error'}）"
    if isinstance(exc, dt.LanguageNotSupportedException | dt.InvalidSourceOrTargetLanguage):
        return "翻訳サービスがこの言語に対応していません"
    if isinstance(exc, dt.NotValidPayload | dt.NotValidLength):
        return "翻訳サービスに送れない長さ・形式の文です"
    if isinstance(exc, dt.TranslationNotFound | dt.RequestError):
        return "翻訳サービスから訳文を得られませんでした"
    if isinstance(exc, RequestException | OSError):
        return f"翻訳サービスに接続できませんでした（{type(exc).__name__}）"
    return f"翻訳に失敗しました（{type(exc).__name__}）"
