"""Console pages for contacts: a searchable, filtered list scoped by the policy, a contact's page,
the CSV import (the same importer as ``POST /api/v1/contacts/import``) and a formula-safe CSV export.

Scope: staff of the departments the operator may READ; residents (no department) for those who keep
the resident register (``may_manage_contact`` with the registry) and admins. Addresses are masked
unless ``may_see_addresses`` (for a resident: in one of the registry departments).
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any

from flask import Response, abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import Session

from hub.api.common import as_id, runtime
from hub.contacts.erasure import REASON_MAX as ERASE_REASON_MAX
from hub.contacts.erasure import erase_contact
from hub.contacts.importer import ImportReport, import_contacts, resident_registry
from hub.contacts.masking import mask_address
from hub.csvsafe import SafeWriter
from hub.i18n import gettext as _
from hub.models import Contact, ContactKind, Delivery, Department, Message
from hub.models.audit import audit
from hub.models.base import MAX_INT_ID
from hub.models.contacts import Consent, contact_areas, contact_categories
from hub.models.org import Area, Category
from hub.models.relay import Callout, CalloutTarget, SurveyAnswer
from hub.policy import Action, Principal, may_manage_contact, may_see_addresses
from hub.residents.choices import choice_history
from hub.web.pages import _operator, login_required, web_bp

PAGE_SIZE = 50
EXPORT_LIMIT = 100_000


@dataclass(frozen=True)
class Scope:
    staff_departments: frozenset[int] | None  # None: every department
    residents: bool
    registry: frozenset[int]

    def sees(self, contact: Contact) -> bool:
        if contact.department_id is None:
            return self.residents
        return self.staff_departments is None or contact.department_id in self.staff_departments


def _scope(s: Session, principal: Principal) -> Scope:
    registry = resident_registry(s, runtime().settings)
    return Scope(principal.departments(Action.READ), may_manage_contact(principal, None, registry), registry)


def _shows_addresses(principal: Principal, contact: Contact, scope: Scope) -> bool:
    if contact.department_id is not None:
        return may_see_addresses(principal, contact.department_id)
    return principal.is_admin or any(may_see_addresses(principal, d) for d in scope.registry)


def _filters() -> dict[str, str]:
    args = request.args
    return {k: (args.get(k) or "").strip() for k in ("q", "kind", "department", "area", "category", "mail")}


def _query(scope: Scope, f: dict[str, str]) -> Select[Contact]:
    query = select(Contact)
    visible = []
    if scope.staff_departments is None:
        visible.append(Contact.department_id.is_not(None))
    elif scope.staff_departments:
        visible.append(Contact.department_id.in_(scope.staff_departments))
    if scope.residents:
        visible.append(Contact.department_id.is_(None))
    if not visible:
        return query.where(Contact.id.is_(None))
    # An erased person has nothing to list or find; their page stays reachable from their history.
    query = query.where(or_(*visible), Contact.erased_at.is_(None))
    if f["q"]:
        like = f"%{f['q'].replace('%', '').replace('_', '')}%"
        digits = "".join(ch for ch in f["q"] if ch.isdigit())
        terms = [Contact.name.ilike(like), Contact.email.ilike(like), Contact.line_user_id.ilike(like),
                 Contact.external_id.ilike(like)]
        if digits:  # 090-1234-5678 finds +819012345678
            terms.append(Contact.phone.like(f"%{digits.lstrip('0') or digits}%"))
        query = query.where(or_(*terms))
    if f["kind"] in (ContactKind.RESIDENT, ContactKind.STAFF):
        query = query.where(Contact.kind == f["kind"])
    if f["department"]:
        query = query.where(Contact.department_id.in_(select(Department.id).where(Department.code == f["department"])))
    if f["area"]:
        query = query.where(Contact.id.in_(select(contact_areas.c.contact_id).join(Area).where(Area.code == f["area"])))
    if f["category"]:
        query = query.where(Contact.id.in_(
            select(contact_categories.c.contact_id).join(Category).where(Category.code == f["category"])))
    if f["mail"] == "bounced":  # the addresses to ask their owners about (hub/bounces)
        query = query.where(Contact.email_bounced_at.is_not(None))
    return query


def _row(contact: Contact, shown: bool) -> dict[str, Any]:
    def addr(value: str | None) -> str | None:
        return value if shown else mask_address(value)
    return {"id": contact.id, "external_id": contact.external_id, "name": contact.name, "kind": contact.kind,
            "department": contact.department.name if contact.department else "",
            "phone": addr(contact.phone), "email": addr(contact.email), "line_user_id": addr(contact.line_user_id),
            "areas": [a.name for a in contact.areas], "categories": [c.name for c in contact.categories],
            "active": contact.active, "masked": not shown, "email_bounced": contact.email_bounced_at is not None}


@web_bp.get("/contacts")
@login_required
def contact_list() -> ResponseReturnValue:
    principal = _operator()
    f = _filters()
    page = min(as_id(request.args.get("page")) or 1, MAX_INT_ID // PAGE_SIZE)  # OFFSET stays a number
    with runtime().session() as s:
        scope = _scope(s, principal)
        query = _query(scope, f)
        total = s.scalar(select(func.count()).select_from(query.subquery())) or 0
        contacts = s.scalars(query.order_by(Contact.name, Contact.id).offset((page - 1) * PAGE_SIZE).limit(PAGE_SIZE))
        rows = [_row(c, _shows_addresses(principal, c, scope)) for c in contacts]
        departments = [(d.code, d.name) for d in s.scalars(select(Department).order_by(Department.code))
                       if scope.staff_departments is None or d.id in scope.staff_departments]
        areas = [(a.code, a.name) for a in s.scalars(select(Area).order_by(Area.code))]
        categories = [(c.code, c.name) for c in s.scalars(select(Category).order_by(Category.code))]
    may_import = principal.departments(Action.MANAGE_CONTACTS) != frozenset()
    return render_template("contacts/list.html", rows=rows, f=f, page=page, total=total, page_size=PAGE_SIZE,
                           departments=departments, areas=areas, categories=categories, may_import=may_import)


@web_bp.get("/contacts/<int:contact_id>")
@login_required
def contact_page(contact_id: int) -> ResponseReturnValue:
    principal = _operator()
    with runtime().session() as s:
        contact = s.get(Contact, contact_id)
        scope = _scope(s, principal)
        if contact is None or not scope.sees(contact):
            abort(404)
        return _contact_page(s, principal, contact, scope)


def _contact_page(s: Session, principal: Principal, contact: Contact, scope: Scope,
                  **extra: Any) -> str:
    shown = _shows_addresses(principal, contact, scope)
    row = _row(contact, shown)
    consents = [{"channel": c.channel, "given_at": c.given_at, "revoked_at": c.revoked_at, "source": c.source,
                 "revoked_source": c.revoked_source}
                for c in s.scalars(select(Consent).where(Consent.contact_id == contact.id)
                                   .order_by(Consent.given_at.desc()))]
    choices = choice_history(s, contact.id)
    deliveries = [{"message_id": m.id, "title": m.title, "mode": m.mode, "channel": d.channel,
                   "address": d.address if shown else mask_address(d.address), "state": d.state,
                   "sent_at": d.sent_at, "delivered_at": d.delivered_at}
                  for d, m in s.execute(select(Delivery, Message).join(Message, Message.id == Delivery.message_id)
                                        .where(Delivery.contact_id == contact.id)
                                        .order_by(Delivery.id.desc()).limit(200))]
    answers = [{"callout_id": c.id, "title": c.title, "mode": c.mode, "state": t.state,
                "answered_at": t.answered_at, "via": t.answered_via,
                "values": [(a.question_key, a.value) for a in s.scalars(
                    select(SurveyAnswer).where(SurveyAnswer.target_id == t.id).order_by(SurveyAnswer.id))]}
               for t, c in s.execute(select(CalloutTarget, Callout)
                                     .join(Callout, Callout.id == CalloutTarget.callout_id)
                                     .where(CalloutTarget.contact_id == contact.id)
                                     .order_by(CalloutTarget.id.desc()).limit(100))]
    may_erase = contact.erased_at is None and may_manage_contact(principal, contact.department_id, scope.registry)
    return render_template("contacts/contact.html", c=row, consents=consents, choices=choices, deliveries=deliveries,
                           answers=answers, may_erase=may_erase, erased_at=contact.erased_at,
                           bounced_at=contact.email_bounced_at, bounce=_bounce_reason(contact.email_bounce, shown),
                           may_clear_bounce=contact.email_bounced_at is not None and may_manage_contact(
                               principal, contact.department_id, scope.registry),
                           **extra)


def _bounce_reason(recorded: str | None, shown: bool) -> str:
    """"5.1.1: <the server's words>"; the words name the address, so only for those who may see it."""
    status, _, words = (recorded or "").partition(" ")
    return f"{status}: {words}" if shown and words else status


def _managed_contact(s: Session, principal: Principal, contact_id: int) -> tuple[Contact, Scope]:
    """The contact, if the operator may edit it: 404 outside their view, 403 if they may only read."""
    contact = s.get(Contact, contact_id)
    scope = _scope(s, principal)
    if contact is None or not scope.sees(contact):
        abort(404)
    if not may_manage_contact(principal, contact.department_id, scope.registry):
        abort(403)
    return contact, scope


@web_bp.post("/contacts/<int:contact_id>/erase")
@login_required
def contact_erase(contact_id: int) -> ResponseReturnValue:
    """A deletion request (削除請求) carried out: the person's details erased, their history kept
    without addresses (hub/contacts/erasure.py). The same policy as editing the contact."""
    principal = _operator()
    rt = runtime()
    with rt.session() as s:
        contact, scope = _managed_contact(s, principal, contact_id)
        reason = " ".join(request.form.get("reason", "").split())
        error = None
        if not reason:
            error = _("消去の理由（削除請求の受付番号など）を入力してください")
        elif len(reason) > ERASE_REASON_MAX:
            error = _("消去の理由は{n}文字以内です").format(n=ERASE_REASON_MAX)
        elif request.form.get("confirm_erase") != "yes":
            error = _("消去すると元に戻せないことを確認し、チェックを入れてください")
        if error is not None:
            return _contact_page(s, principal, contact, scope, erase_error=error, reason=reason), 422
        done = erase_contact(s, contact, rt.settings.secret_keys, f"operator:{reason}", principal.username)
        s.commit()
    if not done.already:
        flash(_("連絡先を消去しました（宛先を伏せた配信記録 {masked} 件、送信を取りやめた配信 {skipped} 件）")
              .format(masked=done.masked + done.in_hand, skipped=done.skipped), "ok")
    return redirect(url_for("web.contact_page", contact_id=contact_id))


@web_bp.post("/contacts/<int:contact_id>/clear-bounce")
@login_required
def contact_clear_bounce(contact_id: int) -> ResponseReturnValue:
    """The person says their mailbox works again (same address): e-mail is tried again. The same
    policy as editing the contact; audited, with the mark that was cleared."""
    principal = _operator()
    with runtime().session() as s:
        contact = _managed_contact(s, principal, contact_id)[0]
        if contact.email_bounced_at is not None:
            audit(s, principal.username, "contact.email_bounce_cleared", contact,
                  status=(contact.email_bounce or "").split(" ")[0])
            contact.clear_email_bounce()
            s.commit()
            flash(_("メールの送信を再開します（次の配信から送ります）"), "ok")
    return redirect(url_for("web.contact_page", contact_id=contact_id))


@web_bp.route("/contacts/import", methods=["GET", "POST"])
@login_required
def contact_import() -> ResponseReturnValue:
    principal = _operator()
    if principal.departments(Action.MANAGE_CONTACTS) == frozenset():
        abort(403)
    report: ImportReport | None = None
    problem = None
    if request.method == "POST":
        upload = request.files.get("file")
        data = upload.read() if upload is not None else b""
        if not data.strip():
            problem = _("CSVが空です")
        else:
            with runtime().session() as s:
                try:
                    report = import_contacts(s, data, source=f"web:{upload.filename or 'upload.csv'}"
                                             if upload else "web", actor=principal.username, principal=principal,
                                             registry=resident_registry(s, runtime().settings),
                                             secret_key=runtime().settings.secret_keys)
                    s.commit()
                except ValueError as exc:
                    problem = _(str(exc))
    return render_template("contacts/import.html", report=report, problem=problem), 422 if problem else 200


@web_bp.get("/contacts/export.csv")
@login_required
def contact_export() -> ResponseReturnValue:
    principal = _operator()
    f = _filters()
    out = io.StringIO()
    writer = SafeWriter(out)
    writer.writerow(["external_id", "kind", "name", "department", "phone", "email", "line_user_id", "areas",
                     "categories", "active"])
    with runtime().session() as s:
        scope = _scope(s, principal)
        count = 0
        for contact in s.scalars(_query(scope, f).order_by(Contact.name, Contact.id).limit(EXPORT_LIMIT)):
            r = _row(contact, _shows_addresses(principal, contact, scope))
            writer.writerow([r["external_id"] or "", r["kind"], r["name"], r["department"], r["phone"] or "",
                             r["email"] or "", r["line_user_id"] or "", ";".join(r["areas"]),
                             ";".join(r["categories"]), "1" if r["active"] else "0"])
            count += 1
        audit(s, principal.username, "export.contacts", ("contacts", "csv"),
              filters={k: v for k, v in f.items() if v}, rows=count)
        s.commit()
    return Response(("\ufeff" + out.getvalue()).encode("utf-8"), mimetype="text/csv; charset=utf-8",
                    headers={"Content-Disposition": "attachment; filename=contacts.csv"})
