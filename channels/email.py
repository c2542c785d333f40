"""E-mail over SMTP: one connection per batch, one message per recipient.

Each message is multipart/alternative (plain text + HTML) in UTF-8. The Message-ID is derived
from the delivery row, so if an ambiguous send is ever repeated the copies are recognisable as
the same message (mail clients thread or collapse them).
"""

from __future__ import annotations

import contextlib
import email.policy
import html
import re
import smtplib
import ssl
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import formatdate
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from channels.base import (
    RETURN_PATH,
    Batch,
    Capability,
    Channel,
    ChannelConfig,
    DeliveryResult,
    Draft,
    Outcome,
    Poll,
    Recipient,
    Rendered,
    Requesting,
    SendEvent,
    prefix_for,
)
from channels.dkim import DkimKeyError, DkimSigner, load_signer
from channels.errors import PermanentError, TransientError, Unreachable
from channels.locale import bcp47, more_label
from channels.text import join_nonempty, with_prefix

if TYPE_CHECKING:
    from hub.config import Settings

SANDBOX_SENDER = "bousai@sandbox.bousai-hub.invalid"
MAX_CHARS = 20_000  # nothing technical: past this an alert is no longer read

# Japanese carriers issued addresses that break RFC 5322 (「..」 or 「.」 before @, e.g. old
# docomo/au addresses) and they still receive mail, so the local part only has to be printable
# ASCII without spaces or brackets.
_LOCAL = r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]{1,64}"
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
EMAIL_RE = re.compile(rf"^{_LOCAL}@{_LABEL}(?:\.{_LABEL})+$")
# Internationalised addresses (RFC 6531: 日本語@例え.jp): any printable characters but spaces,
# brackets and separators. They can only be sent to a server that offers SMTPUTF8.
_INTL_CHAR = r'[^\s@<>()\[\],;:"\\]'
_INTL_LABEL = r'[^\s@<>()\[\],;:"\\.]+'
INTL_EMAIL_RE = re.compile(rf"^{_INTL_CHAR}{{1,64}}@(?:{_INTL_LABEL}\.)+{_INTL_LABEL}$")


@dataclass(frozen=True)
class EmailConfig(ChannelConfig):
    host: str = "127.0.0.1"
    port: int = 25
    username: str = ""
    password: str = field(default="", metadata={"secret": True})
    starttls: bool = False
    implicit_tls: bool = False  # SMTPS (port 465): TLS from the first byte
    ca_file: str = ""  # trust this CA bundle (a private CA) instead of the system's
    default_sender: str = ""
    message_id_domain: str = ""  # empty: the sender's domain
    dkim_domain: str = ""  # all three set: every message is DKIM-signed (channels/dkim.py)
    dkim_selector: str = ""
    dkim_key_file: str = ""

    @classmethod
    def from_settings(cls, settings: Settings) -> EmailConfig:
        """From settings only: the ``smtp_*`` server (the sandbox's SMTP in development)."""
        not_live = settings.uses_sandbox("email")
        return cls(
            sandbox=not_live,
            host=settings.smtp_host,
            port=settings.smtp_port,
            username=settings.smtp_username,
            password=settings.smtp_password,
            starttls=settings.smtp_starttls,
            implicit_tls=settings.smtp_ssl,
            ca_file=settings.smtp_ca_file,
            default_sender=SANDBOX_SENDER if not_live else "",
            dkim_domain=settings.smtp_dkim_domain,
            dkim_selector=settings.smtp_dkim_selector,
            dkim_key_file=settings.smtp_dkim_key_file,
        )

    def signer(self) -> DkimSigner | None:
        if not (self.dkim_domain and self.dkim_selector and self.dkim_key_file):
            return None
        return load_signer(self.dkim_key_file, self.dkim_domain, self.dkim_selector)


def valid_email(address: str) -> bool:
    if needs_smtputf8(address):
        return len(address.encode("utf-8")) <= 254 and INTL_EMAIL_RE.match(address) is not None
    return len(address) <= 254 and EMAIL_RE.match(address) is not None


def needs_smtputf8(*addresses: str) -> bool:
    return not all(a.isascii() for a in addresses)


def html_body(title: str, body: str, link: str | None, sender_name: str | None, language: str = "ja") -> str:
    paragraphs = "".join(
        f"<p>{'<br>'.join(html.escape(line) for line in block.splitlines())}</p>\n"
        for block in re.split(r"\n\s*\n", body.strip())
        if block.strip()
    )
    link_html = ""
    if link and urlsplit(link).scheme in ("http", "https"):
        href = html.escape(link, quote=True)
        link_html = f'<p>{html.escape(more_label(language))} <a href="{href}">{html.escape(link)}</a></p>\n'
    footer = f"<p>{html.escape(sender_name)}</p>\n" if sender_name else ""
    return (
        f'<!DOCTYPE html>\n<html lang="{html.escape(bcp47(language), quote=True)}">\n<head><meta charset="utf-8">'
        f"<title>{html.escape(title)}</title></head>\n<body>\n"
        f'<h1 style="font-size:1.2em">{html.escape(title)}</h1>\n{paragraphs}{link_html}{footer}'
        "</body>\n</html>\n"
    )


class _LinkHeaderPolicy(email.policy.EmailPolicy):
    """SMTP's policy, except that a link header stays one line, as it was written.

    The default folding turns a URL longer than a line into RFC 2047 encoded words, which no mail
    client reads as a link: the one-click button would silently disappear.
    """

    def fold_binary(self, name: str, value: str) -> bytes:
        text = str(value)
        if name.lower() in UNFOLDED_HEADERS and text.isascii() and len(name) + len(text) < 990:
            return f"{name}: {text}{self.linesep}".encode("ascii")
        return super().fold_binary(name, value)


# The Message-ID too: it is the provider id the hub records, read back from the bytes sent.
UNFOLDED_HEADERS = frozenset({"list-unsubscribe", "list-unsubscribe-post", "message-id"})
SMTP_POLICY = _LinkHeaderPolicy(linesep="\r\n")  # = email.policy.SMTP
SMTPUTF8_POLICY = SMTP_POLICY.clone(utf8=True)  # = email.policy.SMTPUTF8

FOOTER_LABELS = {"ja": ("配信設定の変更", "配信停止"), "ja-easy": ("おしらせの せってい", "おしらせを とめる"),
                 "en": ("Change your preferences", "Unsubscribe")}


def with_footer(text: str, html_text: str | None, preferences: str | None, stop: str,
                language: str) -> tuple[str, str | None]:
    """The text and HTML bodies with the recipient's preferences and stop links at the end."""
    labels = FOOTER_LABELS.get(language) or (FOOTER_LABELS["ja"] if language.startswith("ja") else FOOTER_LABELS["en"])
    pairs = [(label, url) for label, url in zip(labels, (preferences, stop), strict=True) if url]
    text = text.rstrip("\n") + "\n\n--\n" + "".join(f"{label}: {url}\n" for label, url in pairs)
    if html_text:
        lines = "<br>".join(f'{html.escape(label)}: <a href="{html.escape(url, quote=True)}">{html.escape(url)}</a>'
                            for label, url in pairs)
        footer = f'<hr><p style="font-size:.85em;color:#555">{lines}</p>\n'
        head, found, tail = html_text.rpartition("</body>")
        html_text = head + footer + found + tail if found else html_text + footer
    return text, html_text


# A survey's heading, its answer link's line and the link's words; other languages get English.
SURVEY_LABELS = {"ja": ("【アンケート】", "回答はこちら:", "アンケートに回答する"),
                 "en": ("[Survey] ", "Answer here:", "Answer the survey")}


def survey_labels(language: str) -> tuple[str, str, str]:
    return SURVEY_LABELS["ja" if language.startswith("ja") else "en"]


def poll_text(poll: Poll, language: str = "ja") -> str:
    heading = survey_labels(language)[0]
    return "\n".join([f"{heading}{poll.text}", *(f"{key}: {label}" for key, label in poll.choices)])


def with_answer_link(text: str, html_text: str | None, url: str, language: str = "ja") -> tuple[str, str | None]:
    """The text and HTML with the recipient's own answer link (a survey's) at the end."""
    _heading, line, words = survey_labels(language)
    text = text.rstrip("\n") + f"\n\n{line} {url}\n"
    if html_text and urlsplit(url).scheme in ("http", "https"):
        href = html.escape(url, quote=True)
        html_text = html_text.replace(
            "</body>", f'<p><a href="{href}">{html.escape(words)}</a></p>\n</body>', 1)
    return text, html_text


class EmailChannel(Channel):
    name = "email"
    label = "メール"
    capabilities = Capability.PERSONAL
    config_class = EmailConfig
    batch_size = 100
    max_chars = MAX_CHARS
    address_field = "email"
    personal_links = True
    bounces_to_return_path = True
    sender_field = "email_sender"
    config: EmailConfig

    def render(self, draft: Draft) -> Rendered:
        prefix = prefix_for(draft)
        subject = with_prefix(prefix, draft.title)
        body = draft.override or draft.body
        if draft.poll is not None:
            # The answer link is each recipient's own: added when the message is built (build()).
            body = join_nonempty(body, poll_text(draft.poll, draft.language), sep="\n\n")
        link_line = f"{more_label(draft.language)} {draft.link}" if draft.link else None
        text = join_nonempty(subject, body, link_line, draft.sender_name, sep="\n\n") + "\n"
        errors = []
        if len(text) > MAX_CHARS:
            errors.append(f"メールは{MAX_CHARS}文字までです（現在{len(text)}文字）")
        if "\n" in draft.title or "\r" in draft.title:
            errors.append("件名に改行は使えません")
        return Rendered(
            subject=subject,
            text=text,
            html=html_body(subject, body, draft.link, draft.sender_name, draft.language),
            errors=tuple(errors),
            units=1,
            meta={"from_name": draft.sender_name} if draft.sender_name else {},
        )

    def check_address(self, address: str) -> str | None:
        return None if valid_email(address) else "invalid_address"

    def sender_used(self, batch: Batch) -> str | None:
        return batch.sender or self.config.default_sender or None

    def message_id(self, batch: Batch, recipient: Recipient, sender: str) -> str:
        domain = self.config.message_id_domain or sender.rpartition("@")[2] or "bousai-hub.invalid"
        return f"<bousai-hub.m{batch.message_id}.d{recipient.delivery_id}@{domain}>"

    def build(self, batch: Batch, recipient: Recipient, sender: str) -> EmailMessage:
        content = batch.content_for(recipient)
        msg = EmailMessage()
        # "sender_name" is what dispatch sets from the department's settings.
        from_name = content.meta.get("from_name") or content.meta.get("sender_name")
        local, _, domain = sender.partition("@")
        msg["From"] = Address(display_name=from_name or "", username=local, domain=domain)
        msg["To"] = recipient.address
        msg["Subject"] = content.subject or content.text.splitlines()[0]
        msg["Date"] = formatdate(localtime=True)
        msg["Message-ID"] = self.message_id(batch, recipient, sender)
        # RFC 3834: out-of-office robots must not answer an alert sent to thousands.
        msg["Auto-Submitted"] = "auto-generated"
        text, html_text = content.text, content.html
        links = batch.links_for(recipient)
        answer = links.get("answer")
        if answer:  # before the footer: the footer stays last
            text, html_text = with_answer_link(text, html_text, answer, batch.language_for(recipient))
        stop = links.get("unsubscribe")
        if stop:
            # RFC 2369 + RFC 8058: mail clients show an unsubscribe button that POSTs
            # "List-Unsubscribe=One-Click" to this URL, with no login and no cookies.
            msg["List-Unsubscribe"] = f"<{stop}>"
            msg["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
            text, html_text = with_footer(text, html_text, links.get("preferences"), stop, recipient.language)
        # base64 keeps Japanese text intact through relays that lack 8BITMIME.
        msg.set_content(text, charset="utf-8", cte="base64")
        if html_text:
            msg.add_alternative(html_text, subtype="html", charset="utf-8", cte="base64")
        # RFC 3282: which text this reader got (after set_content, which drops Content-* headers).
        msg["Content-Language"] = bcp47(batch.language_for(recipient))
        return msg

    def _connect(self) -> smtplib.SMTP:
        from channels.clients import smtp_connection

        if not self.config.host:
            raise PermanentError("メールサーバーが設定されていません（HUB_SMTP_HOST）")
        try:
            return smtp_connection(
                self.config.host,
                self.config.port,
                username=self.config.username or None,
                password=self.config.password or None,
                starttls=self.config.starttls,
                implicit_tls=self.config.implicit_tls,
                ca_file=self.config.ca_file or None,
                timeout=self.context.timeout,
            )
        except smtplib.SMTPAuthenticationError as exc:
            raise PermanentError(
                f"メールサーバーの認証に失敗しました（{exc.smtp_code}）。ユーザー名とパスワードを確認してください",
                code=str(exc.smtp_code),
            ) from exc
        except ssl.SSLCertVerificationError as exc:
            # Never sent in the clear or to an impostor: nothing left, so it is retried once fixed.
            raise Unreachable(
                f"メールサーバー {self.config.host}:{self.config.port} の証明書を検証できませんでした（未送信）。"
                f"社内CAの場合は HUB_SMTP_CA_FILE を設定してください: {exc.verify_message}"
            ) from exc
        except (smtplib.SMTPException, OSError) as exc:
            raise Unreachable(
                f"メールサーバー {self.config.host}:{self.config.port} に接続できませんでした（未送信）: {exc!r}"
            ) from exc

    def _send(self, batch: Batch) -> Iterable[SendEvent]:
        sender = batch.sender or self.config.default_sender
        if not sender or not valid_email(sender):
            raise PermanentError("メールの送信元アドレスが設定されていないか、形式が正しくありません")
        try:
            signer = self.config.signer()
        except DkimKeyError as exc:
            # The start checked the key (Settings.check_dkim): it has gone since. Unsigned mail
            # would be filed as spam or refused where the domain publishes DMARC, so it waits.
            raise Unreachable(f"{exc}（未送信。鍵ファイルを戻してワーカーを再起動してください）") from exc
        conn: smtplib.SMTP | None = None
        try:
            for recipient in batch.recipients:
                utf8 = needs_smtputf8(sender, recipient.address)
                built = self.build(batch, recipient, sender)
                # SMTP wants CRLF line ends; smtplib only fixes them for str, not bytes. Headers
                # carry a non-ASCII address as UTF-8, which SMTPUTF8 allows.
                message = built.as_bytes(policy=SMTPUTF8_POLICY if utf8 else SMTP_POLICY)
                if signer is not None:
                    message = signer.sign(message)
                if conn is None:
                    conn = self._connect()
                if utf8 and not conn.has_extn("smtputf8"):
                    yield DeliveryResult(recipient.delivery_id, Outcome.FAILED, error_code="smtputf8",
                                         error="メールサーバーが日本語などを含むアドレス（SMTPUTF8）に対応していないため"
                                               "送れません（未送信）")
                    continue
                self.context.throttle(batch.sender, 1)
                yield Requesting((recipient.delivery_id,))
                # The return path (MAIL FROM) names this row, so a later bounce finds it (hub/bounces).
                envelope_from = batch.links_for(recipient).get(RETURN_PATH) or sender
                result, usable = self._transaction(conn, envelope_from, recipient, message,
                                                   ["SMTPUTF8"] if utf8 else [])
                yield result
                if not usable:
                    _close(conn)
                    conn = None
        finally:
            if conn is not None:
                _quit(conn)

    def _transaction(
        self, conn: smtplib.SMTP, sender: str, recipient: Recipient, message: bytes,
        mail_options: Sequence[str] = (),
    ) -> tuple[DeliveryResult, bool]:
        """One SMTP transaction; also says whether the connection can carry the next one."""
        did = recipient.delivery_id
        try:
            conn.ehlo_or_helo_if_needed()
            code, reply = conn.mail(sender, mail_options) if mail_options else conn.mail(sender)
            if code != 250:
                conn.rset()
                return _refused(did, code, reply, "送信元"), True
            code, reply = conn.rcpt(recipient.address)
            if code not in (250, 251):
                conn.rset()
                return _refused(did, code, reply, "宛先"), True
        except (smtplib.SMTPException, OSError) as exc:
            # Nothing was handed over before DATA: every recipient not yet answered is retried.
            raise TransientError(f"メールサーバーとの接続が本文の送信前に切れました（未送信）: {exc!r}") from exc
        try:
            # data() raises for a refused DATA command but only returns the verdict on the text.
            code, reply = conn.data(message)
        except smtplib.SMTPDataError as exc:
            _reset(conn)
            return _refused(did, exc.smtp_code, exc.smtp_error, "本文"), True
        except (smtplib.SMTPException, OSError) as exc:
            # The message went out but the server's verdict did not come back.
            return DeliveryResult(
                did,
                Outcome.UNKNOWN,
                error_code="timeout",
                error=f"メール本文の送信後に応答がありませんでした（届いている可能性があります）: {exc!r}",
            ), False
        if code != 250:
            _reset(conn)
            return _refused(did, code, reply, "本文"), True
        return DeliveryResult(did, Outcome.SENT, provider_id=self.message_id_of(message)), True

    @staticmethod
    def message_id_of(message: bytes) -> str | None:
        match = re.search(rb"^Message-ID:\s*(<[^>]+>)", message, re.MULTILINE | re.IGNORECASE)
        return match.group(1).decode("ascii") if match else None


def _text(reply: bytes | str) -> str:
    return reply.decode("utf-8", "replace") if isinstance(reply, bytes) else reply


def _refused(delivery_id: int, code: int, reply: bytes | str, stage: str) -> DeliveryResult:
    detail = f"（SMTP {code} {_text(reply)}）"
    if 400 <= code < 500:
        return DeliveryResult(
            delivery_id,
            Outcome.RETRY,
            error_code=str(code),
            error=f"メールサーバーが一時的に{stage}を受け付けませんでした{detail}",
        )
    if stage == "宛先" and code in (550, 551, 553):
        return DeliveryResult(
            delivery_id,
            Outcome.FAILED,
            reason="mailbox_unavailable",
            error_code=str(code),
            error=f"宛先のメールボックスがありません{detail}",
        )
    return DeliveryResult(
        delivery_id,
        Outcome.FAILED,
        error_code=str(code),
        error=f"メールサーバーが{stage}を拒否しました{detail}",
    )


def _reset(conn: smtplib.SMTP) -> None:
    with contextlib.suppress(smtplib.SMTPException, OSError):
        conn.rset()


def _close(conn: smtplib.SMTP) -> None:
    with contextlib.suppress(OSError):
        conn.close()


def _quit(conn: smtplib.SMTP) -> None:
    try:
        conn.quit()
    except (smtplib.SMTPException, OSError):
        _close(conn)
