"""Administration in a real Chromium: an admin adds an operator who then signs in with the one-time
password, an API token issued in the browser works against the API, non-admins are kept out, and
the audit page lists what was done. Screenshots as in tests/web/test_browser.py (``HUB_SCREENSHOTS``).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import requests
from flask import Flask
from sqlalchemy import select

from hub.models import Operator
from hub.runtime import Runtime
from hub.templating import JST
from tests.api.support import PASSWORDS, seed
from tests.web.test_browser import _shoot, browser, sign_in  # noqa: F401  (the Chromium fixture)

NEW_PASSWORD = "Kawa-no-hotori-2026"


def _login(web: object, base: str, username: str, password: str) -> None:
    web.implicitly_wait(5)  # type: ignore[attr-defined]  # after a click, wait for the next page's elements
    sign_in(web, base, username, password)


def _logout(web: object) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    web.find_element(By.CSS_SELECTOR, "header nav form button").click()  # type: ignore[attr-defined]
    WebDriverWait(web, 10).until(lambda w: "/login" in w.current_url)  # type: ignore[arg-type]


def test_an_admin_adds_a_sender_who_signs_in_with_the_one_time_password(
        app: Flask, runtime: Runtime, browser: object, tmp_path: Path) -> None:  # noqa: F811
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select, WebDriverWait

    seed(app)
    base = runtime.settings.public_url.rstrip("/")
    web = browser
    _login(web, base, "admin", PASSWORDS["admin"])
    web.find_element(By.ID, "nav-admin").click()  # type: ignore[attr-defined]
    web.find_element(By.ID, "link-operators").click()  # type: ignore[attr-defined]
    web.find_element(By.ID, "f-username").send_keys("yamada")  # type: ignore[attr-defined]
    web.find_element(By.ID, "f-display_name").send_keys("山田 花子")  # type: ignore[attr-defined]
    Select(web.find_element(By.ID, "f-department")).select_by_value("bousai")  # type: ignore[attr-defined]
    dept = Select(web.find_element(By.ID, "f-role_department"))  # type: ignore[attr-defined]
    dept.select_by_visible_text(next(o.text for o in dept.options if "防災危機管理課" in o.text))
    Select(web.find_element(By.ID, "f-role")).select_by_value("sender")  # type: ignore[attr-defined]
    _shoot(web, tmp_path, "admin-operator-form")
    web.find_element(By.CSS_SELECTOR, "#create-operator button[type=submit]").click()  # type: ignore[attr-defined]
    secret = WebDriverWait(web, 10).until(  # type: ignore[arg-type]
        lambda w: w.find_element(By.ID, "one-time-password")).text
    _shoot(web, tmp_path, "admin-one-time-password")
    assert len(secret) >= 12
    with runtime.session() as s:
        created = s.scalar(select(Operator).where(Operator.username == "yamada"))
        assert created is not None and created.must_change_password
        assert {m.department.code: m.role for m in created.memberships} == {"bousai": "sender"}
    # Shown once: the operator's page and the list never show it again.
    web.get(f"{base}/admin/operators/yamada")  # type: ignore[attr-defined]
    assert secret not in web.page_source  # type: ignore[attr-defined]
    _shoot(web, tmp_path, "admin-operator-detail")
    _logout(web)

    _login(web, base, "yamada", secret)
    assert web.current_url.endswith("/password"), "a one-time password opens only the password page"  # type: ignore[attr-defined]
    web.get(f"{base}/")  # type: ignore[attr-defined]
    assert web.current_url.endswith("/password")  # type: ignore[attr-defined]
    web.find_element(By.ID, "current_password").send_keys(secret)  # type: ignore[attr-defined]
    web.find_element(By.ID, "new_password").send_keys(NEW_PASSWORD)  # type: ignore[attr-defined]
    web.find_element(By.ID, "confirm_password").send_keys(NEW_PASSWORD)  # type: ignore[attr-defined]
    web.find_element(By.CSS_SELECTOR, "form button[type=submit]").click()  # type: ignore[attr-defined]
    WebDriverWait(web, 10).until(lambda w: "/password" not in w.current_url)  # type: ignore[arg-type]
    assert web.current_url == f"{base}/"  # type: ignore[attr-defined]
    assert "最近の配信" in web.page_source and "山田 花子" in web.page_source  # type: ignore[attr-defined]
    _shoot(web, tmp_path, "new-operator-dashboard")

    # A sender is no admin: no 管理 link, and the pages answer 403.
    assert not web.find_elements(By.ID, "nav-admin")  # type: ignore[attr-defined]
    for path in ("/admin", "/admin/operators", "/admin/audit", "/admin/settings"):
        web.get(f"{base}{path}")  # type: ignore[attr-defined]
        assert "この操作を行う権限がありません" in web.page_source, path  # type: ignore[attr-defined]
        assert requests.get(f"{base}{path}", cookies={c["name"]: c["value"] for c in web.get_cookies()},  # type: ignore[attr-defined]
                            allow_redirects=False, timeout=10).status_code == 403, path
    _shoot(web, tmp_path, "non-admin-403")
    _logout(web)

    _login(web, base, "admin", PASSWORDS["admin"])
    web.get(f"{base}/admin/audit")  # type: ignore[attr-defined]
    web.find_element(By.ID, "f-action").send_keys("operator.")  # type: ignore[attr-defined]
    web.find_element(By.ID, "verify").click()  # type: ignore[attr-defined]
    result = WebDriverWait(web, 10).until(  # type: ignore[arg-type]
        lambda w: w.find_element(By.ID, "verify-result")).text
    _shoot(web, tmp_path, "admin-audit")
    assert "監査ログは正常です" in result
    rows = web.find_elements(By.CSS_SELECTOR, "#audit tbody tr[data-action]")  # type: ignore[attr-defined]
    create_rows = [r.text for r in rows if r.get_attribute("data-action") == "operator.create"]
    assert any("admin" in text and "yamada" in text for text in create_rows)
    assert all(r.get_attribute("data-action").startswith("operator.") for r in rows)


def test_an_admin_issues_an_api_token_in_the_browser_and_it_works(
        app: Flask, runtime: Runtime, browser: object, tmp_path: Path) -> None:  # noqa: F811
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    seed(app)
    base = runtime.settings.public_url.rstrip("/")
    web = browser
    _login(web, base, "admin", PASSWORDS["admin"])
    web.find_element(By.LINK_TEXT, "APIトークン").click()  # type: ignore[attr-defined]
    web.find_element(By.ID, "f-name").send_keys("防災システム連携")  # type: ignore[attr-defined]
    days = web.find_element(By.ID, "f-expires_in_days")  # type: ignore[attr-defined]
    days.clear()
    days.send_keys("30")
    web.find_element(By.CSS_SELECTOR, "#issue-token button[type=submit]").click()  # type: ignore[attr-defined]
    token = WebDriverWait(web, 10).until(lambda w: w.find_element(By.ID, "new-token")).text  # type: ignore[arg-type]
    _shoot(web, tmp_path, "token-issued")
    assert token.startswith("hub_")

    answer = requests.get(f"{base}/api/v1/messages", headers={"Authorization": f"Bearer {token}"}, timeout=10)
    assert answer.status_code == 200 and "items" in answer.json()
    assert requests.get(f"{base}/api/v1/messages", headers={"Authorization": f"Bearer {token}x"},
                        timeout=10).status_code == 401

    # The same browser is still signed in; the list shows the token without its value, and revokes it.
    web.get(f"{base}/tokens")  # type: ignore[attr-defined]
    assert "/login" not in web.current_url and token not in web.page_source  # type: ignore[attr-defined]
    row = next(r for r in web.find_elements(By.CSS_SELECTOR, "#tokens tbody tr")  # type: ignore[attr-defined]
               if "防災システム連携" in r.text)
    expires = (datetime.now(JST) + timedelta(days=30)).strftime("%Y-%m-%d")
    assert expires in row.text and "—" not in row.text, "expires and last used (just now) are shown"
    row.find_element(By.CSS_SELECTOR, "button").click()
    WebDriverWait(web, 10).until(lambda w: "失効させました" in w.page_source)  # type: ignore[arg-type]
    _shoot(web, tmp_path, "token-revoked")

    web.find_element(By.ID, "nav-admin").click()  # type: ignore[attr-defined]
    web.find_element(By.ID, "link-settings").click()  # type: ignore[attr-defined]
    _shoot(web, tmp_path, "admin-settings")
    assert web.execute_script(  # type: ignore[attr-defined]
        "return document.documentElement.scrollWidth - document.documentElement.clientWidth") <= 0
    secret_row = web.find_element(By.CSS_SELECTOR, 'tr[data-name="secret_key"]')  # type: ignore[attr-defined]
    assert "********" in secret_row.text and runtime.settings.secret_key not in web.page_source  # type: ignore[attr-defined]
    assert requests.get(f"{base}/api/v1/messages", headers={"Authorization": f"Bearer {token}"},
                        timeout=10).status_code == 401


def test_a_department_with_a_bad_sender_number_is_refused_at_the_field(
        app: Flask, runtime: Runtime, browser: object, tmp_path: Path) -> None:  # noqa: F811
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select, WebDriverWait

    from hub.models import Department

    seed(app)
    base = runtime.settings.public_url.rstrip("/")
    web = browser
    _login(web, base, "admin", PASSWORDS["admin"])
    web.get(f"{base}/admin")  # type: ignore[attr-defined]
    web.find_element(By.ID, "link-departments").click()  # type: ignore[attr-defined]
    web.find_element(By.ID, "f-code").send_keys("kikaku")  # type: ignore[attr-defined]
    web.find_element(By.ID, "f-name").send_keys("企画課")  # type: ignore[attr-defined]
    web.find_element(By.ID, "f-sms_sender").send_keys("03-1234-567")  # type: ignore[attr-defined]
    Select(web.find_element(By.ID, "f-approval")).select_by_value("all_live")  # type: ignore[attr-defined]
    web.find_element(By.CSS_SELECTOR, "#directory-form button[type=submit]").click()  # type: ignore[attr-defined]
    error = web.find_element(By.ID, "err-sms_sender")  # type: ignore[attr-defined]
    web.execute_script("arguments[0].scrollIntoView()", error)  # type: ignore[attr-defined]
    _shoot(web, tmp_path, "admin-department-error")
    assert "050-1234-5678" in error.text, "the error shows how a number is written"
    with runtime.session() as s:
        assert s.scalar(select(Department).where(Department.code == "kikaku")) is None
    field = web.find_element(By.ID, "f-sms_sender")  # type: ignore[attr-defined]
    field.clear()
    field.send_keys("050-1234-5678")
    web.find_element(By.CSS_SELECTOR, "#directory-form button[type=submit]").click()  # type: ignore[attr-defined]
    row = web.find_element(By.CSS_SELECTOR, 'tr[data-code="kikaku"]')  # type: ignore[attr-defined]
    _shoot(web, tmp_path, "admin-departments")
    assert "050-1234-5678" in row.text and "すべての実配信は承認が必要" in row.text
    row.find_element(By.CSS_SELECTOR, "button").click()
    WebDriverWait(web, 10).until(lambda w: "「kikaku」を無効にしました" in w.page_source)  # type: ignore[arg-type]
    status = web.find_element(By.CSS_SELECTOR, 'tr[data-code="kikaku"] td[data-field="disabled"]')  # type: ignore[attr-defined]
    _shoot(web, tmp_path, "admin-department-disabled")
    assert status.text.startswith("無効") and "有効にする" in status.text
    with runtime.session() as s:
        kikaku = s.scalar(select(Department).where(Department.code == "kikaku"))
        assert kikaku is not None and kikaku.disabled_at is not None
        assert kikaku.sms_sender == "+815012345678", "kept in E.164, what the providers take"


def test_an_admin_names_a_category_in_a_residents_language(
        app: Flask, runtime: Runtime, browser: object, tmp_path: Path) -> None:  # noqa: F811
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    from hub.models import Category

    seed(app)
    base = runtime.settings.public_url.rstrip("/")
    web = browser
    _login(web, base, "admin", PASSWORDS["admin"])
    web.get(f"{base}/admin/d/categories")  # type: ignore[attr-defined]
    web.find_element(By.LINK_TEXT, "zei").click()  # type: ignore[attr-defined]
    korean = web.find_element(By.ID, "f-names-ko")  # type: ignore[attr-defined]
    assert web.find_element(By.ID, "f-names-vi").get_attribute("value") == "Thuế"  # type: ignore[attr-defined]
    korean.send_keys("세금")
    easy = web.find_element(By.ID, "f-names-ja-easy")  # type: ignore[attr-defined]
    easy.clear()
    easy.send_keys("税金")  # 税 is taught in grade 5: the check says so, the name is kept
    web.execute_script("arguments[0].scrollIntoView({block: 'center'})", korean)  # type: ignore[attr-defined]
    _shoot(web, tmp_path, "admin-category-names")
    web.find_element(By.CSS_SELECTOR, "#directory-form button[type=submit]").click()  # type: ignore[attr-defined]
    WebDriverWait(web, 10).until(lambda w: "「zei」を変更しました" in w.page_source)  # type: ignore[arg-type]
    names = web.find_element(By.CSS_SELECTOR, 'tr[data-code="zei"] td[data-field="names"]')  # type: ignore[attr-defined]
    assert "세금" in names.text and "Thuế" in names.text
    note = web.find_element(By.CSS_SELECTOR, "p.flash.warn")  # type: ignore[attr-defined]
    assert note.is_displayed() and note.text.startswith("やさしい日本語の名前「税金」: 「税」には 小学校3年までに")
    _shoot(web, tmp_path, "admin-categories")
    with runtime.session() as s:
        zei = s.scalar(select(Category).where(Category.code == "zei"))
        assert zei is not None and zei.names["ko"] == "세금" and zei.names["ja-easy"] == "税金"
