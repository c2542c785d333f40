"""The fast path for Japanese mobile numbers answers as phonenumbers would, for every number it takes."""

from __future__ import annotations

import phonenumbers
from hypothesis import given, settings
from hypothesis import strategies as st

from channels.sms import JAPANESE_MOBILE, SmsChannel, SmsConfig
from channels.twilio import e164


def library_says(address: str) -> str | None:
    try:
        parsed = phonenumbers.parse(address, "JP")
    except phonenumbers.NumberParseException:
        return "invalid_address"
    if not phonenumbers.is_valid_number(parsed):
        return "invalid_address"
    mobile = (phonenumbers.PhoneNumberType.MOBILE, phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE)
    return None if phonenumbers.number_type(parsed) in mobile else "not_mobile"


@settings(max_examples=2000, deadline=None)
@given(st.from_regex(r"\+81[0-9]{9,10}", fullmatch=True))
def test_every_japanese_number_is_judged_as_phonenumbers_judges_it(address: str) -> None:
    channel = SmsChannel(SmsConfig())
    assert channel.check_address(address) == library_says(address)


def test_the_fast_path_takes_only_mobile_numbers() -> None:
    for address in ("+819012345678", "+818012345678", "+817012345678"):
        assert JAPANESE_MOBILE.fullmatch(address) and library_says(address) is None
    for address in ("+819001234567", "+81312345678", "+812012345678", "+8190123456789", "09012345678"):
        assert not JAPANESE_MOBILE.fullmatch(address)


@settings(max_examples=500, deadline=None)
@given(st.from_regex(r"\+81[789]0[0-9]{8}", fullmatch=True))
def test_a_mobile_number_is_sent_to_in_the_form_phonenumbers_gives(address: str) -> None:
    parsed = phonenumbers.parse(address, "JP")
    if phonenumbers.is_valid_number(parsed):
        assert e164(address) == phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
    assert e164("090-1234-5678") == "+819012345678"
