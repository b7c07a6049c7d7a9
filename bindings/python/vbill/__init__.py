"""vbill: Python binding of libvbill (API 0.2), personalised video bills for carriers.

A thin ctypes layer over the C library (include/vbill.h): every call is one C call, results
are the library's JSON decoded into dicts (or, with the *_json variants, the library's JSON
text unchanged).

    import vbill
    with vbill.Context() as ctx:
        print(ctx.fill(record)["amounts"]["this_month"])    # record: a dict or JSON text
        with ctx.bill(record) as bill:                      # validated, classified, filled once
            token = ctx.link_issue(keys, bill, 7 * 86400)
            sms = ctx.message_build(bill, "https://bill.example.com/v/" + token)

Errors.  A failure of the library raises a :class:`vbill.Error` subclass carrying ``.status``
(the vbill_status code), ``.code`` (its name) and ``.message``: the message of the handle the
call was made on (the Context for ``ctx.*`` calls, the Template for ``template.prepare()``,
the Keys, the Store or the Hooks for their own methods).  A malformed record, JSON syntax
included, is a RecordError; only a malformed rule set, bill.json, key file or hooks
configuration is a JSONError.  Misuse the binding catches before calling C raises at once:
TypeError for an argument of the wrong type (a str where a Keys is expected, None or an int
where text is expected, a template folder where a Template is expected) and ClosedError (a
TypeError and an ArgumentError) for a handle that was closed; ValueError (ArgumentError) for
text with an embedded NUL character.  No argument can crash the interpreter.

Handles (Context, Bill, Template, Keys, Store, Hooks) are released by close(), by a
with-block, or by the garbage collector; close() is safe to call twice, and a handle closed
while another thread is in a call with it is released when that call returns.

Threads.  A Context serialises its calls (one at a time; a callback that calls back into the
Context running it gets BusyError instead of a deadlock).  A Bill and a prepared Template are
immutable: any number of threads may use them at once.  Keys are immutable once loaded
(and given their peppers); a Store takes one call at a time, like a Context.

Links.  A server passes its Store wherever it decides to serve (link_verify_store,
auth_check, session_verify): the stateless link_verify cannot see a revocation.  The check
and sessions take the client's address (required).  Key and pepper files must be private
(mode 0600, this user's, not a symlink).  See include/vbill/auth.h.
"""
from __future__ import annotations

import enum
import json
import numbers
import os
import threading
from ctypes import byref, c_int64, c_size_t, c_void_p
from typing import (Any, Callable, Dict, Iterator, List, Optional, Sequence, Tuple, Type,
                    Union)

from . import _lib
from ._errors import (AmountOverflowError, ArgumentError, AuthError, AuthLockedError,
                      AuthWrongError, BusyError, ClosedError, Error, FileError, FontError,
                      HookError, JSONError, KeyFileError, LinkError, LinkExpiredError,
                      LinkKeyError, LinkMalformedError, LinkSignatureError, MediaError,
                      NoMemoryError, NotFoundError, NotTargetError, RecordError, RenderError,
                      RulesError, SessionError, Status, StoreError, TemplateError,
                      UnavailableError, UnsupportedError, error_for)

__version__ = "0.2.0"

JSONLike = Union[str, bytes, Dict[str, Any], List[Any]]
PathLike = Union[str, bytes, "os.PathLike[str]"]

__all__ = [
    "Context", "Bill", "Template", "Keys", "Store", "Hooks", "render", "builtin_templates",
    "LogLevel", "Status", "version", "version_num", "has", "strerror", "default_rules",
    "default_rules_json", "mustache", "text_euckr_bytes", "read_jsonl",
    "Error", "ArgumentError", "ClosedError", "NoMemoryError", "FileError", "JSONError",
    "RecordError", "RulesError", "TemplateError", "AmountOverflowError", "RenderError",
    "MediaError", "FontError", "NotTargetError", "LinkError", "LinkMalformedError",
    "LinkSignatureError", "LinkExpiredError", "LinkKeyError", "AuthError", "AuthWrongError",
    "AuthLockedError", "SessionError", "StoreError", "HookError", "NotFoundError",
    "KeyFileError", "UnsupportedError", "BusyError", "UnavailableError", "error_for",
]


class LogLevel(enum.IntEnum):
    ERROR = 0
    WARN = 1
    INFO = 2
    DEBUG = 3


# ---- argument checks: everything is checked here, before it reaches C ----------------------

_INT_RANGE = {"int": (-(1 << 31), (1 << 31) - 1), "uint": (0, (1 << 32) - 1),
              "int64": (-(1 << 63), (1 << 63) - 1)}


def _type_error(what: str, expected: str, value: Any) -> TypeError:
    return TypeError("%s must be %s, not %s" % (what, expected, type(value).__name__))


def _no_nul(raw: bytes, what: str) -> bytes:
    if b"\0" in raw:
        raise ArgumentError(Status.ERR_ARG, "%s contains a NUL character" % what)
    return raw


def _text(value: Any, what: str, optional: bool = False) -> Optional[bytes]:
    """A str (or UTF-8 bytes) as NUL-terminated bytes; TypeError for anything else."""
    if value is None and optional:
        return None
    if isinstance(value, str):
        return _no_nul(value.encode("utf-8"), what)
    if isinstance(value, bytes):
        return _no_nul(value, what)
    raise _type_error(what, "a str" + (" or None" if optional else ""), value)


def _path(value: Any, what: str, optional: bool = False) -> Optional[bytes]:
    """A file or directory name (str, bytes or os.PathLike) as bytes."""
    if value is None and optional:
        return None
    if isinstance(value, (str, bytes, os.PathLike)):
        return _no_nul(os.fsencode(value), what)
    raise _type_error(what, "a path (str or os.PathLike)" + (" or None" if optional else ""),
                      value)


def _json_bytes(value: Any, what: str, optional: bool = False) -> Optional[bytes]:
    """A record / rule set / data value as UTF-8 JSON text: dicts and lists are encoded,
    strings passed through as they are (so the library judges them)."""
    if value is None:
        if optional:
            return None
        raise _type_error(what, "JSON text (str or bytes), a dict or a list", value)
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return value.encode("utf-8")
    if isinstance(value, (dict, list, tuple, numbers.Real, bool)):
        try:
            return json.dumps(value, ensure_ascii=False, allow_nan=False,
                              separators=(",", ":")).encode("utf-8")
        except (TypeError, ValueError) as e:
            raise TypeError("%s cannot be encoded as JSON: %s" % (what, e)) from None
    raise _type_error(what, "JSON text (str or bytes), a dict or a list", value)


def _int(value: Any, what: str, kind: str = "int") -> int:
    if not isinstance(value, numbers.Integral):
        raise _type_error(what, "an int", value)
    lo, hi = _INT_RANGE[kind]
    v = int(value)
    if not lo <= v <= hi:
        raise ArgumentError(Status.ERR_ARG, "%s is out of range (%d)" % (what, v))
    return v


def _float(value: Any, what: str) -> float:
    if not isinstance(value, numbers.Real):
        raise _type_error(what, "a number", value)
    return float(value)


def version() -> str:
    """The version of the loaded library, e.g. "0.2.0"."""
    return _lib.version()


def version_num() -> int:
    """The version of the loaded library as a number: 0xMMmmpp (0.2.0 is 0x000200)."""
    return int(_lib.fn("vbill_version_num")())


def has(feature: str) -> bool:
    """Whether the library was built with the optional part `feature`: "video" (templates,
    rendering, stills), "redis" (the Redis store); "records", "mustache", "auth", "hooks",
    "chat" are always there.  A call of an absent part raises UnsupportedError."""
    return bool(_lib.fn("vbill_has")(_text(feature, "feature")))


def strerror(status: int) -> str:
    """The name and meaning of a status code, e.g. "VBILL_ERR_RECORD: invalid record"."""
    return _lib.lib.vbill_strerror(_int(status, "status")).decode("utf-8")


def default_rules_json() -> str:
    """The built-in rule set, as the library's JSON text."""
    return _lib.fn("vbill_default_rules")().decode("utf-8")


def default_rules() -> Dict[str, Any]:
    """The built-in rule set, decoded."""
    return json.loads(default_rules_json())


def text_euckr_bytes(text: Union[str, bytes]) -> int:
    """The length of text (str, or UTF-8 bytes) in EUC-KR bytes (what a Korean SMS gateway
    counts); ArgumentError for invalid UTF-8."""
    n = c_size_t(0)
    _lib.fn("vbill_text_euckr_bytes")(_text(text, "text"), byref(n))
    return n.value


def mustache(template: str, data: Any, partials: Optional[JSONLike] = None) -> str:
    """Renders a Mustache template over JSON data (a one-off context; see
    Context.mustache to reuse one, e.g. with a partials directory)."""
    with Context() as ctx:
        return ctx.mustache(template, data, partials)


def builtin_templates() -> List[str]:
    """The scenario ids that have a built-in video template ([] without the video part)."""
    return json.loads(_lib.fn("vbill_template_builtin_list")().decode("utf-8"))


def read_jsonl(path: PathLike) -> Iterator[Tuple[int, str]]:
    """Yields (line number, line) for the non-blank lines of a JSON Lines file, the line
    numbers the library's messages expect."""
    with open(path, "rb") as f:
        for n, raw in enumerate(f, 1):
            if raw.strip():
                yield n, raw.decode("utf-8", "replace")


# ---- handles ---------------------------------------------------------------------------------

class _Serial:
    """One call at a time on a handle; a second call from the thread already in a call (a
    callback calling back into the handle running it) is BusyError, not a deadlock."""

    __slots__ = ("_lock", "_owner", "_what")

    def __init__(self, what: str) -> None:
        self._lock = threading.Lock()
        self._owner: Optional[int] = None
        self._what = what

    def acquire(self) -> None:
        me = threading.get_ident()
        if self._owner == me:
            raise BusyError(Status.ERR_BUSY, "the %s is already in a call on this thread (a "
                            "callback called back into it)" % self._what)
        self._lock.acquire()
        self._owner = me

    def release(self) -> None:
        self._owner = None
        self._lock.release()


class _Handle:
    """Owner of one C handle.  Calls borrow it (a use count); close() marks it closed and
    releases it at once, or when the last call using it returns."""

    _free_name = ""
    _made_by = ""        # how to get one, for TypeError messages
    _serial: Optional[_Serial] = None

    def __init__(self) -> None:
        self._ptr = c_void_p()
        self._mu = threading.Lock()
        self._users = 0
        self._closing = False

    @property
    def closed(self) -> bool:
        return self._closing or not self._ptr.value

    def _acquire(self, what: str) -> c_void_p:
        with self._mu:
            if self._closing or not self._ptr.value:
                raise ClosedError(Status.ERR_ARG, "%s: the vbill.%s is closed"
                                  % (what, type(self).__name__))
            self._users += 1
            return self._ptr

    def _release(self) -> None:
        p = None
        with self._mu:
            self._users -= 1
            if self._users == 0 and self._closing and self._ptr.value:
                p, self._ptr = self._ptr, c_void_p()
        if p is not None:
            self._free(p)

    def _free(self, p: c_void_p) -> None:
        _lib.fn(self._free_name)(p)

    def close(self) -> None:
        """Releases the C object (after the calls in progress with it); safe to call more
        than once."""
        mu = getattr(self, "_mu", None)
        if mu is None:  # __init__ did not run to the end
            return
        with mu:
            if self._closing:
                return
            self._closing = True
            if self._users or not self._ptr.value:
                return
            p, self._ptr = self._ptr, c_void_p()
        self._free(p)

    def __enter__(self):
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __del__(self) -> None:
        # At interpreter exit the module globals may already be gone: never raise here.
        try:
            self.close()
        except Exception:
            pass

    def __repr__(self) -> str:
        return "<vbill.%s%s>" % (type(self).__name__, " closed" if self.closed else "")


class _Use:
    """Borrows handles for one C call: checks each one's type and liveness, holds it open,
    then takes the one-call-at-a-time lock of those that have one; yields the pointers."""

    __slots__ = ("_items", "_taken", "_locked")

    def __init__(self, *items: Tuple[Any, Type[_Handle], str, bool]) -> None:
        self._items = items
        self._taken: List[_Handle] = []
        self._locked: List[_Serial] = []

    def __enter__(self) -> List[Optional[c_void_p]]:
        ptrs: List[Optional[c_void_p]] = []
        try:
            for obj, cls, what, optional in self._items:
                if obj is None and optional:
                    ptrs.append(None)
                    continue
                if not isinstance(obj, cls):
                    hint = " (%s)" % cls._made_by if cls._made_by else ""
                    raise TypeError("%s must be a vbill.%s%s, not %s"
                                    % (what, cls.__name__, hint, type(obj).__name__))
                ptrs.append(obj._acquire(what))
                self._taken.append(obj)
            for h in self._taken:
                if h._serial is not None:
                    h._serial.acquire()
                    self._locked.append(h._serial)
        except BaseException:
            self.__exit__()
            raise
        return ptrs

    def __exit__(self, *exc: Any) -> None:
        while self._locked:
            self._locked.pop().release()
        while self._taken:
            self._taken.pop()._release()


def _use_self(cls: Type[_Handle], h: Any,
              *others: Tuple[Any, Type[_Handle], str, bool]) -> _Use:
    """Borrows `h` as a `cls` (the class whose method is running: a method called unbound
    on another kind of handle, vbill.Keys.add_peppers(store, ...), is a TypeError, never the
    wrong pointer passed to C) and the other handles."""
    return _Use((h, cls, "self", False), *others)


# A private context for the calls on a bill that need one only to report an error
# (vbill_bill_to_json, vbill_bill_context): a bill does not depend on the context that made it.
_util_ctx: Optional["Context"] = None
_util_lock = threading.Lock()


def _utility_context() -> "Context":
    global _util_ctx
    with _util_lock:
        if _util_ctx is None or _util_ctx.closed:
            _util_ctx = Context()
        return _util_ctx


class Bill(_Handle):
    """One subscriber's bill: the record validated, classified and filled once (made by
    Context.bill), or read back from its serialised form (Bill.from_json).  Immutable: any
    number of threads may use one bill at once.  Rendering, links, the SMS text, event data and
    chat take it.  A bill made from a record holds the birth date in memory only, to issue the
    link; it is in no result, message or serialisation."""

    _free_name = "vbill_bill_free"
    _made_by = "from ctx.bill(record) or vbill.Bill.from_json(ctx, text)"

    @classmethod
    def from_json(cls, ctx: "Context", text: JSONLike) -> "Bill":
        """Reads a serialised bill (bill.json, as to_json gives).  It is checked like a record
        (RecordError naming the field; JSONError for text that is not JSON).  Such a bill can
        do everything except issue a first link (UnsupportedError): it holds no birth date."""
        data = _json_bytes(text, "text")
        bill = cls()
        with _Use((ctx, Context, "ctx", False)) as (c,):
            _lib.fn("vbill_bill_from_json")(c, data, len(data), byref(bill._ptr))
        return bill

    def _json_call(self, name: str) -> str:
        ctx = _utility_context()
        out = c_void_p()
        with _use_self(Bill, self, (ctx, Context, "ctx", False)) as (b, c):
            _lib.fn(name)(c, b, byref(out))
        return _lib.take_string(out)

    def to_json(self) -> str:
        """The serialised bill (bill.json, schema version 1 of include/vbill/records.h):
        compact JSON text, never holding the birth date."""
        return self._json_call("vbill_bill_to_json")

    def context_json(self) -> str:
        """The bill's fill context as JSON text (what every template renders over)."""
        return self._json_call("vbill_bill_context")

    def context(self) -> Dict[str, Any]:
        """The bill's fill context, decoded: the record's fields (never the birth date), the
        computed amounts and the locale's formatted texts."""
        return json.loads(self.context_json())

    def _get(self, name: str) -> Any:
        with _use_self(Bill, self) as (b,):
            return _lib.fn(name)(b)

    def _str(self, name: str) -> Optional[str]:
        v = self._get(name)
        return v.decode("utf-8") if v is not None else None

    @property
    def id(self) -> str:
        """The subscriber id."""
        return self._str("vbill_bill_id") or ""

    @property
    def scenario(self) -> Optional[str]:
        """The scenario id, or None: no video bill this cycle."""
        return self._str("vbill_bill_scenario")

    @property
    def locale(self) -> str:
        return self._str("vbill_bill_locale") or ""

    @property
    def cycle_start(self) -> str:
        """The cycle's first day, "YYYY-MM-DD"."""
        return self._str("vbill_bill_cycle_start") or ""

    @property
    def cycle(self) -> str:
        """The cycle's month, "YYYY-MM"."""
        return self._str("vbill_bill_cycle") or ""

    @property
    def senior(self) -> bool:
        return bool(self._get("vbill_bill_senior"))

    @property
    def speed(self) -> float:
        """The playback speed of automatic renders (1.0, or the senior speed)."""
        return float(self._get("vbill_bill_speed"))

    @property
    def can_issue_link(self) -> bool:
        """True for a bill made from a record (it holds the birth date)."""
        return bool(self._get("vbill_bill_can_issue_link"))

    def __repr__(self) -> str:
        if self.closed:
            return "<vbill.Bill closed>"
        return "<vbill.Bill %s %s %s>" % (self.id, self.scenario, self.cycle)


class Template(_Handle):
    """A video template (a directory with template.json and a base video).  Made by
    Context.open_template.  Immutable once prepared: any number of threads may render from
    one template at once, each with its own Context; do not prepare it while another thread
    renders from it."""

    _free_name = "vbill_template_free"
    _made_by = "from ctx.open_template(directory)"

    def __init__(self, log_cb: Any = None) -> None:
        super().__init__()
        self._log_cb = log_cb  # the context's log callback, which the template copied

    def prepare(self) -> None:
        """Normalises the base video once (cached in DIR/.vbill-prepared/); idempotent.
        Failures carry the template's own message (vbill_template_errmsg)."""
        with _use_self(Template, self) as (t,):
            _lib.fn("vbill_template_prepare")(t)

    @property
    def errmsg(self) -> str:
        """The message of the last failed call on the template ("" after a success)."""
        with _use_self(Template, self) as (t,):
            return _lib.fn("vbill_template_errmsg")(t).decode("utf-8", "replace")

    @property
    def is_prepared(self) -> bool:
        with _use_self(Template, self) as (t,):
            return bool(_lib.fn("vbill_template_is_prepared")(t))

    @property
    def scenario(self) -> str:
        with _use_self(Template, self) as (t,):
            return (_lib.fn("vbill_template_scenario")(t) or b"").decode("utf-8")

    def info(self) -> Dict[str, Any]:
        """The template's description (source, frames, segments, slot windows)."""
        with _use_self(Template, self) as (t,):
            p = c_void_p(_lib.fn("vbill_template_info")(t))
        if not p.value:
            raise NoMemoryError(Status.ERR_NOMEM, "vbill_template_info: out of memory")
        return json.loads(_lib.take_string(p))


class Keys(_Handle):
    """A set of link keys (one signing key, any number of verification keys).  Immutable
    once loaded (and given its peppers); may be shared by threads.  Made by
    Context.load_keys / keys_from_json.  Calls on the keys alone (set_session_ttl,
    add_peppers, load_peppers) fail with the keys' own message (keys.errmsg)."""

    _free_name = "vbill_keys_free"
    _made_by = "from ctx.load_keys(path) or ctx.keys_from_json(text)"

    def set_session_ttl(self, seconds: int) -> None:
        """Session length given to new sessions (default 1800 s, 1 s to 31 days).  Call it
        before sharing the keys with other threads."""
        with _use_self(Keys, self) as (k,):
            _lib.fn("vbill_keys_set_session_ttl")(k, _int(seconds, "seconds", "int64"))

    def add_peppers(self, pepper_json: JSONLike) -> None:
        """Gives the keys that have no pepper theirs from a pepper set (Context.split_keys'
        format; e.g. from a secret manager).  Members for other key ids are ignored.
        KeyFileError (the keys unchanged) for a malformed set, one whose pepper for a key
        differs from the key file's, or one with no pepper for any of the keys.  Call it
        before sharing the keys with other threads."""
        data = _json_bytes(pepper_json, "pepper_json")
        with _use_self(Keys, self) as (k,):
            _lib.fn("vbill_keys_add_peppers")(k, data, len(data))

    def load_peppers(self, path: PathLike) -> None:
        """add_peppers from a pepper file, checked as a key file is (mode 0600, not a
        symlink, owned by this user: KeyFileError naming the file and the fix)."""
        p = _path(path, "path")
        with _use_self(Keys, self) as (k,):
            _lib.fn("vbill_keys_load_peppers")(k, p)

    @property
    def errmsg(self) -> str:
        """The message of the last failed call on the keys alone ("" after a success)."""
        with _use_self(Keys, self) as (k,):
            return _lib.fn("vbill_keys_errmsg")(k).decode("utf-8", "replace")


EventCallback = Callable[[Dict[str, Any]], None]


class Store(_Handle):
    """The attempt limiter's state store (SQLite or Redis): counters, locks, revocations.
    One call at a time (open one per thread; they share the state).  Its own calls fail with
    its own message (store.errmsg).  Callbacks (set_lock_hook, set_alarm) run on the thread
    making the check; calling this store from one raises BusyError."""

    _free_name = "vbill_store_free"
    _made_by = "from ctx.open_store(path), ctx.open_redis_url(url) or ctx.open_redis_store()"

    def __init__(self) -> None:
        super().__init__()
        self._serial = _Serial("vbill.Store")
        self._lock_cb: Any = None
        self._alarm_cb: Any = None

    def _free(self, p: c_void_p) -> None:
        super()._free(p)  # no callback runs after this
        self._lock_cb = self._alarm_cb = None

    def set_limits(self, soft: int = 5, cooling_seconds: int = 900, hard: int = 10,
                   client_max: int = 30, client_window_seconds: int = 3600) -> None:
        """Attempt limits: after every `soft` failed checks a link cools for
        cooling_seconds, after `hard` it is locked until re-issued; a client with client_max
        failures within client_window_seconds is slowed (set_slowdown), never locked out.
        ArgumentError (the store's message) for values < 1, soft > hard, counts over 100,000
        or times over 366 days."""
        args = (_int(soft, "soft"), _int(cooling_seconds, "cooling_seconds", "int64"),
                _int(hard, "hard"), _int(client_max, "client_max"),
                _int(client_window_seconds, "client_window_seconds", "int64"))
        with _use_self(Store, self) as (s,):
            _lib.fn("vbill_store_set_limits")(s, *args)

    def set_subscriber_limit(self, max_failures: int = 10) -> None:
        """The bound per subscriber and bill cycle: the failed checks of all the links of a
        subscriber's bill of one cycle, re-issued or not, before and after help-desk unlocks.
        Reaching it locks every link of that bill for good.  It is the guessing bound the
        carrier states: max_failures/36,500 per customer and cycle.  ArgumentError outside 1
        to 100,000."""
        n = _int(max_failures, "max_failures")
        with _use_self(Store, self) as (s,):
            _lib.fn("vbill_store_set_subscriber_limit")(s, n)

    def set_slowdown(self, seconds: int = 10) -> None:
        """A client over its limit may make one check every `seconds` (1 to 3600); a check
        that comes sooner raises AuthLockedError ("slowed ... try again in N s": answer 429
        with Retry-After) before any counting.  ArgumentError outside the range."""
        n = _int(seconds, "seconds", "int64")
        with _use_self(Store, self) as (s,):
            _lib.fn("vbill_store_set_slowdown")(s, n)

    def set_alarm(self, max_failures: int = 600, window_seconds: int = 600,
                  callback: Optional[EventCallback] = None) -> None:
        """The failure-rate alarm over every link and client sharing the store: when the
        failed checks within window_seconds reach max_failures, callback(event) (None:
        counted in stats() only) is called once for that window with {"type":
        "auth.attack_suspected", "failures", "window_seconds", "at"}.  It runs inside the
        check; an exception it raises is ignored.  ArgumentError outside 1 to 10^9
        failures, 1 s to 366 days."""
        if callback is not None and not callable(callback):
            raise _type_error("callback", "a callable or None", callback)
        args = (_int(max_failures, "max_failures", "int64"),
                _int(window_seconds, "window_seconds", "int64"))
        cb = _lib.LOCK_FN() if callback is None else _event_trampoline(callback)
        with _use_self(Store, self) as (s,):
            _lib.fn("vbill_store_set_alarm")(s, *args, cb, None)
            self._alarm_cb = cb  # alive as long as the C store may call it

    def stats(self, now: int = 0) -> Dict[str, Any]:
        """Figures for a metrics endpoint: "checks", "passed", "failed", "locked", "slowed",
        "alarms" (by this handle since it was opened: add them up over a server's handles),
        "failures_total" (every failed check recorded in the store, all servers),
        "failures_window", "window_seconds", "alarm_failures" (the alarm's current window).
        StoreError when the store cannot be read."""
        n = _int(now, "now", "int64")
        out = c_void_p()
        with _use_self(Store, self) as (s,):
            _lib.fn("vbill_store_stats")(s, n, byref(out))
        return json.loads(_lib.take_string(out))

    @property
    def errmsg(self) -> str:
        """The message of the last failed operation on the store ("" after a success)."""
        with _use_self(Store, self) as (s,):
            return _lib.fn("vbill_store_errmsg")(s).decode("utf-8", "replace")

    def set_lock_hook(self, callback: Optional[EventCallback]) -> None:
        """callback(event) is called when a link becomes locked (None removes it), with
        {"type": "link_locked" or "subscriber_locked" (the subscriber bound was reached:
        every link of that bill is locked for good), "link", "subscriber", "cycle_start",
        "scenario", "hard", "until", "failures"} (never the digits).  It runs inside the
        check that locked the link; calling the store from it is BusyError; an exception it
        raises is ignored."""
        if callback is not None and not callable(callback):
            raise _type_error("callback", "a callable or None", callback)
        cb = _lib.LOCK_FN() if callback is None else _event_trampoline(callback)
        with _use_self(Store, self) as (s,):
            _lib.fn("vbill_store_set_lock_hook")(s, cb, None)
            self._lock_cb = None if callback is None else cb


def _event_trampoline(callback: EventCallback) -> Any:
    """A C vbill_lock_fn calling callback(event dict); nothing unwinds through C."""
    def trampoline(_user: Any, event_json: bytes) -> None:
        try:
            callback(json.loads(event_json.decode("utf-8")))
        except Exception:  # an exception must never unwind through C
            pass
    return _lib.LOCK_FN(trampoline)


class Hooks(_Handle):
    """The durable event outbox and its sinks (webhooks, Zendesk, RT, callbacks).  Made by
    Context.open_hooks; independent of that context afterwards.  Every failure carries the
    handle's own message (vbill_hooks_errmsg).  One thread at a time, besides its worker."""

    _free_name = "vbill_hooks_free"
    _made_by = "from ctx.open_hooks(state_dir, config)"

    def __init__(self, log_cb: Any = None) -> None:
        super().__init__()
        self._log_cb = log_cb  # the context's log callback, which the handle copied
        self._callbacks: Dict[str, Any] = {}

    def _free(self, p: c_void_p) -> None:
        super()._free(p)  # stops the worker: no callback runs after this
        self._callbacks.clear()

    @property
    def errmsg(self) -> str:
        with _use_self(Hooks, self) as (h,):
            return _lib.fn("vbill_hooks_errmsg")(h).decode("utf-8", "replace")

    def set_callback(self, name: str, callback: Callable[[str, Dict[str, Any]], Optional[int]],
                     events: Optional[Sequence[str]] = None) -> None:
        """Registers callback(type, event) as the sink `name` for the event types `events`
        (None: all).  It returns None/0 when handled, a positive number of seconds to retry
        after, or a negative number for the usual backoff.  An exception counts as a failure
        (retried with backoff).  It runs inside pump() (or on the worker thread); it may
        emit, but pump() and the other calls that change the handle raise BusyError there."""
        if not callable(callback):
            raise _type_error("callback", "a callable", callback)
        cname = _text(name, "name")
        ev = None if events is None else _json_bytes(list(events) if isinstance(
            events, (list, tuple)) else events, "events")

        def trampoline(_user: Any, etype: bytes, event_json: bytes) -> int:
            try:
                r = callback(etype.decode("utf-8"), json.loads(event_json.decode("utf-8")))
                r = int(r or 0)
                return max(-(1 << 31), min(r, (1 << 31) - 1))
            except BaseException:  # nothing may unwind through C
                return -1
        cb = _lib.HOOK_FN(trampoline)
        with _use_self(Hooks, self) as (h,):
            _lib.fn("vbill_hooks_set_callback")(h, cname, ev, cb, None)
            self._callbacks[cname.decode("utf-8")] = cb  # alive as long as the C sink may call

    def emit(self, type: str, data: Optional[JSONLike] = None,
             subject: Optional[str] = None) -> str:
        """Queues an event durably; returns its id."""
        args = (_text(type, "type"), _text(subject, "subject", True),
                _json_bytes(data, "data", True))
        out = c_void_p()
        with _use_self(Hooks, self) as (h,):
            _lib.fn("vbill_hooks_emit")(h, args[0], args[1], args[2], byref(out))
        return _lib.take_string(out)

    def emit_still(self, type: str, subject: Optional[str], data: Optional[JSONLike],
                   jpeg: Optional[bytes]) -> str:
        """Same as emit, with a JPEG still (bytes, e.g. from Context.render_still or
        Context.still_jpeg; None for none) stored with the event and attached to help-desk
        tickets.  Returns the event id."""
        if jpeg is not None and not isinstance(jpeg, (bytes, bytearray, memoryview)):
            raise _type_error("jpeg", "bytes or None", jpeg)
        raw = bytes(jpeg) if jpeg is not None else None
        args = (_text(type, "type"), _text(subject, "subject", True),
                _json_bytes(data, "data", True))
        out = c_void_p()
        with _use_self(Hooks, self) as (h,):
            _lib.fn("vbill_hooks_emit_still")(h, args[0], args[1], args[2], raw,
                                              len(raw) if raw else 0, byref(out))
        return _lib.take_string(out)

    def pump(self, max_ms: int = 0) -> int:
        """Delivers what is due now (for at most max_ms ms; 0: one batch); returns how many
        deliveries succeeded.  BusyError from inside one of this handle's callbacks."""
        n = c_size_t(0)
        ms = _int(max_ms, "max_ms", "uint")
        with _use_self(Hooks, self) as (h,):
            _lib.fn("vbill_hooks_pump")(h, ms, byref(n))
        return n.value

    def pending(self) -> Tuple[int, int]:
        """(deliveries pending, Unix ms of the earliest due or 0)."""
        n, due = c_size_t(0), c_int64(0)
        with _use_self(Hooks, self) as (h,):
            _lib.fn("vbill_hooks_pending")(h, byref(n), byref(due))
        return n.value, due.value

    def start(self) -> None:
        """Starts the library's delivery worker thread (callbacks then run on it)."""
        with _use_self(Hooks, self) as (h,):
            _lib.fn("vbill_hooks_start")(h)

    def stop(self) -> None:
        with _use_self(Hooks, self) as (h,):
            _lib.fn("vbill_hooks_stop")(h)

    def status(self) -> Dict[str, Any]:
        out = c_void_p()
        with _use_self(Hooks, self) as (h,):
            _lib.fn("vbill_hooks_status")(h, byref(out))
        return json.loads(_lib.take_string(out))

    def dead(self) -> List[Dict[str, Any]]:
        out = c_void_p()
        with _use_self(Hooks, self) as (h,):
            _lib.fn("vbill_hooks_dead")(h, byref(out))
        return json.loads(_lib.take_string(out))

    def replay(self, event_id: Optional[str] = None) -> int:
        """Moves dead letters (of event_id, or all) back to the outbox; returns how many."""
        eid = _text(event_id, "event_id", True)
        n = c_size_t(0)
        with _use_self(Hooks, self) as (h,):
            _lib.fn("vbill_hooks_replay")(h, eid, byref(n))
        return n.value


class Context(_Handle):
    """A libvbill context: rules, options, the last error message.

    Use as a context manager, or call close(); the GC closes it too.  Calls are serialised
    by a lock, so one Context may be shared by threads (one call at a time)."""

    _free_name = "vbill_ctx_free"
    _made_by = "from vbill.Context()"

    def __init__(self, rules: Optional[JSONLike] = None) -> None:
        super().__init__()
        self._serial = _Serial("vbill.Context")
        self._log_cb: Any = None
        _lib.fn("vbill_ctx_new")(byref(self._ptr))
        if rules is not None:
            self.set_rules(rules)

    def _call(self, *others: Tuple[Any, Type[_Handle], str, bool]) -> _Use:
        return _use_self(Context, self, *others)

    # ---- context ------------------------------------------------------------------------
    @property
    def errmsg(self) -> str:
        """The message of the last failure on this context ("" when the last call
        succeeded)."""
        with self._call() as (c,):
            return _lib.lib.vbill_ctx_errmsg(c).decode("utf-8", "replace")

    def set_log(self, callback: Optional[Callable[[int, str], None]],
                level: int = LogLevel.WARN) -> None:
        """callback(level, message) receives the library's log lines up to `level`
        (None removes it).  Templates and hooks opened afterwards keep the callback."""
        if callback is not None and not callable(callback):
            raise _type_error("callback", "a callable or None", callback)
        lvl = _int(level, "level")
        with self._call() as (c,):
            if callback is None:
                _lib.fn("vbill_ctx_set_log")(c, _lib.LOG_FN(), None, lvl)
                self._log_cb = None
                return

            def trampoline(_user: Any, lv: int, message: bytes) -> None:
                try:
                    callback(lv, message.decode("utf-8", "replace"))
                except BaseException:
                    pass
            cb = _lib.LOG_FN(trampoline)
            _lib.fn("vbill_ctx_set_log")(c, cb, None, lvl)
            self._log_cb = cb

    def set_rules(self, rules: JSONLike) -> None:
        """Replaces the rule set (JSON text or dict); raises RulesError/JSONError naming the
        position of the fault and keeps the previous rules then."""
        data = _json_bytes(rules, "rules")
        with self._call() as (c,):
            _lib.fn("vbill_ctx_set_rules")(c, data, len(data))

    def load_rules(self, path: PathLike) -> None:
        """Replaces the rule set with the one in a file."""
        p = _path(path, "path")
        with self._call() as (c,):
            _lib.fn("vbill_ctx_load_rules")(c, p)

    def set_senior(self, age: int = 60, speed: float = 0.8) -> None:
        """Age from which a customer is senior, and their playback speed."""
        a, s = _int(age, "age"), _float(speed, "speed")
        with self._call() as (c,):
            _lib.fn("vbill_ctx_set_senior")(c, a, s)

    def set_partials_dir(self, directory: Optional[PathLike]) -> None:
        """Directory searched for Mustache partials by name (None to unset)."""
        d = _path(directory, "directory", True)
        with self._call() as (c,):
            _lib.fn("vbill_ctx_set_partials_dir")(c, d)

    # ---- records --------------------------------------------------------------------------
    def _record_call(self, name: str, record: JSONLike, line: int) -> str:
        data = _json_bytes(record, "record")
        ln = _int(line, "line", "int64")
        out = c_void_p()
        with self._call() as (c,):
            _lib.fn(name)(c, data, len(data), ln, byref(out))
        return _lib.take_string(out)

    def classify_json(self, record: JSONLike, line: int = 0) -> str:
        """Validates and classifies one record; the library's JSON text unchanged."""
        return self._record_call("vbill_classify", record, line)

    def classify(self, record: JSONLike, line: int = 0) -> Dict[str, Any]:
        """{"id","scenario","age","senior","speed","flags"}; RecordError on a bad record,
        malformed JSON included (the message names the record or line, the field and the
        problem)."""
        return json.loads(self.classify_json(record, line))

    def fill_json(self, record: JSONLike, line: int = 0) -> str:
        """Validates, classifies and fills one record; the library's JSON text unchanged."""
        return self._record_call("vbill_fill", record, line)

    def fill(self, record: JSONLike, line: int = 0) -> Dict[str, Any]:
        """The classify result plus "period", "amounts" and "slots"."""
        return json.loads(self.fill_json(record, line))

    def bill(self, record: JSONLike, line: int = 0) -> Bill:
        """The bill of one record (a dict or JSON text): validated, classified and filled
        once.  RecordError for a record that breaks a rule, malformed JSON included.  A
        record that matches no scenario still makes a bill (bill.scenario is None)."""
        data = _json_bytes(record, "record")
        ln = _int(line, "line", "int64")
        bill = Bill()
        with self._call() as (c,):
            _lib.fn("vbill_bill_new")(c, data, len(data), ln, byref(bill._ptr))
        return bill

    def default_slots(self, scenario: str, locale: str = "ko-KR") -> Dict[str, str]:
        """The default slot templates of a scenario in a locale."""
        s, loc = _text(scenario, "scenario"), _text(locale, "locale", True)
        out = c_void_p()
        with self._call() as (c,):
            _lib.fn("vbill_default_slots")(c, s, loc, byref(out))
        return json.loads(_lib.take_string(out) or "{}")

    def mustache(self, template: str, data: Any, partials: Optional[JSONLike] = None) -> str:
        """Renders a Mustache template over JSON data; partials is a dict/JSON object of
        name -> template (others are looked up in the partials directory)."""
        if isinstance(template, str):
            t = template.encode("utf-8")
        elif isinstance(template, bytes):
            t = template
        else:
            raise _type_error("template", "a str", template)
        d = _json_bytes(data, "data")
        p = _json_bytes(partials, "partials", True)
        out, n = c_void_p(), c_size_t(0)
        with self._call() as (c,):
            _lib.fn("vbill_mustache_render")(c, t, len(t), _no_nul(d, "data"),
                                             p and _no_nul(p, "partials"), byref(out),
                                             byref(n))
        return _lib.take_bytes(out, n.value).decode("utf-8")

    # ---- video templates and rendering -----------------------------------------------------
    def open_template(self, directory: PathLike) -> Template:
        """Opens (and validates) the template in a directory; see Template.prepare.  The
        template keeps this context's senior speed and log callback as they are now."""
        d = _path(directory, "directory")
        with self._call() as (c,):
            t = Template(self._log_cb)
            _lib.fn("vbill_template_open")(c, d, byref(t._ptr))
        return t

    def write_builtin_template(self, scenario: str, directory: PathLike) -> None:
        """Writes DIR/template.json and DIR/base.mp4 of a scenario's built-in template."""
        s, d = _text(scenario, "scenario"), _path(directory, "directory")
        with self._call() as (c,):
            _lib.fn("vbill_template_builtin_write")(c, s, d)

    def _render(self, name: str, template: Template, bill: Bill, *args: Any) -> None:
        with self._call((template, Template, "template", False),
                        (bill, Bill, "bill", False)) as (c, t, b):
            _lib.fn(name)(c, t, b, *args)

    def render_mp4(self, template: Template, bill: Bill, out_path: PathLike,
                   speed: float = 0.0) -> None:
        """Renders a bill's video to an MP4 (atomically).  speed 0: the bill's own (slow for
        seniors), 1.0 normal, or the template's slow speed."""
        self._render("vbill_render_mp4", template, bill, _float(speed, "speed"),
                     _path(out_path, "out_path"))

    def render_hls(self, template: Template, bill: Bill, out_dir: PathLike,
                   speed: float = 0.0, shared_url: Optional[str] = None) -> None:
        """Renders a bill's HLS stream: out_dir/index.m3u8 and its personal segments."""
        self._render("vbill_render_hls", template, bill, _float(speed, "speed"),
                     _path(out_dir, "out_dir"), _text(shared_url, "shared_url", True))

    def render_playlist(self, template: Template, bill: Bill, out_dir: PathLike,
                        speed: float = 0.0, shared_url: Optional[str] = None) -> None:
        """Writes out_dir/index.m3u8 of render_hls without rendering a segment (for a bill
        rendered on demand, segment by segment)."""
        self._render("vbill_render_playlist", template, bill, _float(speed, "speed"),
                     _path(out_dir, "out_dir"), _text(shared_url, "shared_url", True))

    def render_segment(self, template: Template, bill: Bill, segment: int,
                       out_path: PathLike, speed: float = 0.0) -> None:
        """Renders one personal HLS segment (on demand); NotFoundError when not personal."""
        self._render("vbill_render_segment", template, bill, _float(speed, "speed"),
                     _int(segment, "segment"), _path(out_path, "out_path"))

    def render_still(self, template: Template, bill: Bill, position_s: float,
                     speed: float = 0.0, max_width: int = 0) -> bytes:
        """A JPEG still of the bill's video at position_s seconds (of the rendition at
        `speed`), rendered from the template (no rendered file needed)."""
        out, n = c_void_p(), c_size_t(0)
        self._render("vbill_render_still", template, bill, _float(speed, "speed"),
                     _float(position_s, "position_s"), _int(max_width, "max_width"),
                     byref(out), byref(n))
        return _lib.take_bytes(out, n.value)

    def still_jpeg(self, video_path: PathLike, position_s: float, max_width: int = 0) -> bytes:
        """A JPEG still of the frame at position_s of a video file (MP4 or MPEG-TS)."""
        p, pos, w = (_path(video_path, "video_path"), _float(position_s, "position_s"),
                     _int(max_width, "max_width"))
        out, n = c_void_p(), c_size_t(0)
        with self._call() as (c,):
            _lib.fn("vbill_still_jpeg")(c, p, pos, w, byref(out), byref(n))
        return _lib.take_bytes(out, n.value)

    # ---- signed links, the knowledge check, SMS --------------------------------------------
    # A link is checked against the store wherever a server decides to serve: link_verify
    # alone cannot see a revocation (link_verify_store, auth_check and session_verify with a
    # store do).  See include/vbill/auth.h and the README's "Keys, guessing and what a leak
    # gives away".

    def generate_keys(self, existing: Optional[JSONLike] = None) -> str:
        """A new key file (JSON text holding secrets): write it to a new file of mode 0600
        (os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)); load_keys refuses a
        key file that group or others may read, a symlink, or another user's file.  With
        `existing` (a key file, with or without its peppers), its keys are kept for
        verification and the new key signs (rotation)."""
        e = _json_bytes(existing, "existing", True)
        out = c_void_p()
        with self._call() as (c,):
            _lib.fn("vbill_keys_generate")(c, e and _no_nul(e, "existing"), byref(out))
        return _lib.take_secret(out)

    def split_keys(self, key_file_json: JSONLike,
                   peppers: Optional[JSONLike] = None) -> Tuple[str, str]:
        """Moves the peppers out of a key file: returns (key file without any "pepper",
        pepper set {"vbill_peppers":1,"peppers":{KID: ...}}), the pepper set also holding
        those of `peppers` (an earlier pepper set, e.g. when rotating).  Keep the two apart
        (two 0600 files on different disks, a secret manager): the key file alone then
        reveals no birth date.  KeyFileError when a key has another pepper in `peppers`."""
        k = _json_bytes(key_file_json, "key_file_json")
        pp = _json_bytes(peppers, "peppers", True)
        kout, pout = c_void_p(), c_void_p()
        with self._call() as (c,):
            _lib.fn("vbill_keys_split")(c, _no_nul(k, "key_file_json"),
                                        pp and _no_nul(pp, "peppers"), byref(kout),
                                        byref(pout))
        try:
            key_text = _lib.take_secret(kout)
        finally:
            pepper_text = _lib.take_secret(pout)
        return key_text, pepper_text

    def keys_from_json(self, key_file_json: JSONLike) -> Keys:
        """Keys from key-file JSON text (KeyFileError/JSONError for a malformed one).  A key
        without its pepper verifies links and sessions; to issue links and check birth dates
        it needs Keys.add_peppers / Keys.load_peppers."""
        data = _json_bytes(key_file_json, "key_file_json")
        keys = Keys()
        with self._call() as (c,):
            _lib.fn("vbill_keys_from_json")(c, data, len(data), byref(keys._ptr))
        return keys

    def load_keys(self, path: PathLike) -> Keys:
        """Keys from a key file.  KeyFileError (naming the file and the fix) for a missing
        file, a symlink, a file that is not a regular file, one owned by another user, or one
        that group or others may read or write (chmod 600 FILE)."""
        p = _path(path, "path")
        keys = Keys()
        with self._call() as (c,):
            _lib.fn("vbill_keys_load")(c, p, byref(keys._ptr))
        return keys

    def open_store(self, path: PathLike) -> Store:
        """The SQLite attempt store (path: a directory or a file name)."""
        p = _path(path, "path")
        store = Store()
        with self._call() as (c,):
            _lib.fn("vbill_store_open_sqlite")(c, p, byref(store._ptr))
        return store

    def open_redis_store(self, host: str = "127.0.0.1", port: int = 6379,
                         prefix: Optional[str] = None) -> Store:
        """The Redis attempt store over plain TCP, no password, database 0 (open_redis_url
        for the rest).  UnsupportedError without the "redis" part."""
        h, pt, px = _text(host, "host"), _int(port, "port"), _text(prefix, "prefix", True)
        store = Store()
        with self._call() as (c,):
            _lib.fn("vbill_store_open_redis")(c, h, pt, px, byref(store._ptr))
        return store

    def open_redis_url(self, url: str, prefix: Optional[str] = None) -> Store:
        """The Redis attempt store named by a URL:
        redis://[[USER]:PASSWORD@]HOST[:PORT][/DB] (plain TCP) or rediss://... (TLS, the
        server's certificate always verified; ?cacert=FILE&capath=DIR&cert=FILE&key=FILE
        &sni=NAME).  USER and PASSWORD percent-encoded.  Keys are prefixed with `prefix`
        (None: "vbill:").  ArgumentError for a malformed URL (the message names the part,
        never the password), StoreError when the server cannot be reached or refuses AUTH,
        UnsupportedError without the "redis" part.  Keep a password out of source and
        command lines (an environment variable such as VBILL_REDIS_URL)."""
        u, px = _text(url, "url"), _text(prefix, "prefix", True)
        store = Store()
        with self._call() as (c,):
            _lib.fn("vbill_store_open_redis_url")(c, u, px, byref(store._ptr))
        return store

    def link_issue(self, keys: Keys, bill: Bill, ttl_seconds: int, now: int = 0) -> str:
        """A signed link token for a bill made from a record, valid ttl_seconds from now
        (UnsupportedError for a bill read from JSON: it holds no birth date; KeyFileError
        when the signing key's pepper is kept apart and was not loaded)."""
        ttl, n = _int(ttl_seconds, "ttl_seconds", "int64"), _int(now, "now", "int64")
        out = c_void_p()
        with self._call((keys, Keys, "keys", False), (bill, Bill, "bill", False)) as (c, k, b):
            _lib.fn("vbill_link_issue")(c, k, b, n, ttl, byref(out))
        return _lib.take_string(out)

    def link_verify(self, keys: Keys, token: str, now: int = 0) -> Dict[str, Any]:
        """Checks a token's signature and expiry; returns its info ("link", "kid",
        "subscriber", "cycle_start", "cycle_end", "scenario", "expires", "expires_unix": no
        personal data) or raises a LinkError.  Stateless: it cannot see a revocation; a
        server deciding to serve calls link_verify_store."""
        tok, n = _text(token, "token"), _int(now, "now", "int64")
        out = c_void_p()
        with self._call((keys, Keys, "keys", False)) as (c, k):
            _lib.fn("vbill_link_verify")(c, k, tok, n, byref(out))
        return json.loads(_lib.take_string(out))

    def link_verify_store(self, keys: Keys, store: Optional[Store], token: str,
                          now: int = 0) -> Dict[str, Any]:
        """link_verify, and LinkExpiredError (the message says "revoked") for a link revoked
        in store (re-issued, or link_revoke).  What a server calls before it shows a link's
        page.  store None: the same as link_verify."""
        tok, n = _text(token, "token"), _int(now, "now", "int64")
        out = c_void_p()
        with self._call((keys, Keys, "keys", False),
                        (store, Store, "store", True)) as (c, k, s):
            _lib.fn("vbill_link_verify_store")(c, k, s, tok, n, byref(out))
        return json.loads(_lib.take_string(out))

    def link_attempts(self, keys: Keys, store: Store, token: str,
                      now: int = 0) -> Dict[str, Any]:
        """Where a link stands, read from store without counting a try: {"state": "open",
        "cooling" (locked until "locked_until"), "link" or "subscriber" (locked for good by the
        link's or the subscriber's bound), or "revoked"; "tries_left"; "locked_until"}.  What a
        page says after a wrong entry.  An expired link still answers (the page says expired
        itself); a forged one raises like link_verify."""
        tok, n = _text(token, "token"), _int(now, "now", "int64")
        out = c_void_p()
        with self._call((keys, Keys, "keys", False),
                        (store, Store, "store", False)) as (c, k, s):
            _lib.fn("vbill_link_attempts")(c, k, s, tok, n, byref(out))
        return json.loads(_lib.take_string(out))

    def link_reissue(self, keys: Keys, store: Store, old_token: str, bill: Bill,
                     ttl_seconds: int, now: int = 0) -> str:
        """A new link for the subscriber of old_token (valid signature; it may be expired or
        locked), for the same subscriber and cycle as bill (ArgumentError otherwise), valid
        ttl_seconds from now; old_token and its sessions are revoked in store.  The new link
        shares the subscriber's bound of the cycle: re-issuing gives no new guesses.
        LinkExpiredError when old_token was revoked already (re-issue from the link that
        replaced it); StoreError when the revocation cannot be recorded (no new link)."""
        old = _text(old_token, "old_token")
        ttl, n = _int(ttl_seconds, "ttl_seconds", "int64"), _int(now, "now", "int64")
        out = c_void_p()
        with self._call((keys, Keys, "keys", False), (store, Store, "store", False),
                        (bill, Bill, "bill", False)) as (c, k, s, b):
            _lib.fn("vbill_link_reissue")(c, k, s, old, b, n, ttl, byref(out))
        return _lib.take_string(out)

    def link_unlock(self, keys: Keys, store: Store, token: str) -> None:
        """For the help desk: clears a link's failure count and cooling lock.  It never gives
        back the subscriber's failures (the subscriber bound holds across unlocks) and never
        un-revokes a link."""
        tok = _text(token, "token")
        with self._call((keys, Keys, "keys", False),
                        (store, Store, "store", False)) as (c, k, s):
            _lib.fn("vbill_link_unlock")(c, k, s, tok)

    def link_revoke(self, keys: Keys, store: Store, token: str) -> None:
        """Revokes a link and its sessions in store (a phone reported lost, a link sent to
        the wrong number): auth_check and link_verify_store then raise LinkExpiredError,
        session_verify with the store SessionError.  The token's signature must verify; it
        may be expired."""
        tok = _text(token, "token")
        with self._call((keys, Keys, "keys", False),
                        (store, Store, "store", False)) as (c, k, s):
            _lib.fn("vbill_link_revoke")(c, k, s, tok)

    def auth_check(self, keys: Keys, store: Store, token: str, digits: str, client: str,
                   now: int = 0) -> str:
        """The birth-date check; returns a session token.  client (required): the customer's
        address as the server saw it or as your own proxy verified it, never a header the
        client controls (None is a TypeError, "" an ArgumentError).  Raises AuthWrongError
        (how many tries remain), AuthLockedError (the link, the subscriber's cycle or the
        client is locked or slowed; until when), LinkExpiredError (also a revoked link), a
        LinkError, KeyFileError (the link's key has no pepper loaded) or StoreError."""
        args = (_text(token, "token"), _text(digits, "digits"), _text(client, "client"),
                _int(now, "now", "int64"))
        out = c_void_p()
        with self._call((keys, Keys, "keys", False),
                        (store, Store, "store", False)) as (c, k, s):
            _lib.fn("vbill_auth_check")(c, k, s, *args, byref(out))
        return _lib.take_string(out)

    def session_verify(self, keys: Keys, session: str, link_token: str, client: str,
                       store: Optional[Store] = None, now: int = 0) -> None:
        """Raises SessionError (malformed, altered, another link or client) / LinkExpiredError
        / a LinkError unless the session is valid for this link and client (the client of
        the check, required: None is a TypeError, "" an ArgumentError).  With a store, a
        link revoked or locked for good also refuses its sessions; without one neither is
        seen."""
        args = (_text(session, "session"), _text(link_token, "link_token"),
                _text(client, "client"), _int(now, "now", "int64"))
        with self._call((keys, Keys, "keys", False),
                        (store, Store, "store", True)) as (c, k, s):
            _lib.fn("vbill_session_verify")(c, k, s, *args)

    def message_build(self, bill: Bill, url: str, template: Optional[str] = None) -> str:
        """The SMS text for a bill and its link URL (template None: the locale's default)."""
        u, t = _text(url, "url"), _text(template, "template", True)
        out = c_void_p()
        with self._call((bill, Bill, "bill", False)) as (c, b):
            _lib.fn("vbill_message_build")(c, b, u, t, byref(out))
        return _lib.take_string(out)

    # ---- events, help desk, chat -------------------------------------------------------------
    def open_hooks(self, state_dir: PathLike, config: Optional[JSONLike] = None) -> Hooks:
        """Opens the outbox in state_dir with a sink configuration (dict or JSON).  The
        handle keeps this context's log callback and is independent of the context after."""
        d = _path(state_dir, "state_dir")
        cfg = _json_bytes(config, "config", True)
        with self._call() as (c,):
            hooks = Hooks(self._log_cb)
            _lib.fn("vbill_hooks_open")(c, d, cfg and _no_nul(cfg, "config"),
                                        byref(hooks._ptr))
        return hooks

    def event_data(self, bill: Bill, link: Optional[str] = None,
                   extra: Optional[JSONLike] = None) -> Dict[str, Any]:
        """What an agent needs about a bill (vbill_hooks_event_data); never the birth date."""
        lk = _text(link, "link", True)
        ex = _json_bytes(extra, "extra", True)
        out = c_void_p()
        with self._call((bill, Bill, "bill", False)) as (c, b):
            _lib.fn("vbill_hooks_event_data")(c, b, lk, ex and _no_nul(ex, "extra"), byref(out))
        return json.loads(_lib.take_string(out))

    def chat_answer(self, bill: Bill, question: str, faq: Optional[JSONLike] = None,
                    position_s: float = -1.0, now: int = 0) -> Dict[str, Any]:
        """Answers a customer's question from the bill's values and the FAQ, or says to
        escalate (then result["event"] is ready for Hooks.emit)."""
        q = _text(question, "question")
        f = _json_bytes(faq, "faq", True)
        pos, n = _float(position_s, "position_s"), _int(now, "now", "int64")
        out = c_void_p()
        with self._call((bill, Bill, "bill", False)) as (c, b):
            _lib.fn("vbill_chat_answer")(c, b, q, f and _no_nul(f, "faq"), pos, n, byref(out))
        return json.loads(_lib.take_string(out))


def render(template: Union[Template, PathLike], bill: Union[Bill, JSONLike],
           mp4: Optional[PathLike] = None, hls: Optional[PathLike] = None, speed: float = 0.0,
           shared_url: Optional[str] = None, ctx: Optional[Context] = None) -> None:
    """Renders one bill's video: an MP4 file (mp4=path) and/or an HLS stream (hls=directory).
    template is a Template or a template directory (opened and prepared, which is slow the
    first time and cached after); bill is a Bill or a record (dict or JSON text).  speed: 0
    automatic (slow for seniors), 1.0 normal, or the template's slow speed."""
    if mp4 is None and hls is None:
        raise ArgumentError(Status.ERR_ARG, "render: give mp4=PATH and/or hls=DIR")
    own = ctx is None
    c = Context() if own else ctx
    t = b = None
    try:
        t = template if isinstance(template, Template) else c.open_template(template)
        b = bill if isinstance(bill, Bill) else c.bill(bill)
        if not t.is_prepared:
            t.prepare()
        if mp4 is not None:
            c.render_mp4(t, b, mp4, speed)
        if hls is not None:
            c.render_hls(t, b, hls, speed, shared_url)
    finally:
        if b is not None and b is not bill:
            b.close()
        if t is not None and t is not template:
            t.close()
        if own:
            c.close()
