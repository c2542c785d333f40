"""The stop page in a real Chromium: no serious accessibility violation, and its button stops."""

from __future__ import annotations

from typing import Any

from flask import Flask
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait
from sqlalchemy import select

from hub.models import Consent, Contact
from hub.residents.links import UNSUBSCRIBE, ResidentLink, url_for
from hub.runtime import Runtime
from tests.web.test_accessibility import _axe_source, _violations, _violations_at
from tests.web.test_browser import browser  # noqa: F401  (the Chromium fixture)


def test_the_stop_page_is_accessible_and_its_button_stops(
        app: Flask, runtime: Runtime, browser: Any) -> None:  # noqa: F811
    source = _axe_source()
    with runtime.session() as session:
        contact = Contact(kind="resident", name="住民", email="taro@example.jp")
        contact.consents.append(Consent(channel="email", source="web:register"))
        session.add(contact)
        session.flush()
        link = url_for(runtime.settings, ResidentLink(UNSUBSCRIBE, contact.id, "email"))
    assert _violations_at(browser, link, source) == []
    browser.find_element(By.CSS_SELECTOR, "form button[type=submit]").click()
    # The click starts a navigation; wait for the page it leads to, not the one still shown.
    WebDriverWait(browser, 10).until(lambda b: "停止しました" in b.page_source)
    assert _violations(browser, source) == []  # the page the button led to, as shown
    with runtime.session() as session:
        assert session.scalars(select(Consent.revoked_source)).one() == "email:page"
    assert _violations_at(browser, "/".join(link.split("/")[:-1]) + "/broken", source) == []
