"""Contact import (a CSV as multipart ``file`` or as a raw ``text/csv`` body; every bad row is
reported) and erasure on a deletion request."""

from __future__ import annotations

from flask import jsonify, request
from flask.typing import ResponseReturnValue

from hub.api import api_bp
from hub.api.auth import current_principal
from hub.api.common import ApiError, json_body, runtime
from hub.contacts.erasure import REASON_MAX, erase_contact
from hub.contacts.importer import MAX_LIST_NAME, import_contacts, resident_registry
from hub.i18n import gettext as _
from hub.models import Contact
from hub.policy import Action, may_manage_contact

RAW_CSV_TYPES = frozenset({"text/csv", "text/plain", "application/csv", "application/octet-stream"})


def _upload() -> tuple[bytes, str]:
    upload = request.files.get("file")
    if upload is not None:
        return upload.read(), f"api:{upload.filename or 'upload.csv'}"
    if request.mimetype in RAW_CSV_TYPES:
        return request.get_data(), "api:body"
    raise ApiError(415, "unsupported_media_type",
                   _("CSVを multipart の file 欄か、Content-Type: text/csv の本文で送ってください"))


@api_bp.post("/contacts/import")
def import_contacts_endpoint() -> ResponseReturnValue:
    principal = current_principal()
    # Row by row the importer checks whose contact each one is; here only that the caller manages some.
    if principal.departments(Action.MANAGE_CONTACTS) == frozenset():
        raise ApiError(403, "forbidden", _("連絡先を取り込む権限がありません"))
    data, source = _upload()
    if not data.strip():
        raise ApiError(400, "empty_file", _("CSVが空です"))
    list_name = request.args.get("list") or None
    if list_name is not None and len(list_name) > MAX_LIST_NAME:  # the column's length (a 500 on PostgreSQL)
        raise ApiError(400, "invalid_parameter",
                       _("list は {max} 文字以内で指定してください").format(max=MAX_LIST_NAME))
    with runtime().session() as s:
        try:
            report = import_contacts(s, data, source=source, actor=principal.username, list_name=list_name,
                                     principal=principal, registry=resident_registry(s, runtime().settings),
                                     secret_key=runtime().settings.secret_keys)
        except ValueError as exc:  # undecidable encoding: nothing was imported
            raise ApiError(422, "unreadable_csv", _(str(exc))) from exc
        body = {**report.as_dict(), "list_id": report.list_id}
    return jsonify(body)


@api_bp.post("/contacts/<int:contact_id>/erase")
def erase_contact_endpoint(contact_id: int) -> ResponseReturnValue:
    """The same rule as the console and ``hub contacts erase``: whoever may edit the contact."""
    principal = current_principal()
    body = json_body()
    reason = body.get("reason")
    if not isinstance(reason, str) or not " ".join(reason.split()) or len(reason) > REASON_MAX:
        raise ApiError(400, "invalid_reason", _("reason は1〜{n}文字で指定してください").format(n=REASON_MAX))
    if body.get("confirm") is not True:
        raise ApiError(400, "not_confirmed", _("消去は元に戻せません。confirm: true を指定してください"))
    rt = runtime()
    with rt.session() as s:
        contact = s.get(Contact, contact_id)  # the route's int converter bounds the id
        registry = resident_registry(s, rt.settings)
        if contact is None or not may_manage_contact(principal, contact.department_id, registry):
            # One answer for "no such contact" and "not yours": ids are not probed this way.
            raise ApiError(404, "not_found", _("連絡先が見つかりません"))
        done = erase_contact(s, contact, rt.settings.secret_keys, f"operator:{' '.join(reason.split())}",
                             principal.username)
    return jsonify(done.as_dict())
