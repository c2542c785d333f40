"""A resident who chose やさしい日本語 reads their own pages in it: the survey answer page, the
preferences page, and adding their e-mail (the mail and the confirmation page); a resident of
another language reads them in English. Every string of those pages has its やさしい日本語, and
each passes the hub's own checker."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from hub.i18n import catalog
from hub.models import Consent, Contact
from hub.residents.easy_japanese import check
from hub.residents.links import PREFERENCES, UNSUBSCRIBE, ResidentLink, make_token
from hub.runtime import Runtime
from sandbox import SandboxClient
from tests.api.support import csrf, seed
from tests.support.hubtools import wait_for
from tests.surveys.support import OSHU, add_residents, send_survey

TEMPLATES = Path(__file__).resolve().parents[2] / "hub" / "residents" / "templates"
PAGES = ("surveys/answer.html", "residents/preferences.html", "residents/erased.html", "residents/_choices.html", "residents/_layout.html",
         "residents/confirm.html", "residents/confirmed.html", "residents/problem.html",
         "residents/unsubscribe.html", "residents/register.html", "residents/register_sent.html")
MAILBOX = "yasashii@mail.example.jp"


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    seed(app)
    return app.test_client()


def test_every_string_of_the_pages_has_its_yasashii_nihongo_and_it_passes_the_checker() -> None:
    easy = catalog("ja-easy")
    used = {m for page in PAGES for m in re.findall(r'_\("([^"]+)"\)', (TEMPLATES / page).read_text())}
    assert len(used) >= 30
    assert sorted(used - set(easy)) == []
    assert {source: [f.text for f in check(text)] for source, text in easy.items() if check(text)} == {}


def test_the_answer_page_speaks_yasashii_nihongo(client: FlaskClient, runtime: Runtime,
                                                 sandbox_client: SandboxClient) -> None:
    add_residents(runtime, [{"name": "リン", "area": OSHU, "email": MAILBOX, "language": "ja-easy"}])
    send_survey(client, ["email"])
    [mail] = sandbox_client.inbox("email", to=MAILBOX)
    found = re.search(r"(/r/a/\S+)", mail["text"])
    assert found
    page = client.get(found.group(1)).get_data(as_text=True)
    assert '<html lang="ja">' in page and "しつもんに こたえる" in page and "こたえを おくる" in page
    saved = client.post(found.group(1), data={"choice": "1", "csrf_token": csrf(client)}).get_data(as_text=True)
    assert "こたえを うけとりました。ありがとうございました。" in saved


def test_preferences_and_adding_a_mailbox_speak_yasashii_nihongo(
        client: FlaskClient, runtime: Runtime, sandbox_client: SandboxClient) -> None:
    with runtime.session() as s:
        contact = Contact(kind="resident", name="", line_user_id="U" + "e" * 32, language="ja-easy",
                          consents=[Consent(channel="line", source="test")])
        s.add(contact)
        s.flush()
        contact_id = contact.id
    path = f"/r/p/{make_token(runtime.settings, ResidentLink(PREFERENCES, contact_id))}"
    page = client.get(path).get_data(as_text=True)
    assert '<html lang="ja">' in page and "<h1>おしらせの せってい</h1>" in page and "<li>LINE</li>" in page
    sent = client.post(path, data={"csrf_token": csrf(client), "action": "email", "email": MAILBOX})
    assert "メールを おくりました" in sent.get_data(as_text=True)

    wait_for(lambda: len(sandbox_client.inbox("email", to=MAILBOX)) == 1)
    [mail] = sandbox_client.inbox("email", to=MAILBOX)
    assert mail["subject"] == "とうろくの かくにん" and '<html lang="ja">' in (mail["html"] or "")
    confirm = re.search(r"https?://\S+(/register/confirm/\S+)", mail["text"])
    assert confirm
    shown = client.get(confirm.group(1)).get_data(as_text=True)
    assert "けってい する" in shown and "あなたの せっていに" not in shown  # the page, not the mail
    done = client.post(confirm.group(1), data={"csrf_token": csrf(client)}).get_data(as_text=True)
    assert "とうろく しました" in done
    with runtime.session() as s:
        assert s.scalar(select(Contact.email).where(Contact.id == contact_id)) == MAILBOX


def test_the_stop_page_speaks_yasashii_nihongo(client: FlaskClient, runtime: Runtime) -> None:
    with runtime.session() as s:
        contact = Contact(kind="resident", name="", email=MAILBOX, language="ja-easy",
                          consents=[Consent(channel="email", source="test")])
        s.add(contact)
        s.flush()
        path = f"/r/u/{make_token(runtime.settings, ResidentLink(UNSUBSCRIBE, contact.id, 'email'))}"
    page = client.get(path).get_data(as_text=True)
    assert '<html lang="ja">' in page and "の おしらせを とめますか？" in page and ">とめる</button>" in page
    done = client.post(path, data={"List-Unsubscribe": "One-Click", "via": "page"}).get_data(as_text=True)
    assert "の おしらせを とめました。" in done


def test_registration_is_offered_in_yasashii_nihongo_and_the_console_stays_as_it_was(
        client: FlaskClient, runtime: Runtime, sandbox_client: SandboxClient) -> None:
    page = client.get("/register?lang=ja-easy")
    assert "<h1>メールで おしらせを うけとる</h1>" in page.get_data(as_text=True)
    assert '<html lang="ja">' in page.get_data(as_text=True) and "lang=ja-easy" in page.headers["Set-Cookie"]
    form = {"csrf_token": csrf(client), "email": MAILBOX, "category": ["bousai"], "language": "ja-easy"}
    assert "メールを おくりました" in client.post("/register", data=form).get_data(as_text=True)
    wait_for(lambda: len(sandbox_client.inbox("email", to=MAILBOX)) == 1)
    [mail] = sandbox_client.inbox("email", to=MAILBOX)
    assert "おしらせの とうろくの もうしこみが ありました。" in mail["text"]
    # The console offers no やさしい日本語: the cookie leaves it in Japanese, with a valid lang.
    login_page = client.get("/login").get_data(as_text=True)
    assert '<html lang="ja">' in login_page and "ログイン" in login_page


def test_a_reader_of_another_language_gets_english_unless_the_page_is_told(
        client: FlaskClient, runtime: Runtime) -> None:
    with runtime.session() as s:
        contact = Contact(kind="resident", name="", line_user_id="U" + "f" * 32, language="vi")
        s.add(contact)
        s.flush()
        path = f"/r/p/{make_token(runtime.settings, ResidentLink(PREFERENCES, contact.id))}"
    assert '<html lang="en">' in client.get(path).get_data(as_text=True)
    assert '<html lang="ja">' in client.get(f"{path}?lang=ja").get_data(as_text=True)
