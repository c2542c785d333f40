"""The Twilio request body the hub builds is byte for byte the form ``urlencode`` (and ``requests``) make."""

from __future__ import annotations

from urllib.parse import urlencode

from hypothesis import given
from hypothesis import strategies as st

from channels.clients import form_encoded

values = st.one_of(st.text(), st.lists(st.text(), max_size=3), st.integers(), st.booleans())


@given(st.dictionaries(st.text(min_size=1), values, max_size=6))
def test_the_form_is_the_one_urlencode_makes(data: dict[str, object]) -> None:
    assert form_encoded(data) == urlencode(list(data.items()), doseq=True)


def test_a_japanese_body_and_a_status_callback_url_are_quoted_as_twilio_expects() -> None:
    body = form_encoded({"To": "+819012345678", "Body": "【訓練】避難してください", "StatusCallback": "http://h/cb?d=1"})
    assert body == ("To=%2B819012345678&Body=%E3%80%90%E8%A8%93%E7%B7%B4%E3%80%91%E9%81%BF%E9%9B%A3%E3%81%97"
                    "%E3%81%A6%E3%81%8F%E3%81%A0%E3%81%95%E3%81%84&StatusCallback=http%3A%2F%2Fh%2Fcb%3Fd%3D1")
