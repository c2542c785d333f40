"""What someone without SEE_ADDRESSES sees of a recipient's address."""

from __future__ import annotations

import pytest

from hub.contacts.masking import as_people_write_it, mask_address


@pytest.mark.parametrize(("address", "shown"), [
    ("+819012341234", "+81 90-****-1234"),
    ("taro@example.jp", "t***@example.jp"),
    ("U0123456789abcdef0123456789abcdef", "U****cdef"),
    ("+14155550123", "+14****0123"),
    ("short", "****"),
    (None, None),
    ("", ""),
])
def test_mask_address(address: str | None, shown: str | None) -> None:
    assert mask_address(address) == shown
    assert mask_address(shown) == shown, "what is masked stays as it is"


@pytest.mark.parametrize("erased", ["+81 90-****-1234（消去済み #812）", "t***@example.jp（保存期間経過 #9）",
                                    "U****cdef（消去済み #3）"])
def test_an_erased_persons_masked_address_is_shown_as_it_is(erased: str) -> None:
    assert mask_address(erased) == erased


@pytest.mark.parametrize(("stored", "on_the_page"), [
    ("+819012341234", "090-1234-1234"),  # a mobile, as officers dial it
    ("+81312345678", "03-1234-5678"),  # a Tokyo landline: the area code decides where the hyphens go
    ("+815012345678", "050-1234-5678"),
    ("+81 90-****-1234", "090-****-1234"),  # masked for a viewer
    ("+81 90-****-1234（消去済み #812）", "090-****-1234（消去済み #812）"),  # an erased person's row
    ("+14155550123", "+1 415-555-0123"),  # another country's number keeps its country code
    ("+8190", "+8190"),  # not a number: as stored
    ("taro@example.jp", "taro@example.jp"),
    ("U0123456789abcdef0123456789abcdef", "U0123456789abcdef0123456789abcdef"),
    (None, ""),
])
def test_pages_write_numbers_as_people_do(stored: str | None, on_the_page: str) -> None:
    assert as_people_write_it(stored) == on_the_page
