"""What someone without SEE_ADDRESSES sees of a recipient's address."""

from __future__ import annotations

import pytest

from hub.contacts.masking import mask_address


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
