"""Strict validation and normalisation of e-mail addresses (no header injection)."""

from __future__ import annotations

import re
from email import errors as email_errors
from email.headerregistry import Address, HeaderRegistry

from .errors import InvalidAddress

CONTROL_CHARS = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")  # every C0 control but TAB, plus DEL
_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_LOCAL_PART = re.compile(rf"{_ATOM}(?:\.{_ATOM})*")
_LABEL = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?")
_HEADERS = HeaderRegistry()
_QUOTED = re.compile(r'"(?:[^"\\]|\\.)*"')
_ANGLE = re.compile(r"<([^<>]*)>")


def reject_controls(text: str, what: str) -> None:
    """Raise ``InvalidAddress`` if ``text`` holds a line break or another control character."""
    if "\r" in text or "\n" in text:
        raise InvalidAddress(f"{what} must not contain line breaks: {text!r}")
    if CONTROL_CHARS.search(text):
        raise InvalidAddress(f"{what} must not contain control characters: {text!r}")


def _check_domain(domain: str, text: str) -> str:
    try:
        ascii_domain = domain.encode("idna").decode("ascii") if not domain.isascii() else domain
    except UnicodeError:
        raise InvalidAddress(f"invalid domain {domain!r} in address {text!r}") from None
    ascii_domain = ascii_domain.lower()
    labels = ascii_domain.split(".")
    if len(labels) < 2:
        raise InvalidAddress(
            f"address {text!r} needs a fully qualified domain (like example.com), got {domain!r}"
        )
    if len(ascii_domain) > 253 or not all(_LABEL.fullmatch(label) for label in labels):
        raise InvalidAddress(f"invalid domain {domain!r} in address {text!r}")
    if labels[-1].isdigit():
        raise InvalidAddress(f"invalid domain {domain!r} in address {text!r}")
    return ascii_domain


def parse_address(text: str, what: str = "address") -> Address:
    """Parse exactly one address strictly (dot-atom local part, FQDN); ``what`` names it."""
    if not isinstance(text, str):
        raise InvalidAddress(f"{what} must be a string, got {type(text).__name__}")
    reject_controls(text, what)
    stripped = text.strip()
    if not stripped:
        raise InvalidAddress(f"{what} is empty")
    unquoted = _QUOTED.sub('""', stripped)
    if "," in unquoted or ";" in unquoted:
        raise InvalidAddress(f"{what} {text!r} must be exactly one e-mail address")
    bracketed = _ANGLE.search(unquoted)
    spec = bracketed.group(1) if bracketed else unquoted
    if "@" not in spec or spec.strip().endswith("@"):
        raise InvalidAddress(f"{what} {text!r} has no domain (expected user@example.com)")
    if spec.strip().startswith("@"):
        raise InvalidAddress(f"{what} {text!r} has no local part (the part before @)")
    try:
        header = _HEADERS("to", stripped)
        groups = header.groups
    except (email_errors.HeaderParseError, IndexError, ValueError):
        raise InvalidAddress(f"{what} {text!r} is not a valid e-mail address") from None
    if header.defects or len(groups) != 1 or groups[0].display_name is not None:
        raise InvalidAddress(f"{what} {text!r} must be exactly one e-mail address")
    (parsed,) = groups[0].addresses
    local, domain = parsed.username, parsed.domain
    if not local:
        raise InvalidAddress(f"{what} {text!r} has no local part (the part before @)")
    if not domain:
        raise InvalidAddress(f"{what} {text!r} has no domain (like user@example.com)")
    # The header parser is lenient (quoted strings, obsolete syntax); accept only a dot-atom.
    if not _LOCAL_PART.fullmatch(local) or len(local) > 64:
        raise InvalidAddress(f"{what} {text!r} has an invalid local part {local!r}")
    ascii_domain = _check_domain(domain, text)
    if len(local) + 1 + len(ascii_domain) > 254:
        raise InvalidAddress(f"{what} {text!r} is too long")
    if unquoted.count("<") > 1 or unquoted.count(">") > 1:
        raise InvalidAddress(f"{what} {text!r} must be exactly one e-mail address")
    name = parsed.display_name or ""
    return Address(display_name=name, username=local, domain=ascii_domain)


def validate_address(text: str) -> str:
    """Validate one address (``user@example.com`` or ``Name <user@example.com>``) strictly.

    Returns the normalised form (domain lower-cased and IDNA-encoded, display name quoted as
    needed); raises ``InvalidAddress`` (a ``ValueError``) with a human message otherwise, so
    config validation of ``SMTP_FROM`` can use it directly.
    """
    return str(parse_address(text))


def addr_spec(text: str, what: str = "address") -> str:
    """The bare ``user@domain`` of one strictly validated address."""
    return parse_address(text, what).addr_spec
