"""受信者の検索 on a message: by name or number, failures and skips with reasons, addresses masked by policy."""

from __future__ import annotations

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from hub.contacts.masking import as_people_write_it, mask_address
from hub.models import Contact, Delivery, DeliveryState
from tests.api.policy_support import create_approved
from tests.api.support import login


def _sent(app: Flask, client: FlaskClient) -> tuple[int, list[tuple[str, str, str, str | None]]]:
    created = create_approved(client, "bousai1", title="避難指示", body="高台へ避難してください。",
                              channels=["sms"], audience="residents", mode="actual", category=None)
    message_id = int(created["message_id"])
    with app.extensions["hub"].session() as s:
        rows = [(name, d.address, d.state, d.reason) for d, name in s.execute(
            select(Delivery, Contact.name).join(Contact, Contact.id == Delivery.contact_id)
            .where(Delivery.message_id == message_id).order_by(Delivery.id))]
    assert rows
    return message_id, rows


def test_search_by_name_and_by_the_number_as_people_write_it(app: Flask, client: FlaskClient) -> None:
    message_id, rows = _sent(app, client)
    name, address = next((n, a) for n, a, _s, _r in rows if n and a.startswith("+81"))
    login(client, "bousai1")
    assert 'id="recipients-link"' in client.get(f"/messages/{message_id}").get_data(as_text=True)
    found = client.get(f"/messages/{message_id}/recipients", query_string={"q": name}).get_data(as_text=True)
    assert name in found and as_people_write_it(address) in found
    national = "0" + address.removeprefix("+81")
    national = f"{national[:3]}-{national[3:7]}-{national[7:]}"
    by_number = client.get(f"/messages/{message_id}/recipients", query_string={"q": national}).get_data(as_text=True)
    assert name in by_number and as_people_write_it(address) in by_number
    assert national == as_people_write_it(address), "the page writes it as it was searched for"
    others = [n for n, a, _s, _r in rows if n and n != name and a != address]
    assert all(n not in by_number for n in others), "only the matching recipient"


def test_problems_only_lists_failures_and_skips_with_their_reasons(app: Flask, client: FlaskClient) -> None:
    message_id, rows = _sent(app, client)
    login(client, "bousai1")
    page = client.get(f"/messages/{message_id}/recipients", query_string={"problems": "1"}).get_data(as_text=True)
    bad = [(n, r) for n, _a, st, r in rows if st in (DeliveryState.FAILED, DeliveryState.SKIPPED, DeliveryState.UNKNOWN)]
    good = [n for n, _a, st, _r in rows if st in (DeliveryState.SENT, DeliveryState.DELIVERED)]
    assert bad, "the seed has residents who are skipped (no consent, no number)"
    assert page.count('<tr data-state="') == len(bad)
    for name, reason in bad:
        assert name in page and (reason or "") in page
    assert all(n not in page for n in good if all(n != b for b, _r in bad))


def test_a_viewer_sees_masked_addresses_and_cannot_search_by_number(app: Flask, client: FlaskClient) -> None:
    message_id, rows = _sent(app, client)
    name, address = next((n, a) for n, a, _s, _r in rows if n and a.startswith("+81"))
    login(client, "viewer")
    page = client.get(f"/messages/{message_id}/recipients", query_string={"q": name}).get_data(as_text=True)
    assert name in page and as_people_write_it(address) not in page
    assert as_people_write_it(mask_address(address)) in page
    by_number = client.get(f"/messages/{message_id}/recipients", query_string={"q": address}).get_data(as_text=True)
    assert by_number.count('<tr data-state="') == 0, "a number search would reveal what the mask hides"
