"""The stop link every resident e-mail carries (``/r/u/<token>``): RFC 8058 one-click, and a page.

``POST`` with ``List-Unsubscribe=One-Click`` (what a mail client's unsubscribe button sends, and
what the page's button sends) revokes the consent of the channel the link names. The link is the
only credential: mail clients post it without cookies, so this blueprint deliberately has no CSRF
token (a forged post would need the resident's secret link, which already is the permission).
``GET`` only shows the page with its button and never unsubscribes: mail scanners and link
previews fetch every link in a message. A token this hub did not sign, or whose contact is gone,
gets a 404 page; a post without the one-click field a 400 page.
"""

from __future__ import annotations

from flask import Blueprint, current_app, render_template, request
from flask.typing import ResponseReturnValue

from hub.contacts.masking import mask_address
from hub.i18n import gettext as _
from hub.i18n import speak_to_resident
from hub.models import Contact, ContactKind
from hub.residents import links, optout
from hub.runtime import Runtime

unsubscribe_bp = Blueprint("unsubscribe", __name__, template_folder="templates")

ONE_CLICK = ("List-Unsubscribe", "One-Click")  # RFC 8058's only body field
CHANNEL_LABELS = {"email": "メール", "sms": "SMS", "line": "LINE", "voice": "音声電話"}
ADDRESS_FIELDS = {"email": "email", "sms": "phone", "voice": "phone", "line": "line_user_id"}


def _rt() -> Runtime:
    rt: Runtime = current_app.extensions["hub"]
    return rt


def _page(state: str, status: int, token: str = "", label: str = "", address: str | None = None,
          staff: bool = False) -> ResponseReturnValue:
    return render_template("residents/unsubscribe.html", state=state, token=token,
                           channel=_(label) if label else "", address=address, staff=staff), status


@unsubscribe_bp.route("/r/u/<token>", methods=["GET", "POST"])
def unsubscribe(token: str) -> ResponseReturnValue:
    rt = _rt()
    if request.method == "POST" and request.form.get(ONE_CLICK[0]) != ONE_CLICK[1]:
        return _page("bad_request", 400)
    try:
        link = links.read_token(rt.settings, links.UNSUBSCRIBE, token)
    except links.ResidentLinkError:
        return _page("bad_link", 404)
    with rt.session() as s:
        contact = s.get(Contact, link.contact_id)
        if contact is None or link.channel not in CHANNEL_LABELS:
            return _page("bad_link", 404)
        speak_to_resident(contact.language or "ja")
        label = CHANNEL_LABELS[link.channel]
        address = mask_address(getattr(contact, ADDRESS_FIELDS[link.channel]))
        # Staff are reached for their work whatever their consent: the stop is recorded, and the
        # page says plainly that work messages keep coming.
        staff = contact.kind == ContactKind.STAFF
        if request.method == "POST":
            via = "page" if request.form.get("via") == "page" else "one-click"
            revoked = optout.revoke(s, Contact.id == contact.id, link.channel, f"{link.channel}:{via}",
                                    actor=f"contact:{contact.id}")
            state = "done" if revoked else "staff_only" if staff else "already"
            return _page(state, 200, token, label, address, staff)
        live = any(c.channel == link.channel and c.revoked_at is None for c in contact.consents)
    state = "confirm" if live else "staff_only" if staff else "already"
    return _page(state, 200, token, label, address, staff)


