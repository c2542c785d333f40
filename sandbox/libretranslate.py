"""A LibreTranslate-compatible translator: ``POST /translate``, ``GET /languages``.

Offline and deterministic: sentences of the demo and of the tests come from a small phrase table,
anything else is a pseudo-translation marked ``[sandbox:<target>]`` before the original text, so
nobody mistakes it for a translation. Parameters are read from the query string, a form or a JSON
body, as LibreTranslate reads them (deep-translator sends them in the query string). Errors have
LibreTranslate's shape, ``{"error": "..."}``. Faults of channel ``translate`` (500, 429, timeout)
match the target language.
"""

from __future__ import annotations

import json
import re
from typing import Any

from sandbox.context import SandboxContext
from sandbox.server import Request, Response, Router, json_response, parse_form

# The languages this translator serves (those the hub offers residents, without やさしい日本語).
LANGUAGE_NAMES = {
    "ja": "Japanese", "en": "English", "zh": "Chinese", "ko": "Korean", "vi": "Vietnamese",
    "pt": "Portuguese", "es": "Spanish", "tl": "Tagalog", "ne": "Nepali", "id": "Indonesian", "th": "Thai",
}
MAX_CHARS = 5000

# Japanese sentence → its translations. Lines are looked up whole, then sentence by sentence.
PHRASES: dict[str, dict[str, str]] = {
    "大雨警報が発表されました": {
        "en": "A heavy rain warning has been issued", "vi": "Đã ban hành cảnh báo mưa lớn",
        "zh": "已发布大雨警报", "ko": "호우 경보가 발령되었습니다"},
    "川に近づかないでください。": {
        "en": "Please stay away from rivers.", "vi": "Xin đừng đến gần sông.", "zh": "请不要靠近河流。",
        "ko": "강에 가까이 가지 마십시오."},
    "避難所を開設しました": {
        "en": "Evacuation shelters are open", "vi": "Đã mở nơi sơ tán", "zh": "避难所已开放",
        "ko": "대피소를 개설했습니다"},
    "避難所を開設しました。": {
        "en": "Evacuation shelters are open.", "vi": "Đã mở nơi sơ tán.", "zh": "避难所已开放。",
        "ko": "대피소를 개설했습니다."},
    "避難する際は、食料・飲料水・常備薬・携帯電話の充電器をお持ちください。": {
        "en": "When you evacuate, bring food, drinking water, your medicines and a phone charger.",
        "vi": "Khi sơ tán, hãy mang theo thức ăn, nước uống, thuốc thường dùng và sạc điện thoại.",
        "zh": "避难时请携带食物、饮用水、常用药和手机充电器。",
        "ko": "대피할 때는 식량, 식수, 상비약, 휴대전화 충전기를 가져오십시오."},
    "断水のお知らせ": {
        "en": "Water supply interruption", "vi": "Thông báo cắt nước", "zh": "停水通知", "ko": "단수 안내"},
    # A survey: its question and labels (one too long for a LINE button once in Vietnamese).
    "避難していますか": {
        "en": "Have you evacuated?", "vi": "Bạn đã sơ tán chưa?", "zh": "您已经避难了吗？", "ko": "대피하셨습니까?"},
    "はい": {"en": "Yes", "vi": "Có", "zh": "是", "ko": "예"},
    "いいえ": {"en": "No", "vi": "Không", "zh": "否", "ko": "아니요"},
    "自宅で安全に過ごしている": {
        "en": "Safe at home", "vi": "Tôi đang ở nhà an toàn", "zh": "在家很安全", "ko": "집에서 안전하게 지냄"},
    "避難状況の確認": {
        "en": "Checking on evacuation", "vi": "Kiểm tra tình trạng sơ tán", "zh": "避难情况确认",
        "ko": "대피 상황 확인"},
    "これは訓練です。": {
        "en": "This is a drill.", "vi": "Đây là buổi diễn tập.", "zh": "这是演习。", "ko": "이것은 훈련입니다."},
}
_SENTENCE = re.compile(r"[^。！？!?]+[。！？!?]?")


def translate_text(text: str, source: str, target: str) -> str:
    if source == target:
        return text
    return "\n".join(_line(line, target) for line in text.split("\n"))


def _line(line: str, target: str) -> str:
    if not line.strip():
        return line
    if target in PHRASES.get(line.strip(), {}):
        return PHRASES[line.strip()][target]
    sentences = [s.strip() for s in _SENTENCE.findall(line) if s.strip()]
    if sentences and all(target in PHRASES.get(s, {}) for s in sentences):
        return " ".join(PHRASES[s][target] for s in sentences)
    return f"[sandbox:{target}] {line}"


def _error(status: int, message: str) -> Response:
    return json_response(status, {"error": message})


class LibreTranslateApi:
    def __init__(self, ctx: SandboxContext) -> None:
        self.ctx = ctx

    def register(self, router: Router) -> None:
        router.add("POST", "/translate", self.translate)
        router.add("GET", "/languages", self.languages)

    def clear(self) -> None:
        pass

    def languages(self, request: Request) -> Response:
        codes = list(LANGUAGE_NAMES)
        return json_response(200, [{"code": c, "name": LANGUAGE_NAMES[c], "targets": [t for t in codes if t != c]}
                                   for c in codes])

    @staticmethod
    def _params(request: Request) -> dict[str, Any]:
        params: dict[str, Any] = {k: v[0] for k, v in request.query.items() if v}
        content_type = (request.header("Content-Type") or "").split(";")[0].strip().lower()
        if content_type == "application/json" and request.body:
            try:
                body = json.loads(request.body.decode("utf-8"))
            except (ValueError, UnicodeDecodeError):
                raise ValueError("Invalid request: the body is not JSON") from None
            if not isinstance(body, dict):
                raise ValueError("Invalid request: the body is not a JSON object")
            params.update(body)
        elif request.body:
            params.update({k: v[0] for k, v in parse_form(request.body).items() if v})
        return params

    def translate(self, request: Request) -> Response:
        self.ctx.stats.incr("libretranslate.translate")
        try:
            params = self._params(request)
        except ValueError as exc:
            return _error(400, str(exc))
        q, source, target = params.get("q"), params.get("source"), params.get("target")
        for name, value in (("q", q), ("source", source), ("target", target)):
            if not value:
                return _error(400, f"Invalid request: missing {name} parameter")
        texts: list[Any] = q if isinstance(q, list) else [q]
        if not all(isinstance(t, str) for t in texts) or not isinstance(source, str) or not isinstance(target, str):
            return _error(400, "Invalid request: q, source and target must be strings")
        size = sum(len(t) for t in texts)
        if size > MAX_CHARS:
            return _error(400, f"Invalid request: request ({size}) exceeds text limit ({MAX_CHARS})")
        if source != "auto" and source not in LANGUAGE_NAMES:
            return _error(400, f"{source} is not supported")
        if target not in LANGUAGE_NAMES:
            return _error(400, f"{target} is not supported")
        if params.get("format", "text") not in ("text", "html"):
            return _error(400, f"{params.get('format')} format is not supported")
        fault = self.ctx.faults.take("translate", (target,))
        if fault is not None and fault.kind == "500":
            return _error(500, "Cannot translate text: the sandbox was told to fail")
        if fault is not None and fault.kind == "429":
            return _error(429, "Slowdown: 60 per 1 minute")
        detected = "ja" if source == "auto" else source
        translated = [translate_text(t, detected, target) for t in texts]
        payload: dict[str, Any] = {"translatedText": translated if isinstance(q, list) else translated[0]}
        if source == "auto":
            detection = {"confidence": 90.0, "language": detected}
            payload["detectedLanguage"] = [detection] * len(texts) if isinstance(q, list) else detection
        response = json_response(200, payload)
        if fault is not None:  # timeout: the answer comes, too late
            response.delay = fault.timeout_delay
        return response
