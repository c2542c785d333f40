"""Pieces shared by the Twilio Messages and Calls emulators: auth, errors, numbers, signatures."""

from __future__ import annotations

import base64
import binascii
import bisect
import calendar
import functools
import math
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from typing import Any, Generic, Protocol, TypeVar
from urllib.parse import urlencode

import phonenumbers
from twilio.request_validator import RequestValidator

from sandbox.callbacks import Outgoing
from sandbox.server import Request, Response, json_response

API_VERSION = "2010-04-01"
ACCOUNT_SID_RE = re.compile(r"^AC[0-9a-fA-F]{32}$")
_JP_E164 = re.compile(r"^\+81[1-9][0-9]{8,9}$")

# GSM 03.38: a body made only of these is sent as GSM-7 (160/153 per segment); the extension
# characters take an escape plus the character, so they count twice.
GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENSION = frozenset("^{}\\[~]|€\f")


def twilio_error(status: int, code: int, message: str) -> Response:
    return json_response(
        status,
        {
            "code": code,
            "message": message,
            "more_info": f"https://www.twilio.com/docs/errors/{code}",
            "status": status,
        },
    )


def new_sid(prefix: str) -> str:
    return prefix + uuid.uuid4().hex


def check_auth(request: Request, auth_token: str) -> Response | None:
    """Basic auth as Twilio does it; any well-formed account SID works with the sandbox token,
    so per-department accounts can be exercised without configuring each one here."""
    header = request.header("Authorization") or ""
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic":
        return twilio_error(401, 20003, "Authentication Error - No credentials provided")
    try:
        username, _, password = base64.b64decode(encoded).decode("utf-8").partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return twilio_error(401, 20003, "Authentication Error - invalid credentials")
    if not ACCOUNT_SID_RE.match(username) or password != auth_token:
        return twilio_error(401, 20003, "Authentication Error - invalid username")
    if request.params.get("AccountSid") != username:
        return twilio_error(404, 20404, f"The requested resource {request.path} was not found")
    return None


@functools.lru_cache(maxsize=262_144)
def classify_number(number: str) -> str:
    """``mobile`` / ``other`` / ``invalid`` for an E.164 number (cached: benchmarks repeat them)."""
    if not number.startswith("+"):
        return "invalid"
    if _JP_E164.match(number):
        # Same answer as parse() + is_valid_number() for +81 (one region, no leading zero) at a
        # fifth of the cost: a 100,000-recipient benchmark has 100,000 distinct numbers.
        parsed = phonenumbers.PhoneNumber(country_code=81, national_number=int(number[3:]))
    else:
        try:
            parsed = phonenumbers.parse(number, None)
        except phonenumbers.NumberParseException:
            return "invalid"
        if not phonenumbers.is_valid_number(parsed):
            return "invalid"
    kind = phonenumbers.number_type(parsed)
    if kind == phonenumbers.PhoneNumberType.UNKNOWN:
        return "invalid"
    mobile = (phonenumbers.PhoneNumberType.MOBILE, phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE)
    return "mobile" if kind in mobile else "other"


def sms_segments(body: str) -> tuple[str, int]:
    """(encoding, segment count) as a carrier would split ``body``."""
    if all(ch in GSM7_BASIC or ch in GSM7_EXTENSION for ch in body):
        units = sum(2 if ch in GSM7_EXTENSION else 1 for ch in body)
        single, multi, encoding = 160, 153, "GSM-7"
    else:
        units = len(body.encode("utf-16-le")) // 2
        single, multi, encoding = 70, 67, "UCS-2"
    if units <= single:
        return encoding, 1
    return encoding, math.ceil(units / multi)


class _RfcDate:
    """RFC 2822 timestamps as Twilio writes them ("+0000"), formatted once per second."""

    def __init__(self) -> None:
        self._cache: tuple[int, str] = (0, "")

    def __call__(self, ts: float | None) -> str | None:
        if ts is None:
            return None
        second = int(ts)
        cached = self._cache
        if cached[0] == second:
            return cached[1]
        value = time.strftime("%a, %d %b %Y %H:%M:%S +0000", time.gmtime(second))
        self._cache = (second, value)
        return value


rfc2822 = _RfcDate()


def first(form: dict[str, list[str]], name: str) -> str | None:
    values = form.get(name)
    return values[0] if values else None


def signed_callback(
    url: str, params: Iterable[tuple[str, str]], auth_token: str, stat: str, method: str
) -> Outgoing:
    """A callback carrying ``X-Twilio-Signature`` exactly as the SDK's RequestValidator expects."""
    form = list(params)
    validator = RequestValidator(auth_token)
    if method.upper() == "GET":
        # For GET the parameters travel in the URL, and the signature covers that full URL.
        full = url + ("&" if "?" in url else "?") + urlencode(form)
        return Outgoing(full, "GET", [], {"X-Twilio-Signature": validator.compute_signature(full, {})}, stat)
    signature = validator.compute_signature(url, dict(form))
    return Outgoing(url, "POST", form, {"X-Twilio-Signature": signature}, stat)


def parse_filter_time(value: str | None) -> float | None:
    """``DateSent>``/``StartTime>`` values: ``YYYY-MM-DD`` or ``YYYY-MM-DDTHH:MM:SSZ`` (as the SDK sends)."""
    if not value:
        return None
    for fmt in ("%Y-%m-%dT%H:%M:%SZ", "%Y-%m-%d"):
        try:
            return float(calendar.timegm(time.strptime(value, fmt)))
        except ValueError:
            continue
    return None


def time_filter(query: dict[str, list[str]], name: str) -> tuple[float | None, float | None, float | None]:
    """(on-or-after, on-or-before, same day) bounds from ``Name>``, ``Name<`` and ``Name``."""
    after = parse_filter_time(first(query, f"{name}>"))
    before_raw = first(query, f"{name}<")
    before = parse_filter_time(before_raw)
    if before is not None and before_raw and len(before_raw) == 10:
        before += 86_399  # a bare date means "up to the end of that day"
    exact = parse_filter_time(first(query, name))
    return after, before, exact


def in_time_window(ts: float, bounds: tuple[float | None, float | None, float | None]) -> bool:
    after, before, exact = bounds
    if after is not None and ts < after:
        return False
    if before is not None and ts > before + 0.999:
        return False
    return not (exact is not None and not exact <= ts < exact + 86_400)


def page_args(query: dict[str, list[str]]) -> tuple[int, int, str | None] | Response:
    try:
        size = int(first(query, "PageSize") or 50)
        page = int(first(query, "Page") or 0)
    except ValueError:
        return twilio_error(400, 20001, "Invalid paging parameters")
    if not 1 <= size <= 1000 or page < 0:
        return twilio_error(400, 20001, "PageSize must be between 1 and 1000")
    return size, page, first(query, "PageToken")


class _Record(Protocol):
    sid: str
    account_sid: str
    to: str
    seq: int

    def resource(self) -> dict[str, Any]: ...


R = TypeVar("R", bound=_Record)


class ResourceStore(Generic[R]):
    """Accepted messages or calls, newest-first listing with stable paging.

    The hub lists by ``To`` and a time window to reconcile sends whose outcome it lost, so the
    list must contain exactly what was accepted, and paging must not shift while new records
    arrive: the page token names the last record seen rather than an offset.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._records: list[R] = []
        self._by_sid: dict[str, R] = {}
        self._by_to: dict[str, list[R]] = {}
        self._seq = 0

    def add(self, record: R) -> None:
        # Numbered under the same lock as the append, so every list stays sorted by seq and the
        # page-token bisection holds even when requests race.
        with self._lock:
            self._seq += 1
            record.seq = self._seq
            self._records.append(record)
            self._by_sid[record.sid] = record
            self._by_to.setdefault(record.to, []).append(record)

    def get(self, sid: str) -> R | None:
        return self._by_sid.get(sid)

    def fetch_response(self, request: Request) -> Response:
        """``GET …/{Sid}.json``: the resource, or Twilio's 404 when it is not this account's."""
        record = self.get(request.params["Sid"])
        if record is None or record.account_sid != request.params["AccountSid"]:
            return twilio_error(404, 20404, f"The requested resource {request.path} was not found")
        return json_response(200, record.resource())

    def clear(self) -> None:
        with self._lock:
            self._records, self._by_sid, self._by_to = [], {}, {}

    def page(
        self,
        query: dict[str, list[str]],
        list_path: str,
        key: str,
        keep: Callable[[R], bool],
    ) -> dict[str, Any] | Response:
        args = page_args(query)
        if isinstance(args, Response):
            return args
        size, page, token = args
        to = first(query, "To")
        with self._lock:
            source = self._by_to.get(to, []) if to else self._records
            stop = len(source)
            if token and token.startswith("PA") and token[2:] in self._by_sid:
                stop = bisect.bisect_left(source, self._by_sid[token[2:]].seq, key=lambda r: r.seq)
            found: list[R] = []
            more = False
            for index in range(stop - 1, -1, -1):
                record = source[index]
                if keep(record):
                    if len(found) == size:
                        more = True
                        break
                    found.append(record)
        filters = [(k, v[0]) for k, v in query.items() if k not in ("Page", "PageSize", "PageToken") and v]
        base = list_path + "?" + urlencode([*filters, ("PageSize", str(size))])
        next_uri = f"{base}&Page={page + 1}&PageToken=PA{found[-1].sid}" if more else None
        start = page * size
        return {
            "end": start + len(found) - 1 if found else start,
            "first_page_uri": f"{base}&Page=0",
            "next_page_uri": next_uri,
            "page": page,
            "page_size": size,
            "previous_page_uri": None,
            "start": start,
            "uri": f"{base}&Page={page}" + (f"&PageToken={token}" if token else ""),
            key: [record.resource() for record in found],
        }
