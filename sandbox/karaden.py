"""Karaden SMS API (``/api/{tenant_id}/messages``), the SMS gateway behind 空電プッシュ.

Written from the public documentation (prg-support.karaden.jp, "SMS API" articles) and the
official SDK ``karaden-prg-python``; the schema it answers with is
``sandbox/contracts/karaden_sms_api.yaml``.  Form-encoded requests with ``Authorization: Bearer``
and a ``Karaden-Version`` header; JSON answers; errors as ``{"object": "error", ...}``.
Delivery results are POSTed as JSON (the message object) to the callback URL of the service
setting (サービス設定), here ``Sandbox(karaden_callback_url=...)`` or
``PUT /sandbox/karaden/callback``.

Copies go to the inbox as channel ``sms`` (what the resident's phone shows), addressed in E.164
like Twilio's, with ``meta.gateway = "karaden"``: one phone's copies from both gateways are
counted together.  Faults are injected as channel ``karaden`` and hit every API request of that
gateway whose ``to`` (or tag) matches: a gateway that is down cannot be asked either.
"""

from __future__ import annotations

import json
import re
import threading
import time
import uuid
from datetime import UTC, datetime
from typing import Any

from sandbox.callbacks import JobStep, Outgoing
from sandbox.context import SandboxContext
from sandbox.faults import Fault
from sandbox.inbox import InboxItem
from sandbox.server import Request, Response, Router, json_response

BASE = "/api/{tenant_id}/messages"
# Versions the public documentation names: the launch version and the SDK's default.
API_VERSIONS = frozenset({"2023-01-01", "2024-03-01"})
MAX_BODY = 660  # 「最大660文字」
MOBILE_TO = re.compile(r"^0[789]0[0-9]{8}$")  # 11 digits, a mobile number (070/080/090)
UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
MAX_PER_PAGE = 100
PROJECT_ID = 1
BILLING_ADDRESS_ID = 1
CARRIERS = ("docomo", "au", "softbank", "rakuten")


def iso(ts: float | None) -> str | None:
    if ts is None:
        return None
    return datetime.fromtimestamp(ts, UTC).astimezone().isoformat(timespec="seconds")


def karaden_error(status: int, message: str, errors: dict[str, list[str]] | None = None,
                  code: str | None = None) -> Response:
    body: dict[str, Any] = {"object": "error", "code": code or str(status), "message": message}
    if errors:
        body["errors"] = errors
    return json_response(status, body)


def e164(national: str) -> str:
    return "+81" + national[1:]


class KaradenRecord:
    __slots__ = ("body", "carrier", "created", "id", "is_shorten", "received", "result", "sent", "sent_result",
                 "service_id", "status", "tags", "tenant_id", "to", "updated")

    def __init__(self, tenant_id: str, service_id: int, to: str, body: str, tags: list[str],
                 is_shorten: bool) -> None:
        self.id = str(uuid.uuid4())
        self.tenant_id = tenant_id
        self.service_id = service_id
        self.to = to
        self.body = body
        self.tags = tags
        self.is_shorten = is_shorten
        self.status = "waiting"
        self.result = "processing"
        self.sent_result = "none"
        self.carrier = CARRIERS[int(to[-1]) % len(CARRIERS)]
        self.created = self.updated = time.time()
        self.sent: float | None = None
        self.received: float | None = None

    def resource(self) -> dict[str, Any]:
        # Every documented key, null when there is no value (「値が無ければnull」).
        return {
            "id": self.id,
            "object": "message",
            "service_id": self.service_id,
            "billing_address_id": BILLING_ADDRESS_ID,
            "to": self.to,
            "body": self.body,
            "tags": list(self.tags),
            "is_shorten": self.is_shorten,
            "is_shorten_clicked": None,
            "result": self.result,
            "status": self.status,
            "sent_result": self.sent_result,
            "carrier": self.carrier if self.sent is not None else None,
            "charged_count_per_sent": _charged_count(self.body),
            "scheduled_at": None,
            "limited_at": None,
            "sent_at": iso(self.sent),
            "received_at": iso(self.received),
            "charged_at": iso(self.sent),
            "created_at": iso(self.created),
            "updated_at": iso(self.updated),
        }

    def callback_body(self) -> dict[str, Any]:
        return {**self.resource(), "project_id": PROJECT_ID}


def _charged_count(body: str) -> int:
    """Billing units: 70 characters in one message, 67 per part when split (UCS-2, as carriers count)."""
    return 1 if len(body) <= 70 else -(-len(body) // 67)


class KaradenApi:
    def __init__(self, ctx: SandboxContext) -> None:
        self.ctx = ctx
        self._lock = threading.Lock()
        self._records: list[KaradenRecord] = []
        self._by_id: dict[str, KaradenRecord] = {}

    def register(self, router: Router) -> None:
        router.add("POST", BASE, self.create)
        router.add("GET", BASE, self.list)
        router.add("GET", f"{BASE}/{{id}}", self.detail)
        router.add("POST", f"{BASE}/{{id}}/cancel", self.cancel)
        router.add("PUT", "/sandbox/karaden/callback", self.set_callback)

    def clear(self) -> None:
        with self._lock:
            self._records, self._by_id = [], {}

    # -- common ------------------------------------------------------------------------------

    def _refused(self, request: Request, targets: tuple[str, ...]) -> Response | Fault | None:
        """Auth, version and tenant checks, then any injected fault for these targets."""
        if request.header("authorization") != f"Bearer {self.ctx.karaden_api_token}":
            return karaden_error(401, "認証に失敗しました。トークンを確認してください。", code="unauthorized")
        version = request.header("karaden-version")
        if version not in API_VERSIONS:
            return karaden_error(400, "Karaden-Versionが指定されていないか、リリースされていないバージョンです。",
                                 {"Karaden-Version": [f"{version!r}は利用できません。"]}, code="invalid_version")
        if not UUID.match(request.params.get("tenant_id", "")):
            return karaden_error(404, "テナントが見つかりません。", code="not_found")
        fault = self.ctx.faults.take("karaden", targets)
        if fault is None:
            return None
        refused: Response | None = None
        if fault.kind == "429":
            refused = karaden_error(429, "リクエスト数の上限を超えました。", code="too_many_requests")
        elif fault.kind == "500":
            refused = karaden_error(500, "サーバーエラーが発生しました。", code="internal_server_error")
        if refused is None:
            return fault
        # An error fault with a delay answers late, as a gateway under load does.
        refused.delay = fault.delay or 0.0
        return refused

    def _find(self, request: Request) -> KaradenRecord | None:
        record = self._by_id.get(request.params["id"])
        return record if record is not None and record.tenant_id == request.params["tenant_id"] else None

    # -- SMS送信 -------------------------------------------------------------------------------

    def create(self, request: Request) -> Response:
        self.ctx.stats.incr("karaden.messages.create")
        form = request.form()
        to = (form.get("to") or [""])[0]
        refused = self._refused(request, (to, e164(to) if to[:1] == "0" else to))
        if isinstance(refused, Response):
            return refused
        fault = refused
        errors = self._validate(form)
        if fault is not None and fault.kind == "invalid_number":
            errors["to"] = ["送信先番号が不正です。"]
        if errors:
            return karaden_error(422, "入力内容に誤りがあります。", errors, code="unprocessable_entity")
        record = KaradenRecord(request.params["tenant_id"], int(form["service_id"][0]), to, form["body"][0],
                               form.get("tags[]", []), (form.get("is_shorten") or ["false"])[0] == "true")
        with self._lock:
            self._records.append(record)
            self._by_id[record.id] = record
        undelivered = fault is not None and fault.kind == "undelivered"
        if not undelivered:
            meta = {"gateway": "karaden", "message_id": record.id, "service_id": record.service_id,
                    "to_national": to, "tags": list(record.tags), "carrier": record.carrier}
            self.ctx.inbox.add(InboxItem("sms", e164(to), f"karaden:service:{record.service_id}", record.body,
                                         record.id, meta=meta))
        response = json_response(200, record.resource())
        if self.ctx.karaden_callback_url or self.ctx.callback_delay > 0 or undelivered:
            self._schedule_result(record, undelivered)
        else:
            self._settle(record, undelivered)
        if fault is not None and fault.kind == "timeout":
            response.delay = fault.timeout_delay
        return response

    @staticmethod
    def _validate(form: dict[str, list[str]]) -> dict[str, list[str]]:
        errors: dict[str, list[str]] = {}
        service = (form.get("service_id") or [""])[0]
        if not service.isdigit() or int(service) <= 0:
            errors["service_id"] = ["service_idは必須です。", "数字を入力してください。"]
        to = (form.get("to") or [""])[0]
        if not MOBILE_TO.match(to):
            errors["to"] = ["toは070/080/090で始まる11桁の携帯電話番号を入力してください。"]
        body = (form.get("body") or [""])[0]
        if not body:
            errors["body"] = ["bodyは必須です。"]
        elif len(body) > MAX_BODY:
            errors["body"] = [f"bodyは{MAX_BODY}文字以下で入力してください。"]
        return errors

    def _settle(self, record: KaradenRecord, undelivered: bool) -> None:
        now = time.time()
        record.status, record.result = "done", "done"
        record.sent = record.updated = now
        if undelivered:
            record.sent_result = "unconnected"  # 圏外
            self.ctx.stats.incr("karaden.messages.undelivered")
        else:
            record.sent_result, record.received = "received", now

    def _schedule_result(self, record: KaradenRecord, undelivered: bool) -> None:
        def result() -> Outgoing | None:
            if record.status == "canceled":
                return None
            self._settle(record, undelivered)
            url = self.ctx.karaden_callback_url
            if not url:
                return None
            body = json.dumps(record.callback_body(), ensure_ascii=False).encode("utf-8")
            headers = {"Content-Type": "application/json", "Karaden-Version": min(API_VERSIONS)}
            try:
                reply = self.ctx.jobs.sender.send_raw(Outgoing(url, "POST", [], headers, "karaden.callbacks"), body)
                self.ctx.stats.incr("karaden.callbacks.sent" if reply.status < 400 else "karaden.callbacks.rejected")
            except OSError:
                self.ctx.stats.incr("karaden.callbacks.failed")
            return None

        self.ctx.jobs.schedule([JobStep(result, gap=self.ctx.callback_delay)])

    # -- SMS送信結果取得（一括 / レコード単位） ------------------------------------------------------

    def list(self, request: Request) -> Response:
        self.ctx.stats.incr("karaden.messages.list")
        to, tag = request.arg("to") or "", request.arg("tag") or ""
        refused = self._refused(request, tuple(t for t in (to, tag) if t) or ("list",))
        if isinstance(refused, Response):
            return refused
        try:
            page = max(1, int(request.arg("page") or 1))
            per_page = int(request.arg("per_page") or MAX_PER_PAGE)
            service_arg = request.arg("service_id")
            service = int(service_arg) if service_arg else None
            start = _parse_time(request.arg("start_at"))
            end = _parse_time(request.arg("end_at"))
        except ValueError:
            return karaden_error(422, "検索条件に誤りがあります。", {"query": ["形式が正しくありません。"]},
                                 code="unprocessable_entity")
        if not 1 <= per_page <= MAX_PER_PAGE:
            return karaden_error(422, "検索条件に誤りがあります。",
                                 {"per_page": [f"per_pageは1から{MAX_PER_PAGE}で指定してください。"]},
                                 code="unprocessable_entity")
        wanted = {k: request.arg(k) for k in ("status", "result", "sent_result")}

        def keep(r: KaradenRecord) -> bool:
            return (r.tenant_id == request.params["tenant_id"] and (not to or r.to == to)
                    and (not tag or tag in r.tags) and (service is None or r.service_id == service)
                    and (start is None or r.created >= start) and (end is None or r.created <= end)
                    and all(not v or getattr(r, k) == v for k, v in wanted.items()))

        with self._lock:
            found = [r for r in reversed(self._records) if keep(r)]  # newest first
        chunk = found[(page - 1) * per_page: page * per_page]
        return json_response(200, {"object": "list", "has_more": len(found) > page * per_page,
                                   "data": [r.resource() for r in chunk]})

    def detail(self, request: Request) -> Response:
        self.ctx.stats.incr("karaden.messages.detail")
        record = self._find(request)
        refused = self._refused(request, (record.to, *record.tags) if record else ("detail",))
        if isinstance(refused, Response):
            return refused
        if record is None:
            return karaden_error(404, "メッセージが見つかりません。", code="not_found")
        return json_response(200, record.resource())

    # -- SMS送信キャンセル --------------------------------------------------------------------------

    def cancel(self, request: Request) -> Response:
        self.ctx.stats.incr("karaden.messages.cancel")
        record = self._find(request)
        refused = self._refused(request, (record.to, *record.tags) if record else ("cancel",))
        if isinstance(refused, Response):
            return refused
        if record is None:
            return karaden_error(404, "メッセージが見つかりません。", code="not_found")
        if record.status != "waiting":
            return karaden_error(422, "送信待ちのメッセージのみキャンセルできます。",
                                 {"id": ["送信済みのメッセージはキャンセルできません。"]}, code="unprocessable_entity")
        record.status, record.result, record.updated = "canceled", "done", time.time()
        return json_response(200, record.resource())

    def set_callback(self, request: Request) -> Response:
        payload = request.json() or {}
        self.ctx.karaden_callback_url = payload.get("url") or None
        return json_response(200, {"url": self.ctx.karaden_callback_url})


def _parse_time(value: str | None) -> float | None:
    if not value:
        return None
    moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()
