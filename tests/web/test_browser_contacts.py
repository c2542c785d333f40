"""Contacts as a sender sees them, in a real Chromium: import a CSV, read its bad rows, find a contact.

Screenshots go to the test's tmp dir (and to ``$HUB_SCREENSHOTS`` when set) to be looked at.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Flask

from hub.models import Contact
from hub.runtime import Runtime
from tests.api.support import seed
from tests.web.test_browser import _shoot, browser, sign_in  # noqa: F401  (the fixture)

CSV = ("external_id,kind,name,department,phone,email\n"
       "B-001,staff,取込 一郎,bousai,090-7777-0001,ichiro@city.example.jp\n"
       "B-002,staff,取込 二郎,bousai,12,\n"
       "B-003,staff,取込 三郎,bousai,090-7777-0003,\n"
       "B-004,staff,取込 四郎,no-such-department,090-7777-0004,\n")


def test_a_sender_imports_a_csv_sees_the_bad_lines_and_finds_a_contact_by_number(
    app: Flask, runtime: Runtime, browser: Any, tmp_path: Path  # noqa: F811
) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    seed(app)
    base = runtime.settings.public_url.rstrip("/")
    web = browser
    sign_in(web, base, "bousai1")

    web.find_element(By.ID, "nav-contacts").click()
    WebDriverWait(web, 10).until(lambda w: w.find_elements(By.ID, "import-contacts"))
    web.find_element(By.ID, "import-contacts").click()
    upload = tmp_path / "staff.csv"
    upload.write_text(CSV, encoding="utf-8")
    WebDriverWait(web, 10).until(lambda w: w.find_elements(By.ID, "file"))
    web.find_element(By.ID, "file").send_keys(str(upload))
    web.find_element(By.ID, "import").click()
    WebDriverWait(web, 10).until(lambda w: w.find_elements(By.ID, "import-report"))
    _shoot(web, tmp_path, "contacts-import-report")
    assert web.find_element(By.ID, "created").text == "2"
    assert web.find_element(By.ID, "error-count").text == "2"
    errors = {int(r.get_attribute("data-line")): r.text for r in web.find_elements(By.CSS_SELECTOR, ".import-error")}
    assert sorted(errors) == [3, 5]
    assert all(text.split(maxsplit=1)[1:] for text in errors.values()), f"a reason on every line: {errors}"
    assert "no-such-department" in errors[5] or "部署" in errors[5]

    web.get(f"{base}/contacts")
    web.find_element(By.ID, "q").send_keys("090-7777-0003")
    web.find_element(By.ID, "search").click()
    WebDriverWait(web, 10).until(lambda w: "q=" in w.current_url)
    rows = web.find_elements(By.CSS_SELECTOR, "#contacts .contact-row")
    assert [r.find_element(By.TAG_NAME, "a").text for r in rows] == ["取込 三郎"]
    _shoot(web, tmp_path, "contacts-search")
    rows[0].find_element(By.TAG_NAME, "a").click()
    WebDriverWait(web, 10).until(lambda w: w.find_elements(By.ID, "contact-name"))
    assert web.find_element(By.ID, "contact-name").text == "取込 三郎"
    assert web.find_element(By.ID, "contact-phone").text == "090-7777-0003"  # a sender of 防災 sees it whole
    _shoot(web, tmp_path, "contacts-page")


def test_a_sender_erases_a_staff_contact_on_their_request(
    app: Flask, runtime: Runtime, browser: Any, tmp_path: Path  # noqa: F811
) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait
    from sqlalchemy import select

    from hub.models import AuditLog, Contact, Department

    seed(app)
    with runtime.session() as s:
        bousai = s.scalar(select(Department.id).where(Department.code == "bousai"))
        leaver = Contact(kind="staff", name="退職 花子", external_id="B-900", department_id=bousai,
                         phone="+819077770900")
        s.add(leaver)
        s.flush()
        contact_id = leaver.id
    base = runtime.settings.public_url.rstrip("/")
    web = browser
    sign_in(web, base, "bousai1")
    web.get(f"{base}/contacts/{contact_id}")
    WebDriverWait(web, 10).until(lambda w: w.find_elements(By.ID, "erase-form"))
    web.find_element(By.ID, "erase-reason").send_keys("削除請求 第3号")
    web.find_element(By.ID, "erase").click()  # the tick is missing: nothing is erased
    WebDriverWait(web, 10).until(lambda w: w.find_elements(By.ID, "erase-error"))
    assert web.find_element(By.ID, "erase-reason").get_attribute("value") == "削除請求 第3号", "kept for the retry"
    web.execute_script("arguments[0].scrollIntoView()", web.find_element(By.ID, "erase-h"))
    _shoot(web, tmp_path, "contacts-erase")
    web.find_element(By.ID, "confirm-erase").click()
    web.find_element(By.ID, "erase").click()
    WebDriverWait(web, 10).until(lambda w: w.find_elements(By.ID, "erased-note"))
    assert web.find_element(By.ID, "contact-name").text == "消去済みの連絡先"
    assert web.find_element(By.ID, "contact-phone").text == "—" and not web.find_elements(By.ID, "erase-form")
    assert "連絡先を消去しました" in web.find_element(By.CSS_SELECTOR, ".flash.ok").text
    _shoot(web, tmp_path, "contacts-erased")
    with runtime.session() as s:
        [entry] = s.scalars(select(AuditLog).where(AuditLog.action == "contact.erased"))
        assert (entry.actor, entry.detail["source"]) == ("bousai1", "operator:削除請求 第3号")


def test_a_contact_whose_mail_came_back_unknown_says_so_on_their_page(
    app: Flask, runtime: Runtime, browser: Any, tmp_path: Path  # noqa: F811
) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    from tests.residents.support import bounced_staff

    seed(app)
    staff_id = bounced_staff(runtime, "防災 花子", "hanako@city.example.jp")
    base = runtime.settings.public_url.rstrip("/")
    web = browser
    sign_in(web, base, "bousai1")
    web.get(f"{base}/contacts/{staff_id}")
    WebDriverWait(web, 10).until(lambda w: w.find_elements(By.ID, "bounce-note"))
    note = web.find_element(By.ID, "bounce-note")
    assert note.is_displayed() and "宛先不明" in note.text and "User unknown" in note.text
    # Right under the name, before the facts: the first thing read about this person.
    assert note.location["y"] < web.find_element(By.ID, "contact-email").location["y"]
    _shoot(web, tmp_path, "contact-bounced")

    # The clerk's follow-up list: the contacts whose mail came back, each marked in the list.
    from selenium.webdriver.support.ui import Select

    web.get(f"{base}/contacts")
    Select(web.find_element(By.ID, "mail")).select_by_value("bounced")
    web.find_element(By.ID, "search").click()
    WebDriverWait(web, 10).until(lambda w: "mail=bounced" in w.current_url)
    listed = web.find_elements(By.CSS_SELECTOR, "tr.contact-row")
    assert [r.get_attribute("data-id") for r in listed] == [str(staff_id)]
    badge = listed[0].find_element(By.CSS_SELECTOR, ".bounced")
    assert badge.text == "不達" and badge.is_displayed()
    _shoot(web, tmp_path, "contacts-bounced")

    # The clerk called the person, who says the mailbox works again: one press, and the note goes.
    listed[0].find_element(By.CSS_SELECTOR, "a").click()
    WebDriverWait(web, 10).until(lambda w: w.find_elements(By.ID, "clear-bounce"))
    web.find_element(By.ID, "clear-bounce").click()
    WebDriverWait(web, 10).until(lambda w: w.find_elements(By.CSS_SELECTOR, ".flash.ok"))
    assert "メールの送信を再開します" in web.find_element(By.CSS_SELECTOR, ".flash.ok").text
    assert web.find_elements(By.ID, "bounce-note") == []
    _shoot(web, tmp_path, "contact-bounce-cleared")
    with runtime.session() as s:
        assert s.get(Contact, staff_id).email_bounced_at is None  # type: ignore[union-attr]
