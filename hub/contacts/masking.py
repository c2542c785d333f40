"""Recipients' addresses as shown to someone who may read a department's history but not its
addresses (``Action.SEE_ADDRESSES``): enough to tell rows apart, not enough to contact anyone."""

from __future__ import annotations

import phonenumbers

JAPAN = 81
MASKED_JAPANESE = "+81 "  # how mask_address begins a Japanese number


def mask_address(address: str | None) -> str | None:
    """``+81 90-****-1234``, ``t***@example.jp``, ``U****…abcd``; ``None`` and ``""`` stay as they are."""
    if not address:
        return address
    if "****" in address and "@" not in address:
        return address  # masked already (an erased person's history): no phone or LINE id has a '*'
    if "@" in address:
        local, _, domain = address.rpartition("@")
        return f"{local[:1]}***@{domain}"
    if address.startswith("+81") and len(address) > 9:
        national = address[3:]
        return f"{MASKED_JAPANESE}{national[:2]}-****-{national[-4:]}"
    if address.startswith("+") and len(address) > 6:
        return f"{address[:3]}****{address[-4:]}"
    if len(address) > 8:  # a LINE user id and anything else long
        return f"{address[:1]}****{address[-4:]}"
    return "****"


def as_people_write_it(address: str | None) -> str:
    """A phone number as officers read and dial it: ``090-1234-5678`` for a Japanese one (masked:
    ``090-****-5678``), ``+1 202-555-0100`` for another country's; e-mail, LINE ids and anything
    that is not a number as stored. For pages only: stored and exported numbers stay E.164."""
    if not address or not address.startswith("+"):
        return address or ""
    if address.startswith(MASKED_JAPANESE):
        return "0" + address.removeprefix(MASKED_JAPANESE)
    try:
        number = phonenumbers.parse(address, None)
    except phonenumbers.NumberParseException:
        return address
    if not phonenumbers.is_valid_number(number):
        return address
    style = (phonenumbers.PhoneNumberFormat.NATIONAL if number.country_code == JAPAN
             else phonenumbers.PhoneNumberFormat.INTERNATIONAL)
    return phonenumbers.format_number(number, style)
