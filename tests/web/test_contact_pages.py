"""The contacts console pages without a browser: scoping by the policy, masking, import, export."""

from __future__ import annotations

import csv
import io

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from hub.contacts.masking import as_people_write_it
from hub.demo.seed import _demo_hash
from hub.models import AuditLog, Contact, Operator
from hub.runtime import Runtime
from tests.api.policy_support import seed_operators
from tests.api.support import login
from tests.relay.support import phone, seed_staff

shown = as_people_write_it  # how the pages write a number: 090-1000-0000


def _with_password(runtime: Runtime, username: str, password: str) -> None:
    with runtime.session() as s:
        operator = s.scalar(select(Operator).where(Operator.username == username))
        assert operator is not None
        operator.password_hash = _demo_hash(password)


def _csrf(client: FlaskClient) -> str:
    with client.session_transaction() as sess:
        return str(sess["csrf"])


def test_a_kenko_sender_sees_kenko_staff_but_not_bousai_staff(app: Flask, client: FlaskClient,
                                                               runtime: Runtime) -> None:
    seed_operators(app)
    _with_password(runtime, "kenko1", "kenko1-password")
    people = seed_staff(runtime, 4)  # 0 bousai, 1 soumu, 2 doboku, 3 kenko
    login(client, "kenko1", "kenko1-password")
    page = client.get("/contacts").get_data(as_text=True)
    assert f'data-id="{people[3].contact_id}"' in page
    assert f'data-id="{people[0].contact_id}"' not in page
    assert "職員0000" not in page and "職員0003" in page
    assert client.get(f"/contacts/{people[0].contact_id}").status_code == 404
    assert client.get(f"/contacts/{people[3].contact_id}").status_code == 200
    # A search for the bousai number finds nothing; the kenko number (typed nationally) is found, unmasked.
    assert 'id="no-contacts"' in client.get(f"/contacts?q=0{phone(0)[3:]}").get_data(as_text=True)
    found = client.get(f"/contacts?q=0{phone(3)[3:]}").get_data(as_text=True)
    assert f'data-id="{people[3].contact_id}"' in found and shown(phone(3)) in found
    exported = client.get("/contacts/export.csv").get_data(as_text=True)
    assert "職員0003" in exported and "職員0000" not in exported
    # Residents (no department) are for the resident register's keepers and admins only.
    with runtime.session() as s:
        resident = s.scalar(select(Contact).where(Contact.department_id.is_(None)))
        assert resident is not None
        resident_id = resident.id
    assert client.get(f"/contacts/{resident_id}").status_code == 404
    login(client, "admin")
    assert client.get(f"/contacts/{resident_id}").status_code == 200


def test_a_viewer_sees_masked_numbers_and_may_not_import(client: FlaskClient, runtime: Runtime) -> None:
    people = seed_staff(runtime, 1)  # bousai, where the viewer reads
    login(client, "viewer")
    page = client.get("/contacts?kind=staff").get_data(as_text=True)
    assert f'data-id="{people[0].contact_id}"' in page
    assert shown(phone(0)) not in page and f"090-****-{phone(0)[-4:]}" in page
    assert "staff00000@city.example.jp" not in page and "s***@city.example.jp" in page
    detail = client.get(f"/contacts/{people[0].contact_id}").get_data(as_text=True)
    assert shown(phone(0)) not in detail and 'id="masked-note"' in detail
    exported = client.get("/contacts/export.csv?kind=staff").get_data(as_text=True)
    assert phone(0) not in exported and f"+81 90-****-{phone(0)[-4:]}" in exported
    assert client.get("/contacts/import").status_code == 403
    english = client.get("/contacts?lang=en").get_data(as_text=True)
    assert ">Contacts</a>" in english and "Search (name, phone, e-mail, LINE ID)" in english
    login(client, "bousai1")
    assert shown(phone(0)) in client.get("/contacts?kind=staff").get_data(as_text=True)


def test_import_reports_bad_rows_and_export_is_formula_safe_and_audited(client: FlaskClient,
                                                                         runtime: Runtime) -> None:
    login(client, "admin")
    data = ("external_id,name,kind,phone,email\n"
            "W1,=HYPERLINK(\"x\"),resident,090-5555-0001,\n"
            "W2,悪い番号,resident,12,\n").encode()
    forged = client.post("/contacts/import", data={"csrf_token": "forged", "file": (io.BytesIO(data), "a.csv")})
    assert forged.status_code == 400
    page = client.post("/contacts/import", data={"csrf_token": _csrf(client), "file": (io.BytesIO(data), "a.csv")},
                       content_type="multipart/form-data").get_data(as_text=True)
    assert '<strong id="created">1</strong>' in page and 'data-line="3"' in page
    rows = list(csv.reader(io.StringIO(client.get("/contacts/export.csv?q=5555").get_data(as_text=True))))
    assert rows[1][2] == "'=HYPERLINK(\"x\")" and len(rows) == 2
    with runtime.session() as s:
        entry = s.scalar(select(AuditLog).where(AuditLog.action == "export.contacts"))
        assert entry is not None


def test_an_exported_file_imports_again_unchanged(client: FlaskClient, runtime: Runtime) -> None:
    """The export guards phone numbers (``'+81 90-…``) and names like ``=…`` against Excel formulas;
    reading the file back must give the same contacts, not "bad phone number" on every row."""
    login(client, "admin")
    people = seed_staff(runtime, 3)
    with runtime.session() as s:
        s.add(Contact(kind="resident", name="=HYPERLINK(\"x\")", phone="+819055550002", external_id="W9"))
    before = client.get("/contacts/export.csv").get_data()
    assert b"'+81" in before and b"'=HYPERLINK" in before

    page = client.post("/contacts/import", data={"csrf_token": _csrf(client), "file": (io.BytesIO(before), "b.csv")},
                       content_type="multipart/form-data").get_data(as_text=True)

    assert '<strong id="created">0</strong>' in page and "data-line=" not in page, page
    with runtime.session() as s:
        assert s.scalar(select(Contact).where(Contact.external_id == "W9")).name == "=HYPERLINK(\"x\")"
        assert {c.phone for c in s.scalars(select(Contact))} >= {p.phone for p in people}
    assert client.get("/contacts/export.csv").get_data() == before


def test_a_contacts_page_shows_consents_deliveries_with_links_and_masks_for_a_viewer(
    client: FlaskClient, runtime: Runtime
) -> None:
    from datetime import UTC, datetime

    from hub.models import Delivery
    from hub.models.contacts import Consent
    from tests.api.support import body, create

    people = seed_staff(runtime, 1)
    message_id = body(create(client, "admin"))["message_id"]
    with runtime.session() as s:
        s.add(Consent(contact_id=people[0].contact_id, channel="sms", source="csv:consent-2026.csv",
                      revoked_at=datetime(2026, 5, 1, tzinfo=UTC), revoked_source="sms:停止"))
        s.add(Delivery(message_id=message_id, channel="sms", contact_id=people[0].contact_id, address=phone(0)))
    login(client, "bousai1")
    page = client.get(f"/contacts/{people[0].contact_id}").get_data(as_text=True)
    assert "csv:consent-2026.csv" in page and "2026-05-01" in page and "sms:停止" in page  # where the stop came from
    assert f'href="/messages/{message_id}"' in page and shown(phone(0)) in page
    login(client, "viewer")
    page = client.get(f"/contacts/{people[0].contact_id}").get_data(as_text=True)
    assert f'href="/messages/{message_id}"' in page and shown(phone(0)) not in page
