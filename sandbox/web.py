"""The sandbox's own endpoints under ``/sandbox/``: the inbox page, JSON inbox, faults, stats."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from html import escape
from typing import Any
from urllib.parse import urlencode

from sandbox.constants import CHANNELS
from sandbox.context import SandboxContext
from sandbox.inbox import InboxItem
from sandbox.server import Request, Response, Router, html_response, json_response

CHANNEL_LABELS = {"sms": "SMS", "voice": "音声電話", "email": "メール", "line": "LINE", "x": "X"}
DRILL_MARK = "【訓練】"
PAGE_LIMIT = 200
JST = timezone(timedelta(hours=9), "JST")

_STYLE = """
body{font-family:"Hiragino Sans","Noto Sans JP",Meiryo,sans-serif;margin:0;background:#f4f5f7;color:#1d1d1f}
header{background:#5b2a86;color:#fff;padding:12px 20px}
header h1{margin:0;font-size:1.3em}
.banner{background:#ffe08a;color:#3d2c00;font-weight:bold;padding:10px 20px;border-bottom:3px solid #c79a00}
nav{padding:10px 20px;display:flex;gap:8px;flex-wrap:wrap;align-items:center}
nav a{padding:4px 12px;border-radius:14px;background:#fff;border:1px solid #ccc;color:#333;
  text-decoration:none}
nav a.on{background:#5b2a86;color:#fff;border-color:#5b2a86}
main{padding:0 20px 20px}
.item{background:#fff;border-left:6px solid #8a8f98;border-radius:6px;margin:10px 0;padding:10px 14px}
.item.drill{border-left-color:#e07b00;
  background:repeating-linear-gradient(135deg,#fff8ec,#fff8ec 14px,#fff 14px,#fff 28px)}
.meta{font-size:.85em;color:#555;display:flex;gap:14px;flex-wrap:wrap}
.ch{font-weight:bold;color:#5b2a86}
.badge{display:inline-block;padding:1px 8px;border-radius:10px;font-size:.8em;font-weight:bold}
.badge.drill{background:#e07b00;color:#fff}
.badge.deleted{background:#b00020;color:#fff}
.badge.dkim-pass{background:#1b6e3a;color:#fff}
.badge.dkim-fail{background:#b00020;color:#fff}
.subject{font-weight:bold;margin-top:6px}
.text{white-space:pre-wrap;margin-top:6px;line-height:1.6}
.deleted .text{text-decoration:line-through;color:#777}
.empty{padding:30px;text-align:center;color:#666}
.buttons{display:flex;gap:6px;flex-wrap:wrap;margin-top:8px}
.buttons span{border:1px solid #06c755;color:#036b2e;border-radius:14px;padding:2px 10px;font-size:.9em}
form.sms{background:#fff;border-radius:6px;padding:8px 14px;display:flex;gap:8px;flex-wrap:wrap;align-items:center}
"""


def _int(value: str | None, default: int | None) -> int | None:
    try:
        return int(value) if value not in (None, "") else default
    except ValueError:
        return default


def _jst(iso: str) -> str:
    # Staff read times in Japan time; the JSON keeps the UTC ISO value.
    return datetime.fromisoformat(iso).astimezone(JST).strftime("%Y-%m-%d %H:%M:%S JST")


def _query(channel: str | None) -> str:
    return "?" + urlencode({"channel": channel}) if channel else ""


def render_sms_form(sms_url: str | None) -> str:
    """Play a resident texting one of our numbers (STOP, 登録, a survey answer); the hub's reply
    then shows in the inbox. A page of its own: the inbox page reloads every 5 s."""
    target = escape(sms_url) if sms_url else "未設定（hub sandbox run --sms-url …）"
    return f"""<!doctype html>
<html lang="ja"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>住民からSMSを送る — サンドボックス</title><style>{_STYLE}</style></head>
<body><header><h1>住民からSMSを送る — サンドボックス</h1></header>
<main><form class="sms" method="post" action="/sandbox/sms/inbound">
<input name="from" placeholder="住民の番号 +8190…" required size="16" aria-label="住民の番号">
<input name="to" placeholder="部署の番号 +8150…" required size="16" aria-label="部署の番号">
<input name="body" placeholder="停止 / 登録 / 1" required size="12" aria-label="本文">
<input type="hidden" name="redirect" value="1"><button>送信</button></form>
<p class="meta">送信先 SMS URL: {target} ／ 返信は <a href="/sandbox/?channel=sms">受信箱</a> に届きます。</p>
</main></body></html>"""


def render_page(items: list[InboxItem], channel: str | None, to: str | None, total: int) -> str:
    links = [("すべて", None)] + [(CHANNEL_LABELS[c], c) for c in CHANNELS]
    nav = "".join(
        f'<a class="{"on" if c == channel else ""}" href="/sandbox/{_query(c)}">{escape(label)}</a>'
        for label, c in links
    ) + '<a href="/sandbox/sms">住民からSMSを送る</a>'
    cards = [_card(item) for item in reversed(items)]
    body = "".join(cards) or '<p class="empty">まだ何も届いていません。</p>'
    shown = f"{len(items)} 件を表示（全 {total} 件、新しい順）"
    filter_note = f"宛先: {escape(to)} ／ " if to else ""
    return f"""<!doctype html>
<html lang="ja"><head><meta charset="utf-8"><meta http-equiv="refresh" content="5">
<meta name="viewport" content="width=device-width,initial-scale=1">
<title>サンドボックス受信箱</title><style>{_STYLE}</style></head>
<body><header><h1>サンドボックス受信箱 — 配信ハブ</h1></header>
<div class="banner" role="alert">サンドボックス（実際には送信されていません）。
ここに表示される内容は、住民や職員には一切届いていません。</div>
<nav>{nav}<span class="meta">{filter_note}{shown}</span></nav>
<main>{body}</main></body></html>"""


def _card(item: InboxItem) -> str:
    drill = item.text.startswith(DRILL_MARK) or (item.subject or "").startswith(DRILL_MARK)
    deleted = bool(item.meta.get("deleted"))
    classes = "item" + (" drill" if drill else "") + (" deleted" if deleted else "")
    badges = ('<span class="badge drill">訓練</span>' if drill else "") + (
        '<span class="badge deleted">削除済み</span>' if deleted else ""
    )
    badges += _dkim_badge(item.meta.get("dkim"))
    subject = f'<div class="subject">件名: {escape(item.subject)}</div>' if item.subject else ""
    label = escape(CHANNEL_LABELS.get(item.channel, item.channel))
    if item.meta.get("gateway") == "karaden":
        label += "（Karaden）"  # the second SMS gateway: which one carried it is worth seeing
    return (
        f'<div class="{classes}"><div class="meta"><span class="ch">{label}'
        f"</span>{badges}<span>宛先: {escape(item.to)}</span><span>送信元: {escape(item.from_)}</span>"
        f"<span>受信: {escape(_jst(item.received_at))}</span>"
        f"<span>ID: {escape(item.provider_id)}</span></div>"
        f'{subject}<div class="text">{escape(item.text)}</div>{_buttons(item)}</div>'
    )


def _dkim_badge(verdict: object) -> str:
    """A signed e-mail's DKIM verdict, as a receiving server would give it (nothing when unsigned)."""
    if not isinstance(verdict, dict):
        return ""
    where = escape(f"d={verdict.get('domain', '')} s={verdict.get('selector', '')}")
    if verdict.get("result") == "pass":
        return f'<span class="badge dkim-pass" title="{where}">DKIM 検証OK</span>'
    return (f'<span class="badge dkim-fail" title="{where}">DKIM 検証失敗: '
            f'{escape(str(verdict.get("reason") or ""))}</span>')


def _buttons(item: InboxItem) -> str:
    """A LINE message's buttons (quick replies, a template's actions) as the recipient sees them
    under it: a survey's choices, the registration's steps, a call-out's answers."""
    labels: list[str] = []
    for message in item.meta.get("messages") or []:
        if not isinstance(message, dict):
            continue
        quick, template = message.get("quickReply"), message.get("template")
        items = quick.get("items") or [] if isinstance(quick, dict) else []
        actions = [i.get("action") for i in items if isinstance(i, dict)]
        actions += list(template.get("actions") or []) if isinstance(template, dict) else []
        labels += [str(a.get("label") or "") for a in actions if isinstance(a, dict) and a.get("label")]
    if not labels:
        return ""
    chips = "".join(f"<span>{escape(label)}</span>" for label in labels)
    return f'<div class="buttons" aria-label="ボタン">{chips}</div>'


class SandboxWeb:
    def __init__(
        self, ctx: SandboxContext, reset: Callable[[], None], info: Callable[[], dict[str, Any]]
    ) -> None:
        self.ctx = ctx
        self._reset = reset
        self._info = info

    def register(self, router: Router) -> None:
        router.add("GET", "/sandbox", self.page)
        router.add("GET", "/sandbox/", self.page)
        router.add("GET", "/sandbox/health", self.health)
        router.add("GET", "/sandbox/sms", self.sms_page)
        router.add("GET", "/sandbox/inbox", self.inbox)
        router.add("DELETE", "/sandbox/inbox", self.clear)
        router.add("GET", "/sandbox/faults", self.list_faults)
        router.add("POST", "/sandbox/faults", self.add_fault)
        router.add("DELETE", "/sandbox/faults", self.clear_faults)
        router.add("GET", "/sandbox/stats", self.stats)
        router.add("GET", "/sandbox/dns", self.list_txt)
        router.add("POST", "/sandbox/dns", self.publish_txt)
        router.add("PUT", "/sandbox/smtp/bounce-target", self.set_bounce_target)

    def _filters(self, request: Request) -> tuple[str | None, str | None]:
        return request.arg("channel") or None, request.arg("to") or None

    def page(self, request: Request) -> Response:
        channel, to = self._filters(request)
        limit = _int(request.arg("limit"), PAGE_LIMIT)
        items = self.ctx.inbox.query(channel, to, limit)
        total = len(self.ctx.inbox.query(channel, to)) if to else self.ctx.inbox.count(channel)
        return html_response(200, render_page(items, channel, to, total))

    def sms_page(self, request: Request) -> Response:
        return html_response(200, render_sms_form(self.ctx.twilio_sms_url))

    def health(self, request: Request) -> Response:
        return json_response(200, {"ok": True, **self._info()})

    def inbox(self, request: Request) -> Response:
        channel, to = self._filters(request)
        if channel is not None and channel not in CHANNELS:
            return json_response(400, {"message": f"unknown channel {channel!r}"})
        items = self.ctx.inbox.query(channel, to, _int(request.arg("limit"), None))
        return json_response(200, {"items": [item.to_dict() for item in items], "count": len(items)})

    def clear(self, request: Request) -> Response:
        self._reset()
        return json_response(200, {"cleared": True})

    def list_faults(self, request: Request) -> Response:
        return json_response(200, {"faults": self.ctx.faults.list()})

    def add_fault(self, request: Request) -> Response:
        try:
            spec = request.json() or {}
            fault = self.ctx.faults.inject(
                str(spec.get("channel", "")),
                str(spec.get("kind", "")),
                int(spec.get("count", 1)),
                spec.get("match"),
                None if spec.get("delay") is None else float(spec["delay"]),
                None if spec.get("probability") is None else float(spec["probability"]),
            )
        except (ValueError, TypeError, AttributeError) as exc:
            return json_response(400, {"message": str(exc)})
        return json_response(201, fault.to_dict())

    def clear_faults(self, request: Request) -> Response:
        self.ctx.faults.clear()
        return json_response(200, {"cleared": True})

    def list_txt(self, request: Request) -> Response:
        return json_response(200, {"txt": dict(self.ctx.txt_records)})

    def publish_txt(self, request: Request) -> Response:
        """Add a TXT record to the sandbox's DNS: ``{"name": "s._domainkey.example.jp", "value": "v=DKIM1; …"}``."""
        try:
            spec = request.json()
        except ValueError:
            spec = None
        if not (isinstance(spec, dict) and isinstance(spec.get("name"), str) and isinstance(spec.get("value"), str)):
            return json_response(400, {"message": 'expected {"name": "…", "value": "…"}'})
        self.ctx.txt_records[spec["name"].rstrip(".").lower()] = spec["value"]
        return json_response(201, {"name": spec["name"], "value": spec["value"]})

    def set_bounce_target(self, request: Request) -> Response:
        """Where bounce reports go: ``{"host": "127.0.0.1", "port": 2525}``, ``{"mailbox": true}``
        (the POP3 bounce mailbox) or ``{"host": null}``."""
        try:
            spec = request.json()
            host = spec.get("host") if isinstance(spec, dict) else None
            port = int(spec.get("port", 25)) if isinstance(spec, dict) else 0
            mailbox = spec.get("mailbox", False) if isinstance(spec, dict) else False
        except (ValueError, TypeError):
            return json_response(400, {"message": 'expected {"host": "…", "port": 25}'})
        if (host is not None and (not isinstance(host, str) or not 0 < port < 65536)) or mailbox not in (True, False):
            return json_response(400, {"message": 'expected {"host": "…", "port": 25} or {"mailbox": true}'})
        self.ctx.bounce_target = (host, port) if host else None
        self.ctx.bounce_to_mailbox = mailbox
        return json_response(200, {"host": host, "port": port if host else None, "mailbox": mailbox})

    def stats(self, request: Request) -> Response:
        counts: dict[str, int] = self.ctx.stats.snapshot()
        counts["callbacks.pending"] = self.ctx.jobs.pending()
        return json_response(200, counts)
