"""Texts per language through real workers: the translator fails for English, the message still
goes out — English readers get the Japanese after the fixed line, Vietnamese readers their language."""

from __future__ import annotations

import pytest

from hub.compose.messages import Composition
from hub.runtime import Runtime
from hub.translate.fallback import ENGLISH_LINE
from hub.translate.fill import audience_languages, fill_missing
from sandbox import SandboxClient
from tests.languages.support import EN_PHONE, JA_PHONE, VI_LINE, three_languages
from tests.support.hubtools import send, wait_for
from tests.support.worker import WorkerProcess

pytestmark = pytest.mark.slow


def test_a_translator_failure_still_reaches_everyone_through_real_workers(
    stack_runtime: Runtime, sandbox_client: SandboxClient, worker_factory: type[WorkerProcess]
) -> None:
    town = three_languages(stack_runtime)
    sandbox_client.inject_fault("translate", "500", count=0, match="en")
    comp = Composition(title="大雨警報が発表されました", body="川に近づかないでください。",
                       channels=["sms", "line", "voice"], audience=town.audience)
    with stack_runtime.session() as s:
        languages = audience_languages(s, comp)
    assert languages == ["en", "vi"]
    texts = fill_missing(stack_runtime, comp, languages).texts
    worker_factory().start()
    send(stack_runtime, title=comp.title, body=comp.body, channels=comp.channels, audience=comp.audience,
         texts=texts)

    wait_for(lambda: all(sandbox_client.inbox(ch, to=to) for ch, to in
                         (("sms", EN_PHONE), ("sms", JA_PHONE), ("line", VI_LINE), ("voice", EN_PHONE))),
             timeout=60, interval=0.5)
    [english] = sandbox_client.inbox("sms", to=EN_PHONE)
    assert english["text"].startswith(f"大雨警報が発表されました\n{ENGLISH_LINE}\n川に近づかないでください。")
    [vietnamese] = sandbox_client.inbox("line", to=VI_LINE)
    assert vietnamese["text"].startswith("Đã ban hành cảnh báo mưa lớn")
    [japanese] = sandbox_client.inbox("sms", to=JA_PHONE)
    assert ENGLISH_LINE not in japanese["text"]
    [call] = sandbox_client.inbox("voice", to=EN_PHONE)
    assert call["meta"]["languages"] == ["en-US", "ja-JP"]
