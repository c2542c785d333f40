"""A small town of three residents reading three languages, in an area of their own."""

from __future__ import annotations

from dataclasses import dataclass

from hub.models import Area, Consent, Contact
from hub.runtime import Runtime

AREA = "9990001"
EN_PHONE, JA_PHONE, VI_PHONE = "+819011110001", "+819011110003", "+819011110005"
VI_LINE = "U" + "7" * 32
JA_LINE = "U" + "3" * 32


@dataclass(frozen=True)
class Town:
    area: str = AREA
    audience: str = f"area:{AREA}"


def three_languages(runtime: Runtime) -> Town:
    """en by SMS and call, vi on LINE and by call, ja by SMS, call and LINE; all drill participants."""
    with runtime.session() as s:
        area = Area(code=AREA, name="多言語テスト地区")
        people = [
            (Contact(kind="resident", name="Alice", language="en", phone=EN_PHONE), ("sms", "voice")),
            (Contact(kind="resident", name="Lan", language="vi", phone=VI_PHONE, line_user_id=VI_LINE),
             ("line", "voice")),
            (Contact(kind="resident", name="山田", language="ja", phone=JA_PHONE, line_user_id=JA_LINE),
             ("sms", "voice", "line")),
        ]
        for contact, channels in people:
            contact.areas = [area]
            contact.exercise_participant = True
            contact.consents = [Consent(channel=ch, source="test") for ch in channels]
            s.add(contact)
    return Town()
