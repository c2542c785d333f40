"""Recipients' addresses as shown to someone who may read a department's history but not its
addresses (``Action.SEE_ADDRESSES``): enough to tell rows apart, not enough to contact anyone."""

from __future__ import annotations


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
        return f"+81 {national[:2]}-****-{national[-4:]}"
    if address.startswith("+") and len(address) > 6:
        return f"{address[:3]}****{address[-4:]}"
    if len(address) > 8:  # a LINE user id and anything else long
        return f"{address[:1]}****{address[-4:]}"
    return "****"
