"""A resident registers on the web page in a real Chromium, confirms from the mailbox, then changes
and stops everything on their preferences page; each page passes axe-core with no serious violation."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from flask import Flask
from sqlalchemy import select

from hub.models import Contact
from hub.runtime import Runtime
from sandbox import SandboxClient
from tests.api.support import seed
from tests.support.hubtools import wait_for
from tests.web.test_accessibility import AXE, _violations
from tests.web.test_browser import _shoot, browser  # noqa: F401  (the Chromium fixture)
from tests.web.test_browser_console import _wait

EMAIL = "hanako@mail.example.jp"


def _no_serious_violation(web: Any) -> None:
    if AXE.exists():  # `make test` fetches it; the flow below is checked either way
        found = _violations(web, AXE.read_text(encoding="utf-8"))
        assert [f"{v['id']}: {v.get('help')}" for v in found] == [], web.current_url


def test_a_resident_registers_confirms_and_manages_their_preferences(
    app: Flask, runtime: Runtime, sandbox_client: SandboxClient, browser: Any, tmp_path: Path  # noqa: F811
) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    def shown(element_id: str) -> Any:
        return _wait(web, lambda w: w.find_elements(By.ID, element_id), 10)[0]

    seed(app)
    base = runtime.settings.public_url.rstrip("/")
    web = browser
    web.set_script_timeout(60)
    web.get(f"{base}/register")
    assert web.find_element(By.TAG_NAME, "h1").text == "メール配信の登録"
    _no_serious_violation(web)
    web.find_element(By.ID, "email").send_keys(EMAIL)
    web.find_element(By.CSS_SELECTOR, "input[name=category][value=bousai]").click()
    web.find_element(By.CSS_SELECTOR, "input[name=area][value='0321500']").click()
    Select(web.find_element(By.ID, "language")).select_by_value("vi")
    _shoot(web, tmp_path, "residents-register")
    web.find_element(By.CSS_SELECTOR, "form button[type=submit]").click()
    # The old page's heading can go stale under the check while the next page loads.
    _wait(web, lambda w: "確認メールを送りました" in w.find_element(By.TAG_NAME, "h1").text, 10)
    _no_serious_violation(web)

    wait_for(lambda: len(sandbox_client.inbox(channel="email", to=EMAIL)) == 1)
    [mail] = sandbox_client.inbox(channel="email", to=EMAIL)
    found = re.search(r"https?://\S+/register/confirm/[\w.\-]+", mail["text"])
    assert found
    web.get(found.group(0))
    assert "奥州市" in web.page_source and "Tiếng Việt" in web.page_source
    _no_serious_violation(web)
    web.find_element(By.CSS_SELECTOR, "form button[type=submit]").click()
    shown("preferences-link").click()
    _wait(web, lambda w: "/r/p/" in w.current_url, 10)

    assert web.find_element(By.CSS_SELECTOR, "input[name=category][value=bousai]").is_selected()
    _no_serious_violation(web)
    web.find_element(By.CSS_SELECTOR, "input[name=category][value=kenko]").click()
    web.find_element(By.CSS_SELECTOR, "button[value=save]").click()
    # Their page speaks English: they chose Vietnamese, which the page's own words are not in.
    assert "Your settings have been saved." in shown("notice").text
    _shoot(web, tmp_path, "residents-preferences")
    web.find_element(By.CSS_SELECTOR, "button[value=stop]").click()
    assert shown("stopped").is_displayed()
    with runtime.session() as s:
        contact = s.scalar(select(Contact).where(Contact.email == EMAIL))
        assert contact is not None and contact.language == "vi"
        assert sorted(c.code for c in contact.categories) == ["bousai", "kenko"]
        assert contact.consents and all(c.revoked_at is not None for c in contact.consents)


def test_a_line_resident_asks_for_email_too_on_a_phone(
    app: Flask, runtime: Runtime, sandbox_client: SandboxClient, browser: Any, tmp_path: Path  # noqa: F811
) -> None:
    from selenium.webdriver.common.by import By

    from hub.models import Consent
    from hub.residents.links import PREFERENCES, ResidentLink, url_for

    seed(app)
    with runtime.session() as s:
        contact = Contact(kind="resident", name="", line_user_id="U" + "d" * 32, language="en",
                          consents=[Consent(channel="line", source="line:follow")])
        s.add(contact)
        s.flush()
        link = url_for(runtime.settings, ResidentLink(PREFERENCES, contact.id))
    web = browser
    web.set_window_size(390, 844)
    web.get(f"{link}?lang=en")
    heading = web.find_element(By.ID, "email-h")
    assert heading.text == "Receive by e-mail too"
    web.find_element(By.ID, "email").send_keys(EMAIL)
    web.find_element(By.CSS_SELECTOR, "button[value=email]").click()
    notice = _wait(web, lambda w: w.find_elements(By.ID, "notice"), 10)[0]
    assert "confirmation e-mail is on its way" in notice.text
    assert web.execute_script("return document.documentElement.scrollWidth - document.documentElement.clientWidth") <= 0
    _no_serious_violation(web)
    web.execute_script("arguments[0].scrollIntoView()", web.find_element(By.ID, "email-h"))
    _shoot(web, tmp_path, "residents-preferences-add-email")
    wait_for(lambda: len(sandbox_client.inbox(channel="email", to=EMAIL)) == 1)


def test_a_resident_deletes_their_registration_on_a_phone(
    app: Flask, runtime: Runtime, browser: Any, tmp_path: Path  # noqa: F811
) -> None:
    from selenium.webdriver.common.by import By

    from hub.models import Consent
    from hub.residents.links import PREFERENCES, ResidentLink, url_for

    seed(app)
    with runtime.session() as s:
        contact = Contact(kind="resident", name="", email=EMAIL, consents=[Consent(channel="email", source="web")])
        s.add(contact)
        s.flush()
        contact_id = contact.id
        link = url_for(runtime.settings, ResidentLink(PREFERENCES, contact_id))
    web = browser
    web.set_window_size(390, 844)
    web.get(link)
    web.execute_script("arguments[0].scrollIntoView()", web.find_element(By.ID, "erase-h"))
    _shoot(web, tmp_path, "residents-erase")
    web.find_element(By.ID, "erase").click()  # without the tick: the page says what is missing
    error = _wait(web, lambda w: w.find_elements(By.ID, "erase-error"), 10)[0]
    assert "チェックを入れてください" in error.text
    with runtime.session() as s:
        assert s.get(Contact, contact_id).email == EMAIL
    web.find_element(By.ID, "confirm-erase").click()
    web.find_element(By.ID, "erase").click()
    _wait(web, lambda w: w.find_element(By.TAG_NAME, "h1").text == "登録を削除しました", 10)
    assert web.execute_script("return document.documentElement.scrollWidth - document.documentElement.clientWidth") <= 0
    _no_serious_violation(web)
    _shoot(web, tmp_path, "residents-erased")
    with runtime.session() as s:
        erased = s.get(Contact, contact_id)
        assert erased is not None and erased.erased_at is not None and erased.email is None


def test_a_reader_of_yasashii_nihongo_registers_and_manages_in_it_on_a_phone(
    app: Flask, runtime: Runtime, sandbox_client: SandboxClient, browser: Any, tmp_path: Path  # noqa: F811
) -> None:
    from selenium.webdriver.common.by import By

    seed(app)
    base = runtime.settings.public_url.rstrip("/")
    web = browser
    web.set_script_timeout(60)
    web.set_window_size(390, 844)
    web.get(f"{base}/register")
    web.find_element(By.LINK_TEXT, "やさしい日本語").click()
    _wait(web, lambda w: w.find_element(By.TAG_NAME, "h1").text == "メールで おしらせを うけとる", 10)
    assert web.find_element(By.TAG_NAME, "html").get_attribute("lang") == "ja"
    assert web.execute_script("return document.documentElement.scrollWidth - document.documentElement.clientWidth") <= 0
    _no_serious_violation(web)
    _shoot(web, tmp_path, "residents-register-easy")
    web.find_element(By.ID, "email").send_keys(EMAIL)
    web.find_element(By.CSS_SELECTOR, "input[name=category][value=bousai]").click()
    web.find_element(By.CSS_SELECTOR, "form button[type=submit]").click()
    _wait(web, lambda w: "メールを おくりました" in w.find_element(By.TAG_NAME, "h1").text, 10)

    wait_for(lambda: len(sandbox_client.inbox(channel="email", to=EMAIL)) == 1)
    [mail] = sandbox_client.inbox(channel="email", to=EMAIL)
    found = re.search(r"https?://\S+/register/confirm/[\w.\-]+", mail["text"])
    assert found and mail["subject"] == "とうろくの かくにん"
    web.get(found.group(0))
    web.find_element(By.CSS_SELECTOR, "form button[type=submit]").click()
    _wait(web, lambda w: w.find_elements(By.ID, "preferences-link"), 10)[0].click()
    _wait(web, lambda w: "/r/p/" in w.current_url, 10)
    assert web.find_element(By.TAG_NAME, "h1").text == "おしらせの せってい"
    _no_serious_violation(web)
    _shoot(web, tmp_path, "residents-preferences-easy")
