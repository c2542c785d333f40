"""Request bodies are bounded: too big is a 413 (never a 500), and a provider webhook is refused
before a large body is read, let alone parsed."""

from __future__ import annotations

import io
from dataclasses import replace

from flask import Flask
from twilio.request_validator import RequestValidator

from hub.app import create_app
from hub.config import Settings
from sandbox.constants import SANDBOX_TWILIO_AUTH_TOKEN
from tests.api.support import bearer, seed

MIB = 1024 * 1024


class CountingForm(io.RawIOBase):
    """``size`` bytes of ``a=aaaa…`` produced on demand; remembers how much anyone read."""

    def __init__(self, size: int) -> None:
        self.size, self.pos, self.read_bytes = size, 0, 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:  # the test client measures the stream by seeking, never by reading
        return True

    def tell(self) -> int:
        return self.pos

    def seek(self, offset: int, whence: int = 0) -> int:
        self.pos = {0: offset, 1: self.pos + offset, 2: self.size + offset}[whence]
        return self.pos

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        n = max(0, min(len(buffer), self.size - self.pos))
        buffer[:n] = (b"a=" + b"a" * n)[:n]
        self.pos += n
        self.read_bytes += n
        return n


def _post(app: Flask, path: str, stream: CountingForm, **headers: str) -> int:
    response = app.test_client().post(path, input_stream=stream, content_length=stream.size,
                                      content_type="application/x-www-form-urlencoded", headers=headers)
    return response.status_code


def test_a_64_mib_unsigned_form_to_the_twilio_callback_is_refused_unread(app: Flask) -> None:
    stream = CountingForm(64 * MIB)
    assert _post(app, "/callbacks/twilio/status?d=1", stream) in (403, 413)
    assert stream.read_bytes == 0


def test_an_unsigned_form_under_the_app_limit_is_refused_unread_too(app: Flask) -> None:
    stream = CountingForm(4 * MIB)  # under the 10 MiB app limit: refused for the missing signature
    assert _post(app, "/callbacks/twilio/status?d=1", stream) == 403
    assert stream.read_bytes == 0


def test_a_webhook_over_its_1_mib_cap_is_refused_unread(app: Flask) -> None:
    stream = CountingForm(4 * MIB)
    assert _post(app, "/callbacks/twilio/status?d=1", stream, **{"X-Twilio-Signature": "forged"}) == 413
    assert stream.read_bytes == 0
    line = CountingForm(4 * MIB)
    assert _post(app, "/callbacks/line/webhook", line, **{"X-Line-Signature": "forged"}) == 413
    assert line.read_bytes == 0


def test_a_webhook_body_without_a_declared_length_stops_at_the_cap(app: Flask) -> None:
    stream = CountingForm(4 * MIB)
    environ = {"wsgi.input_terminated": True}  # a chunked body: no Content-Length to refuse it by
    response = app.test_client().post("/callbacks/line/webhook", input_stream=stream, environ_base=environ,
                                      headers={"X-Line-Signature": "forged", "Transfer-Encoding": "chunked"})
    assert response.status_code == 413
    assert stream.read_bytes <= MIB + 64 * 1024


def test_a_signed_status_callback_under_the_cap_still_works(app: Flask, settings: Settings) -> None:
    url = settings.public_url.rstrip("/") + "/callbacks/twilio/status?d=1"
    form = {"MessageSid": "SM" + "0" * 32, "MessageStatus": "delivered", "Note": "x" * 4000}
    signature = RequestValidator(SANDBOX_TWILIO_AUTH_TOKEN).compute_signature(url, form)
    response = app.test_client().post("/callbacks/twilio/status?d=1", data=form,
                                      headers={"X-Twilio-Signature": signature})
    assert response.status_code == 204


def test_an_api_body_over_the_limit_is_a_json_413(settings: Settings) -> None:
    app = create_app(replace(settings, max_content_length=MIB))
    seed(app)
    response = app.test_client().post("/api/v1/messages", data=b"{" + b" " * (2 * MIB) + b"}",
                                      content_type="application/json", headers=bearer())
    assert response.status_code == 413
    assert response.get_json()["error"]["message"] == "送信されたデータが大きすぎます"


def test_a_page_post_over_the_limit_is_a_413_page(settings: Settings) -> None:
    app = create_app(replace(settings, max_content_length=MIB))
    response = app.test_client().post("/login", data={"username": "x" * (2 * MIB)})
    assert response.status_code == 413 and b"<" in response.data
