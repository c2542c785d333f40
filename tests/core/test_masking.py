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
