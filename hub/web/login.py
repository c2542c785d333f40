"""Logging in and out of the console: password, TOTP, the forced password change, TOTP enrolment.

The signed session holds the operator id and their ``session_version``; bumping the version
(logout, a password, token or role change) ends every session signed with the old one. A session
that still owes a new password or — in production, for approvers and admins — a TOTP enrolment is
``pending``: :func:`hub.api.auth.session_principal` does not accept it, so the API and every page
refuse it, and the pages send it here.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import flash, redirect, render_template, request, session, url_for
from flask.typing import ResponseReturnValue
from sqlalchemy.orm import Session

from hub.accounts import load_operator, totp
from hub.accounts.login import PENDING_PASSWORD, PENDING_TOTP, log_in, log_out, pending_step, set_password
from hub.accounts.passwords import WeakPassword
from hub.api.auth import csrf_token
from hub.api.common import runtime
from hub.i18n import gettext as _
from hub.models import Operator, audit
from hub.web.pages import web_bp

PENDING_ENDPOINTS = {PENDING_PASSWORD: "web.change_password", PENDING_TOTP: "web.enrol_totp"}


def _safe_target(raw: str | None) -> str:
    target = raw or url_for("web.dashboard")
    # Browsers read "/\\host" as "//host" and drop tabs and newlines: only a plain local path may pass.
    unsafe = "\\" in target or any(ch.isspace() or ord(ch) < 32 for ch in target)
    if unsafe or urlsplit(target).netloc or not target.startswith("/") or target.startswith("//"):
        return url_for("web.dashboard")  # never bounce a login to another site
    return target


def _sign_in(operator_id: int, version: int, pending: str | None) -> None:
    session.clear()  # a fresh session (and CSRF token) at every sign-in: no fixation
    session["operator_id"] = operator_id
    session["session_version"] = version
    if pending:
        session["pending"] = pending
    csrf_token()


def _session_operator(s: Session) -> Operator | None:
    """The operator of this session, pending or not; ``None`` once it was ended."""
    operator_id, version = session.get("operator_id"), session.get("session_version")
    if not isinstance(operator_id, int) or not isinstance(version, int):
        return None
    operator = load_operator(s, operator_id)
    return operator if operator is not None and operator.session_version == version else None


def pending_redirect() -> ResponseReturnValue | None:
    """Where a pending session must go first (used by the pages' login check)."""
    pending = session.get("pending")
    return redirect(url_for(PENDING_ENDPOINTS[pending])) if pending in PENDING_ENDPOINTS else None


@web_bp.route("/login", methods=["GET", "POST"])
def login() -> ResponseReturnValue:
    target = _safe_target(request.args.get("next"))
    if request.method == "GET":
        return render_template("login.html", next=target)
    form = request.form
    username = form.get("username", "").strip()
    rt = runtime()
    with rt.session() as s:
        result = log_in(s, rt.login_throttle, username, form.get("password", ""), form.get("code", ""),
                        request.remote_addr, rt.settings.is_production, rt.settings.secret_keys)
    if not result.ok:
        flash(result.error or "", "error")
        page = render_template("login.html", next=target, username=username)
        if result.retry_after:
            return page, 429, {"Retry-After": str(result.retry_after)}
        return page, 401
    assert result.operator_id is not None
    _sign_in(result.operator_id, result.session_version, result.pending)
    if result.pending:
        session["next"] = target
        return redirect(url_for(PENDING_ENDPOINTS[result.pending]))
    return redirect(target)


@web_bp.post("/logout")
def logout() -> ResponseReturnValue:
    with runtime().session() as s:
        operator = _session_operator(s)
        if operator is not None:
            log_out(s, operator.id, request.remote_addr)
    session.clear()
    return redirect(url_for("web.login"))


def _continue(s: Session, operator: Operator) -> ResponseReturnValue:
    """After a step: sign the session with the new version and go to the next step or the page wanted."""
    pending = pending_step(operator, runtime().settings.is_production)
    target = _safe_target(session.get("next"))
    _sign_in(operator.id, operator.session_version, pending)
    if pending:
        session["next"] = target
        return redirect(url_for(PENDING_ENDPOINTS[pending]))
    return redirect(target)


@web_bp.route("/password", methods=["GET", "POST"])
def change_password() -> ResponseReturnValue:
    """The operator's own password; the only page a one-time password opens."""
    forced = session.get("pending") == PENDING_PASSWORD
    if request.method == "GET":
        with runtime().session() as s:
            if _session_operator(s) is None:
                return redirect(url_for("web.login"))
        return render_template("password.html", forced=forced)
    form = request.form
    with runtime().session() as s:
        operator = _session_operator(s)
        if operator is None:
            return redirect(url_for("web.login"))
        if form.get("new_password", "") != form.get("confirm_password", ""):
            flash(_("確認用のパスワードが一致しません"), "error")
            return render_template("password.html", forced=forced), 422
        try:
            set_password(s, operator, form.get("new_password", ""), actor=operator.username,
                         current=form.get("current_password", ""))
        except WeakPassword as exc:
            flash(str(exc), "error")
            return render_template("password.html", forced=forced), 422
        flash(_("パスワードを変更しました"), "ok")
        return _continue(s, operator)


@web_bp.route("/totp", methods=["GET", "POST"])
def enrol_totp() -> ResponseReturnValue:
    """Set up the second factor: the secret is shown once, then confirmed by a code made from it."""
    required = session.get("pending") == PENDING_TOTP
    with runtime().session() as s:
        operator = _session_operator(s)
        if operator is None or session.get("pending") == PENDING_PASSWORD:
            return redirect(url_for("web.login"))
        key = runtime().settings.secret_keys
        if request.method == "GET":
            secret, uri = totp.begin_enrolment(operator, key)
            return render_template("totp.html", secret=secret, uri=uri, required=required,
                                   enrolled=operator.totp_secret is not None)
        if not totp.confirm_enrolment(operator, request.form.get("code", ""), key):
            audit(s, operator.username, "totp.enrol_failed", operator)
            flash(_("確認コードが正しくありません。もう一度読み取ってからお試しください"), "error")
            # The same key again: the operator may simply have typed a digit wrong.
            secret, uri = totp.pending_enrolment(operator, key) or totp.begin_enrolment(operator, key)
            return render_template("totp.html", secret=secret, uri=uri, required=required,
                                   enrolled=operator.totp_secret is not None), 422
        operator.session_version += 1  # a new credential: other sessions sign in again
        audit(s, operator.username, "totp.enrol", operator)
        flash(_("二要素認証を設定しました"), "ok")
        return _continue(s, operator)
