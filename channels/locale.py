"""What a channel itself adds to a text, per language: mode and follow-up marks, spoken openings,
link labels, and the voice a call speaks with.

The written 【訓練】 / 【試験】 stay in every language, first, exactly as in Japanese: staff, the
sandbox and the hub's own checks recognise a drill by them, and a drill sent as live is the worst
mistake this hub can make. A language's own word follows them so its reader understands too — the
same words the reviewed template translations use (translations/templates/*/_phrasebook.yaml
``exercise_label``), so a translated template's own mark is not repeated (channels.text.with_prefix).
The same holds for 【取消】 / 【訂正】 / 【続報】: the hub's mark first, the language's word after.
Languages missing from a table get English.
"""

from __future__ import annotations

from dataclasses import dataclass

JAPANESE_CODES = frozenset({"ja", "ja-easy"})
# やさしい日本語 keeps the Japanese marks and says 訓練 in hiragana after 【訓練】, as its templates do.
EASY_DRILL = "【くんれん】"


@dataclass(frozen=True)
class Marks:
    drill: str  # after 【訓練】
    test: str  # after 【試験】
    cancel: str
    correction: str
    update: str  # 続報: a follow-up that adds information
    more: str  # before the link to the full text
    spoken_drill: str
    spoken_test: str
    spoken_cancel: str
    spoken_correction: str
    spoken_update: str
    spoken_repeat: str


ENGLISH = Marks(
    drill="[EXERCISE] ", test="[TEST] ", cancel="[CANCELLED] ", correction="[CORRECTION] ", update="[UPDATE] ",
    more="More information:", spoken_drill="This is a drill.", spoken_test="This is a test.",
    spoken_cancel="The previous message is cancelled.", spoken_correction="This is a correction.",
    spoken_update="This is an update.", spoken_repeat="Repeating.",
)

MARKS: dict[str, Marks] = {
    "en": ENGLISH,
    "zh": Marks(
        drill="【演习】", test="【测试】", cancel="【取消】", correction="【更正】", update="【后续】",
        more="详细信息：", spoken_drill="这是演习。", spoken_test="这是测试。",
        spoken_cancel="取消之前的通知。", spoken_correction="这是更正。", spoken_update="这是后续通知。",
        spoken_repeat="重复一遍。"),
    "ko": Marks(
        drill="[훈련] ", test="[시험] ", cancel="[취소] ", correction="[정정] ", update="[후속] ",
        more="자세한 내용:", spoken_drill="이것은 훈련입니다.", spoken_test="이것은 시험입니다.",
        spoken_cancel="앞의 안내를 취소합니다.", spoken_correction="정정 안내입니다.",
        spoken_update="후속 안내입니다.", spoken_repeat="다시 한 번 말씀드립니다."),
    "vi": Marks(
        drill="[DIỄN TẬP] ", test="[THỬ NGHIỆM] ", cancel="[HỦY] ", correction="[ĐÍNH CHÍNH] ",
        update="[CẬP NHẬT] ", more="Chi tiết:", spoken_drill="Đây là buổi diễn tập.",
        spoken_test="Đây là thử nghiệm.", spoken_cancel="Thông báo trước đã bị hủy.",
        spoken_correction="Đây là thông báo đính chính.", spoken_update="Đây là thông báo cập nhật.",
        spoken_repeat="Xin nhắc lại."),
    "pt": Marks(
        drill="[SIMULADO] ", test="[TESTE] ", cancel="[CANCELADO] ", correction="[CORREÇÃO] ",
        update="[ATUALIZAÇÃO] ", more="Mais informações:", spoken_drill="Isto é um simulado.",
        spoken_test="Isto é um teste.", spoken_cancel="A mensagem anterior foi cancelada.",
        spoken_correction="Esta é uma correção.", spoken_update="Esta é uma atualização.",
        spoken_repeat="Repetindo."),
    "es": Marks(
        drill="[SIMULACRO] ", test="[PRUEBA] ", cancel="[CANCELADO] ", correction="[CORRECCIÓN] ",
        update="[ACTUALIZACIÓN] ", more="Más información:", spoken_drill="Esto es un simulacro.",
        spoken_test="Esto es una prueba.", spoken_cancel="El mensaje anterior queda cancelado.",
        spoken_correction="Esta es una corrección.", spoken_update="Esta es una actualización.",
        spoken_repeat="Repito."),
}

# Japanese marks, as the channels have always written them.
JAPANESE_MORE = "詳しくはこちら:"

# Twilio <Say>: language → (language attribute, voice). Japanese and やさしい日本語 are read by the
# channel's configured Japanese voice. A language missing here has no voice to read it: its call
# text is not stored, so those residents are called in Japanese (hub/compose/messages.py "unfit").
SAY_VOICES: dict[str, tuple[str, str]] = {
    "en": ("en-US", "Polly.Joanna"),
    "zh": ("cmn-CN", "Polly.Zhiyu"),
    "ko": ("ko-KR", "Polly.Seoyeon"),
    "pt": ("pt-BR", "Polly.Camila"),
    "es": ("es-US", "Polly.Lupe"),
    "vi": ("vi-VN", "Google.vi-VN-Standard-A"),
    "id": ("id-ID", "Google.id-ID-Standard-A"),
    "th": ("th-TH", "Google.th-TH-Standard-A"),
    "tl": ("fil-PH", "Google.fil-PH-Standard-A"),
}


def is_japanese(language: str) -> bool:
    return language in JAPANESE_CODES


def marks_for(language: str) -> Marks:
    return MARKS.get(language, ENGLISH)


def bcp47(language: str) -> str:
    """The language as a BCP 47 tag (HTML lang, Content-Language): やさしい日本語 is Japanese."""
    return "ja" if language == "ja-easy" else language


def more_label(language: str) -> str:
    return JAPANESE_MORE if is_japanese(language) else marks_for(language).more
