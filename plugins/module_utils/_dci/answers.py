# -*- coding: utf-8 -*-
# Copyright (c) ispsystem.dcimanager contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Private to the ispsystem.dcimanager collection: how the DCImanager client reads the panel's answers.

A hardened XML parse of the ``<doc>`` (the panel's error document raised as its DCIError), list rows
and forms as dicts, a form's select lists, the session of a login. What a row *means* (a free
server, an owner cell ...) is ``panel``'s job. Not a public API: it may change in any release without notice.
"""

from __future__ import annotations

from .errors import DCIError, DCIRetryableError

LXML_IMPORT_ERROR = None
try:
    from lxml import etree

    HAS_LXML = True
except ImportError as exc:  # pragma: no cover - exercised by the sanity import test
    HAS_LXML = False
    LXML_IMPORT_ERROR = exc

# Flags are elements that are present when true and absent when false [H]. A flag element whose text
# says "no" (``<blocked>off</blocked>``) is read as false: no panel is known to send one, but a
# form-style checkbox in a list must not read as set.
FALSE_WORDS = ("off", "no", "false", "0")
SERVER_FLAGS = (
    "blocked",
    "hwproblem",
    "diag_in_progress",
    "disabled",
    "poweron",
    "poweroff",
    "powererror",
    "install_in_progress",
    "operation_failed",
)
CONNECTION_FLAGS = ("func_in_progress",)


def _hardened_parser():
    # The panel never sends a DTD. Refuse entity expansion, network access and huge trees so a
    # hostile or broken endpoint cannot make the controller read files or exhaust memory.
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_comments=True,
        remove_pis=True,
    )


def parse_document(body, func=None, status=200):
    """Parse a panel answer into the ``<doc>`` element, or raise DCIError (the panel's own error when it is one).

    ``status`` is the HTTP status the answer came with; an error document is the panel's refusal
    whatever the status (the message names a status other than 200).
    """
    stripped = body.lstrip()[:512].lower()
    if stripped.startswith(b"<!doctype html") or stripped.startswith(b"<html"):
        raise DCIError(
            "DCImanager answered %s with a web page instead of API XML; check that api_url points to the "
            "API endpoint (https://HOST:1500/dcimgr)" % (func or "the request"),
            call=func,
        )
    if b"<!doctype" in stripped or b"<!entity" in stripped:
        raise DCIError("DCImanager's answer to %s carries a DTD, which the API never sends; refused" % func, call=func)
    if stripped and stripped[:1] not in (b"<", b"\xef", b"\xfe", b"\xff"):
        # An answer cut off on its way still begins as XML does ('<', or a byte order mark); one that does not (JSON,
        # plain text) is no broken answer but another service's: asking again would only get it again.
        raise DCIError(
            "DCImanager's answer to %s is not XML at all; check that api_url points to the API endpoint "
            "(https://HOST:1500/dcimgr), not another service" % (func or "the request"),
            call=func,
        )
    try:
        root = etree.fromstring(body, parser=_hardened_parser())
    except etree.XMLSyntaxError as exc:
        raise DCIRetryableError("DCImanager's answer to %s is not valid XML (%s)" % (func, exc), call=func) from None
    # The quick look above only sees the first bytes; a DTD later on (after a long comment, or in a
    # UTF-16 document) shows in the parsed tree and is refused just the same.
    if root.getroottree().docinfo.internalDTD is not None:
        raise DCIError("DCImanager's answer to %s carries a DTD, which the API never sends; refused" % func, call=func)
    if root.tag != "doc":
        raise DCIError("DCImanager's answer to %s has root <%s>, expected <doc>" % (func, root.tag), call=func)
    error = root.find("error")
    if error is not None:
        panel_msg = (error.findtext("msg") or "").strip()
        error_type = error.get("type", "")
        error_object = error.get("object", "")
        raise DCIError(
            "DCImanager refused %s%s: %s (type %s, object %s)"
            % (func, "" if status == 200 else " with HTTP %d" % status, panel_msg or "no message", error_type, error_object),
            error_type=error_type,
            error_object=error_object,
            panel_msg=panel_msg,
            call=func,
            status=None if status == 200 else status,
        )
    return root


def element_to_dict(element, flags=()):
    """Turn a list row or a form into a dict of str, with the named flags as booleans."""
    result = {}
    for child in element:
        if not isinstance(child.tag, str) or child.tag in ("slist", "elem"):
            continue
        result[child.tag] = (child.text or "").strip()
    for flag in flags:
        result[flag] = flag in result and result[flag].lower() not in FALSE_WORDS
    return result


def rows_of(root, flags=()):
    """The rows (``<elem>``) of a list answer, each a dict with ``flags`` as booleans."""
    return [element_to_dict(elem, flags) for elem in root.iter("elem")]


class Form(dict):
    """The values of an ``*.edit`` form; ``selects`` maps each select list to its options (value -> text)."""

    def __init__(self, values, selects):
        super().__init__(values)
        self.selects = selects


def form_of(root):
    """A form answer as a Form: its values, and each ``<slist>``'s options by their ``key`` [A4]."""
    selects = {}
    for slist in root.findall("slist"):
        options = selects.setdefault(slist.get("name", ""), {})
        for val in slist.findall("val"):
            text = (val.text or "").strip()
            options[(val.get("key") or text).strip()] = text
    return Form(element_to_dict(root), selects)


def session_of(root):
    """The session id in an ``auth`` answer (``<auth id="S">S</auth>``, either form), or ""."""
    auth = root.find("auth")
    return (auth.get("id") or auth.text or "").strip() if auth is not None else ""


def whole_number(text):
    """A whole number from a paging element, or None."""
    text = (text or "").strip()
    return int(text) if text.isdigit() else None
