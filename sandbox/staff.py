"""Simulated staff for drills and tests: they read the sandbox inbox and answer as people would.

Behaviours: ``line`` (press the LINE buttons some time after the message arrives), ``phone``
(ignore everything but the call, then key in the answers), ``email`` (open the link in the
e-mail or SMS and fill in the page) and ``never``. They use the same doors a real person's
actions reach: a signed LINE webhook event, a signed Twilio ``<Gather>`` post, the answer page.
"""

from __future__ import annotations

import logging
import random
import re
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

import requests

from sandbox.client import SandboxClient, SandboxError

log = logging.getLogger(__name__)
BEHAVIOURS = ("line", "phone", "email", "never")
LINK_RE = re.compile(r"https?://\S+?/relay/a/[A-Za-z0-9_.\-]+")
CHANNELS_OF = {"line": ("line",), "phone": ("voice",), "email": ("email", "sms"), "never": ()}


@dataclass
class SimStaff:
    name: str
    behaviour: str
    answers: dict[str, str]
    line_user_id: str | None = None
    phone: str | None = None
    email: str | None = None
    delay: timedelta = timedelta(0)  # from first seeing a message to answering it
    presses: list[str] = field(default_factory=list)  # phone keys, one entry per question asked

    def addresses(self) -> dict[str, str | None]:
        return {"line": self.line_user_id, "voice": self.phone, "sms": self.phone, "email": self.email}


def presses_for(snapshot: Mapping[str, Any], answers: Mapping[str, str]) -> list[str]:
    """The keys a person presses, question by question, to give ``answers`` on the phone."""
    keys = []
    for q in snapshot.get("questions", []):
        if q["key"] not in answers or q["kind"] not in ("choice", "number"):
            continue
        if any(answers.get(k) != v for k, v in q.get("ask_if", {}).items()):
            continue
        if q["kind"] == "choice":
            keys.append(next(c["digit"] for c in q["choices"] if c["value"] == answers[q["key"]]))
        else:
            keys.append(f"{answers[q['key']]}#")
    return keys


@dataclass
class _Pending:
    person: SimStaff
    item: dict[str, Any]
    due: datetime


class StaffSimulator:
    """Call :meth:`step` repeatedly (after each tick in tests, every second in a drill)."""

    def __init__(self, sandbox_url: str, people: Iterable[SimStaff],
                 now: Callable[[], datetime] | None = None,
                 inbox: Callable[[str], list[dict[str, Any]]] | None = None) -> None:
        """``inbox`` reads the sandbox in-process (a ``Sandbox.inbox``) instead of over HTTP: only
        faster to look at; every answer still goes through the provider emulators and the hub."""
        self.sandbox = SandboxClient(sandbox_url)
        self.read_inbox = inbox or self.sandbox.inbox
        self.people = list(people)
        self.now = now or (lambda: datetime.now(UTC))
        self._by_address: dict[tuple[str, str], SimStaff] = {}
        for person in self.people:
            for channel, address in person.addresses().items():
                if address and channel in CHANNELS_OF[person.behaviour]:
                    self._by_address[(channel, address)] = person
        self._seen: Counter[str] = Counter()
        self._pending: list[_Pending] = []
        self._engaged: set[str] = set()  # people who already answered once: follow-ups go at once
        self.http = requests.Session()
        self.http.trust_env = False  # the hub is local: never through an HTTP(S)_PROXY
        self.actions: Counter[str] = Counter()
        self.failures: list[str] = []  # answers a simulated person could not give, for the drill report

    def plan_counts(self) -> dict[str, int]:
        return dict(Counter(p.behaviour for p in self.people))

    def step(self) -> int:
        """Look at what arrived since the last step, then act on everything that is due."""
        now = self.now()
        for channel in ("line", "voice", "email", "sms"):
            items = self.read_inbox(channel)
            for item in items[self._seen[channel]:]:
                person = self._by_address.get((channel, str(item.get("to"))))
                # Ordinary broadcasts to the same people (a live alert, the quick-start example)
                # share the inbox: a simulated person answers only what a call-out asks.
                if person is not None and is_callout_contact(item):
                    wait = timedelta(0) if person.name in self._engaged else person.delay
                    self._pending.append(_Pending(person, item, now + wait))
            self._seen[channel] = len(items)
        due, self._pending = ([p for p in self._pending if p.due <= now],
                              [p for p in self._pending if p.due > now])
        done = 0
        for pending in due:
            try:
                done += self._act(pending.person, pending.item)
            except (requests.RequestException, OSError, SandboxError) as exc:
                log.warning("simulated %s could not answer: %s", pending.person.name, exc)
                self.failures.append(f"{pending.person.name} ({pending.item.get('channel')}): {exc}")
        return done

    def _act(self, person: SimStaff, item: dict[str, Any]) -> int:
        channel = item["channel"]
        if channel == "line":
            return self._press_line_button(person, item)
        if channel == "voice":
            return self._key_in(person, item)
        return self._fill_in_page(person, item)

    def _press_line_button(self, person: SimStaff, item: dict[str, Any]) -> int:
        for data in postback_choices(item):
            _tag, _callout, key, value = data.split("|", 3)
            if person.answers.get(key) == value:
                self.sandbox.emit_line_event({"type": "postback", "postback": {"data": data},
                                              "source": {"type": "user", "userId": person.line_user_id}})
                self._engaged.add(person.name)
                self.actions["line"] += 1
                return 1
        return 0

    def _key_in(self, person: SimStaff, item: dict[str, Any]) -> int:
        sid = str(item.get("meta", {}).get("sid") or item.get("provider_id"))
        pressed = 0
        for keys in person.presses:
            reply = self.sandbox.press_digits(sid, keys)
            if int(reply.get("status", 0)) != 200:
                break
            pressed += 1
        if pressed:
            self._engaged.add(person.name)
            self.actions["phone"] += 1
        return 1 if pressed else 0

    def _fill_in_page(self, person: SimStaff, item: dict[str, Any]) -> int:
        match = LINK_RE.search(str(item.get("text") or ""))
        if match is None:
            return 0
        url = match.group(0)
        if self.http.get(url, timeout=10).status_code != 200:
            return 0
        form = {f"q_{key}": value for key, value in person.answers.items()}
        response = self.http.post(url, data=form, timeout=10)
        if response.status_code != 200:
            log.warning("answer page refused %s: %s", person.name, response.status_code)
            return 0
        self._engaged.add(person.name)
        self.actions["email"] += 1
        return 1


def is_callout_contact(item: Mapping[str, Any]) -> bool:
    """A call with a <Gather>, a LINE message with answer buttons, or a text with an answer link."""
    channel = item.get("channel")
    if channel == "voice":
        return bool(item.get("meta", {}).get("gather"))
    if channel == "line":
        return bool(postback_choices(item))
    return LINK_RE.search(str(item.get("text") or "")) is not None


def postback_choices(item: Mapping[str, Any]) -> list[str]:
    """Postback data of every button and quick-reply item in a LINE inbox item."""
    found = []
    for message in item.get("meta", {}).get("messages", []):
        actions = list((message.get("template") or {}).get("actions") or [])
        actions += [i.get("action") or {} for i in (message.get("quickReply") or {}).get("items") or []]
        found += [str(a["data"]) for a in actions if a.get("type") == "postback" and "data" in a]
    return [d for d in found if d.startswith("relay|")]


def plan_answers(rng: random.Random, snapshot: Mapping[str, Any], with_text: bool) -> dict[str, str]:
    """Plausible answers: mostly unhurt, most can come, ETAs from the LINE quick-reply presets."""
    answers: dict[str, str] = {}
    for q in snapshot.get("questions", []):
        if any(answers.get(k) != v for k, v in q.get("ask_if", {}).items()):
            continue
        if q["kind"] == "choice":
            weights = [8, 2, 1, 1][: len(q["choices"])]
            answers[q["key"]] = rng.choices([c["value"] for c in q["choices"]], weights=weights)[0]
        elif q["kind"] == "number":
            presets = q.get("options", {}).get("presets") or [30]
            answers[q["key"]] = str(rng.choice(presets))
        elif with_text:
            answers[q["key"]] = rng.choice(["自宅にいます", "家族は無事です", "道路が渋滞しています"])
    return answers


class Person(Protocol):
    """Whoever a call-out contacts: the hub passes its contacts; anything with these attributes works."""

    id: int
    name: str
    line_user_id: str | None
    phone: str | None
    email: str | None


def plan_staff(people: Iterable[Person], survey_snapshot: Mapping[str, Any], seed: int = 1,
               mix: Mapping[str, int] | None = None) -> list[SimStaff]:
    """Give every person contacted a behaviour and answers to ``survey_snapshot`` (deterministic
    for a seed and a person's ``id``)."""
    weights = dict(mix or {"line": 50, "phone": 20, "email": 15, "never": 15})
    staff = []
    for person in people:
        rng = random.Random(f"{seed}:{person.id}")
        behaviour = rng.choices(list(weights), weights=list(weights.values()))[0]
        answers = plan_answers(rng, survey_snapshot, with_text=behaviour == "email")
        staff.append(SimStaff(
            name=person.name, behaviour=behaviour, answers=answers, line_user_id=person.line_user_id,
            phone=person.phone, email=person.email, delay=timedelta(seconds=rng.randint(5, 90)),
            presses=presses_for(survey_snapshot, answers)))
    return staff
