"""Parse untrusted XML from the network without entity expansion, DTDs or network access."""

from __future__ import annotations

from typing import Any

from lxml import etree

from .errors import TelegramError

DEFAULT_MAX_BYTES = 2_000_000

# Telegrams never carry a DTD. Refusing the markers before parsing makes hostile input fail in
# microseconds; the docinfo check after parsing also covers encodings (UTF-16) that hide them.
_FORBIDDEN_MARKERS = (b"<!DOCTYPE", b"<!ENTITY")
_MAX_REASON = 200


def _parser() -> etree.XMLParser:
    # A fresh parser per call: lxml parsers are not safe to share between threads.
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        huge_tree=False,
        load_dtd=False,
        dtd_validation=False,
        remove_pis=True,
        collect_ids=False,
    )


def _reason(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text[:_MAX_REASON] or type(exc).__name__


def parse_xml(raw: bytes, *, max_bytes: int = DEFAULT_MAX_BYTES) -> Any:
    """Return the root element of ``raw`` or raise :class:`TelegramError`.

    The return type is lxml's ``_Element`` (typed as ``Any`` because lxml ships no stubs here).
    """
    if not isinstance(raw, bytes | bytearray | memoryview):
        raise TelegramError(f"入力がバイト列ではありません (expected bytes, got {type(raw).__name__})")
    data = bytes(raw)
    if len(data) > max_bytes:
        raise TelegramError(f"電文が大きすぎます (too large: {len(data)} bytes > {max_bytes})")
    if not data.strip():
        raise TelegramError("電文が空です (empty document)")
    if any(marker in data for marker in _FORBIDDEN_MARKERS):
        raise TelegramError(
            "DTD・エンティティ宣言を含む XML は受け付けません (DTD/entity declarations refused)"
        )
    try:
        root = etree.fromstring(data, _parser())
    except etree.XMLSyntaxError as exc:
        raise TelegramError(f"XML として解析できません (malformed XML: {_reason(exc)})") from None
    except (etree.LxmlError, ValueError) as exc:
        raise TelegramError(f"XML を読めません (unreadable XML: {_reason(exc)})") from None
    if root is None:
        raise TelegramError("XML に要素がありません (no root element)")
    docinfo = root.getroottree().docinfo
    if docinfo.doctype or docinfo.internalDTD is not None or docinfo.externalDTD is not None:
        raise TelegramError("DTD を含む XML は受け付けません (DTD refused)")
    return root
