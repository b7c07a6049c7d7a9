"""Status codes of libvbill and the exceptions they become.

Every failing C call raises a subclass of :class:`Error` carrying ``.status`` (the
``vbill_status`` code), ``.code`` (its name) and ``.message`` (the message of the handle the
call was made on: vbill_ctx_errmsg, vbill_template_errmsg, vbill_keys_errmsg,
vbill_store_errmsg or vbill_hooks_errmsg; it names the record, field or file and what is
wrong).  Misuse that the binding catches before calling C (a wrong type, a closed handle)
raises TypeError (ClosedError for a closed handle, which is also an ArgumentError).
"""
from __future__ import annotations

import enum
from typing import Dict, Optional, Type


class Status(enum.IntEnum):
    """The stable ``vbill_status`` codes of include/vbill.h."""

    OK = 0
    ERR_ARG = 1
    ERR_NOMEM = 2
    ERR_IO = 3
    ERR_JSON = 4
    ERR_RECORD = 5
    ERR_RULES = 6
    ERR_TEMPLATE = 7
    ERR_OVERFLOW = 8
    ERR_MEDIA = 9
    ERR_FONT = 10
    ERR_NOT_TARGET = 11
    ERR_LINK_MALFORMED = 12
    ERR_LINK_SIGNATURE = 13
    ERR_LINK_EXPIRED = 14
    ERR_LINK_KEY = 15
    ERR_AUTH_WRONG = 16
    ERR_AUTH_LOCKED = 17
    ERR_STORE = 18
    ERR_HOOK = 19
    ERR_NOT_FOUND = 20
    ERR_KEY = 21
    ERR_SESSION = 22
    ERR_UNSUPPORTED = 23
    ERR_BUSY = 24


class Error(Exception):
    """A libvbill failure: ``status`` (int), ``code`` (e.g. "VBILL_ERR_RECORD"), ``message``."""

    def __init__(self, status: Optional[int], message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        try:
            self.code = "VBILL_" + Status(status).name if status is not None else None
        except ValueError:
            self.code = "VBILL_STATUS_%d" % status

    def __str__(self) -> str:
        return self.message


# One class per status family; the builtin bases let callers catch them the usual way too.
class ArgumentError(Error, ValueError):
    """VBILL_ERR_ARG: a bad argument from the caller."""


class NoMemoryError(Error, MemoryError):
    """VBILL_ERR_NOMEM."""


class FileError(Error, OSError):
    """VBILL_ERR_IO: a file could not be read or written."""

    def __str__(self) -> str:
        return self.message


class JSONError(Error, ValueError):
    """VBILL_ERR_JSON: input is not well-formed JSON."""


class RecordError(Error, ValueError):
    """VBILL_ERR_RECORD: a subscriber record breaks a rule of the specification."""


class RulesError(Error, ValueError):
    """VBILL_ERR_RULES: a classification rule set is malformed."""


class TemplateError(Error, ValueError):
    """VBILL_ERR_TEMPLATE: a Mustache or video template is malformed."""


class AmountOverflowError(Error, OverflowError):
    """VBILL_ERR_OVERFLOW: an amount would overflow 64-bit arithmetic."""


class RenderError(Error):
    """Base of the video rendering failures (MediaError, FontError)."""


class MediaError(RenderError):
    """VBILL_ERR_MEDIA: a video could not be decoded, encoded or muxed."""


class FontError(RenderError):
    """VBILL_ERR_FONT: no usable font for a text."""


class NotTargetError(Error):
    """VBILL_ERR_NOT_TARGET: the bill has no scenario: no video bill this cycle."""


class LinkError(Error):
    """Base of the signed-link failures."""


class LinkMalformedError(LinkError):
    """VBILL_ERR_LINK_MALFORMED."""


class LinkSignatureError(LinkError):
    """VBILL_ERR_LINK_SIGNATURE."""


class LinkExpiredError(LinkError):
    """VBILL_ERR_LINK_EXPIRED."""


class LinkKeyError(LinkError):
    """VBILL_ERR_LINK_KEY: the token's key id is not among the verification keys."""


class AuthError(Error):
    """Base of the knowledge-check failures."""


class AuthWrongError(AuthError):
    """VBILL_ERR_AUTH_WRONG: the six digits did not match."""


class AuthLockedError(AuthError):
    """VBILL_ERR_AUTH_LOCKED: too many failed checks."""


class SessionError(AuthError):
    """VBILL_ERR_SESSION: a session token is invalid, replayed or for another link."""


class StoreError(Error):
    """VBILL_ERR_STORE: the state store failed."""


class HookError(Error):
    """VBILL_ERR_HOOK: an event could not be queued or delivered."""


class NotFoundError(Error, LookupError):
    """VBILL_ERR_NOT_FOUND."""


class KeyFileError(Error):
    """VBILL_ERR_KEY: a key or pepper file is missing, malformed, or not private (group or
    others may read it, another user owns it, or it is reached through a symlink: the message
    names the fix); or a key's pepper is kept apart and was not loaded (Keys.add_peppers)."""


class UnsupportedError(Error, NotImplementedError):
    """VBILL_ERR_UNSUPPORTED: the library was built without the part this call needs (see
    vbill.has), or the object cannot do it (a bill read from JSON cannot issue a link)."""


class BusyError(Error):
    """VBILL_ERR_BUSY: the handle is already in a call on this thread (a callback calling
    back into the handle that is calling it)."""


class ClosedError(ArgumentError, TypeError):
    """A call on (or with) a handle that was closed.  Raised by the binding before any C call;
    status VBILL_ERR_ARG.  Also a TypeError: a dead handle is the wrong thing to pass."""


class UnavailableError(UnsupportedError):
    """The loaded libvbill has no such function (an older library than this binding)."""


_CLASSES: Dict[int, Type[Error]] = {
    Status.ERR_ARG: ArgumentError,
    Status.ERR_NOMEM: NoMemoryError,
    Status.ERR_IO: FileError,
    Status.ERR_JSON: JSONError,
    Status.ERR_RECORD: RecordError,
    Status.ERR_RULES: RulesError,
    Status.ERR_TEMPLATE: TemplateError,
    Status.ERR_OVERFLOW: AmountOverflowError,
    Status.ERR_MEDIA: MediaError,
    Status.ERR_FONT: FontError,
    Status.ERR_NOT_TARGET: NotTargetError,
    Status.ERR_LINK_MALFORMED: LinkMalformedError,
    Status.ERR_LINK_SIGNATURE: LinkSignatureError,
    Status.ERR_LINK_EXPIRED: LinkExpiredError,
    Status.ERR_LINK_KEY: LinkKeyError,
    Status.ERR_AUTH_WRONG: AuthWrongError,
    Status.ERR_AUTH_LOCKED: AuthLockedError,
    Status.ERR_STORE: StoreError,
    Status.ERR_HOOK: HookError,
    Status.ERR_NOT_FOUND: NotFoundError,
    Status.ERR_KEY: KeyFileError,
    Status.ERR_SESSION: SessionError,
    Status.ERR_UNSUPPORTED: UnsupportedError,
    Status.ERR_BUSY: BusyError,
}


def error_for(status: int, message: str) -> Error:
    """The exception instance for a status code (unknown codes give a plain Error)."""
    return _CLASSES.get(status, Error)(status, message)
