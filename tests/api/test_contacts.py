from __future__ import annotations

import io

from flask.testing import FlaskClient

from tests.api.support import bearer, body

IMPORT = "/api/v1/contacts/import"

CSV = (
    "external_id,name,phone,email,consent,areas\n"
    "X1,山田 一郎,090-1234-5678,,sms,0321500\n"
    "X2,佐藤 花子,,,,\n"
    "X3,鈴木 次郎,,suzuki@example.jp,email,9999999\n"
    "X4,田中 三郎,,tanaka@example.jp,email,\n"
)


def test_import_reports_line_numbers_and_needs_a_csv_from_a_sender(client: FlaskClient) -> None:
    r = client.post(IMPORT, data=CSV.encode(), headers=bearer(**{"Content-Type": "text/csv"}))
    assert r.status_code == 200, r.json
    report = body(r)
    assert report["created"] == 2 and report["updated"] == 0
    assert [e["line"] for e in report["errors"]] == [3, 4]
    assert "9999999" in report["errors"][1]["reason"]

    again = client.post(f"{IMPORT}?list=drill", headers=bearer(),
                        data={"file": (io.BytesIO(CSV.encode("cp932")), "contacts.csv")})
    assert again.status_code == 200
    assert body(again)["created"] == 0 and body(again)["updated"] == 2 and body(again)["list_id"]

    assert client.post(IMPORT, json={"a": 1}, headers=bearer()).status_code == 415
    empty = client.post(IMPORT, data=b"", headers=bearer(**{"Content-Type": "text/csv"}))
    assert empty.status_code == 400
    viewer = client.post(IMPORT, data=CSV.encode(),
                         headers=bearer("viewer", **{"Content-Type": "text/csv"}))
    assert viewer.status_code == 403
