"""vbill: Python binding of libvbill, personalised video bills for carriers.

A thin ctypes layer over the C library (include/vbill.h): every call is one C call, results
are the library's JSON decoded into dicts (or, with the *_json variants, the library's JSON
text unchanged), and every failure raises a :class:`vbill.Error` subclass carrying
``.status`` and the library's message.

    import vbill
    with vbill.Context() as ctx:
        result = ctx.fill({"id": "S-1", ...})        # dict, or a JSON string
        print(result["scenario"], result["amounts"]["this_month"])

A Context may be used by one thread at a time (the binding serialises calls with a lock);
distinct contexts are independent.
"""
from __future__ import annotations

import enum
import functools
import json
import os
import threading
import weakref
from ctypes import byref, c_int64, c_size_t, c_void_p
from typing import Any, Callable, Dict, Iterable, Iterator, List, Optional, Tuple, Union

from . import _lib
from ._errors import (AmountOverflowError, ArgumentError, AuthError, AuthLockedError,
                      AuthWrongError, Error, FileError, FontError, HookError, JSONError,
                      KeyFileError, LinkError, LinkExpiredError, LinkKeyError,
                      LinkMalformedError, LinkSignatureError, MediaError, NoMemoryError,
                      NotFoundError, NotTargetError, RecordError, RenderError, RulesError,
                      SessionError, Status, StoreError, TemplateError, UnavailableError,
                      error_for)

__version__ = "0.1.0"

JSONLike = Union[str, bytes, Dict[str, Any], List[Any]]

__all__ = [
    "Context", "Template", "Keys", "Store", "Hooks", "render", "builtin_templates", "LogLevel", "Status", "version", "strerror",
    "default_rules", "default_rules_json", "mustache", "text_euckr_bytes", "read_jsonl",
    "Error", "ArgumentError", "NoMemoryError", "FileError", "JSONError", "RecordError",
    "RulesError", "TemplateError", "AmountOverflowError", "RenderError", "MediaError",
    "FontError", "NotTargetError", "LinkError", "LinkMalformedError", "LinkSignatureError",
    "LinkExpiredError", "LinkKeyError", "AuthError", "AuthWrongError", "AuthLockedError",
    "SessionError", "StoreError", "HookError", "NotFoundError", "KeyFileError",
    "UnavailableError", "error_for",
]


class LogLevel(enum.IntEnum):
    ERROR = 0
    WARN = 1
    INFO = 2
    DEBUG = 3


def _json_bytes(value: Optional[JSONLike], what: str = "value") -> Optional[bytes]:
    """A record / rule set / data value as UTF-8 JSON text: dicts and lists are encoded,
    strings passed through as they are (so the library judges them)."""
    if value is None:
        return None
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return value.encode("utf-8")
    if isinstance(value, (dict, list, int, float, bool)):
        return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    raise TypeError("%s must be a JSON string, bytes, dict or list, not %s"
                    % (what, type(value).__name__))


def _cstr(value: Optional[Union[str, bytes, "os.PathLike[str]"]]) -> Optional[bytes]:
    if value is None:
        return None
    if isinstance(value, bytes):
        return value
    return os.fsencode(value)


def version() -> str:
    """The library's version, e.g. "0.1.0"."""
    return _lib.version()


def strerror(status: int) -> str:
    """The name and meaning of a status code, e.g. "VBILL_ERR_RECORD: invalid record"."""
    return _lib.lib.vbill_strerror(int(status)).decode("utf-8")


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
    raw = text if isinstance(text, bytes) else text.encode("utf-8")
    _lib.fn("vbill_text_euckr_bytes")(raw, byref(n))
    return n.value


def mustache(template: str, data: JSONLike, partials: Optional[JSONLike] = None) -> str:
    """Renders a Mustache template over JSON data (a one-off context; see
    Context.mustache to reuse one, e.g. with a partials directory)."""
    with Context() as ctx:
        return ctx.mustache(template, data, partials)


def builtin_templates() -> List[str]:
    """The scenario ids that have a built-in video template."""
    return json.loads(_lib.fn("vbill_template_builtin_list")().decode("utf-8"))


def render(template: Union["Template", str], record: JSONLike, mp4: Optional[str] = None,
           hls: Optional[str] = None, speed: float = 0.0, shared_url: Optional[str] = None,
           ctx: Optional["Context"] = None) -> None:
    """Renders one record's video bill: an MP4 file (mp4=path) and/or an HLS stream
    (hls=directory).  template is a Template or a template directory (opened and prepared,
    which is slow the first time and cached after).  speed: 0 automatic (slow for seniors),
    1.0 normal, or the template's slow speed."""
    if mp4 is None and hls is None:
        raise ArgumentError(Status.ERR_ARG, "render: give mp4=PATH and/or hls=DIR")
    own = ctx is None
    c = Context() if own else ctx
    t = None
    try:
        t = c.open_template(template) if isinstance(template, (str, os.PathLike)) else template
        if not t.is_prepared:
            t.prepare(c)
        if mp4 is not None:
            c.render_mp4(t, record, mp4, speed)
        if hls is not None:
            c.render_hls(t, record, hls, speed, shared_url)
    finally:
        if t is not None and t is not template:
            t.close()
        if own:
            c.close()


def read_jsonl(path: str) -> Iterator[Tuple[int, str]]:
    """Yields (line number, line) for the non-blank lines of a JSON Lines file, the line
    numbers the library's messages expect."""
    with open(path, "rb") as f:
        for n, raw in enumerate(f, 1):
            if raw.strip():
                yield n, raw.decode("utf-8", "replace")


def _live(method: Callable[..., Any]) -> Callable[..., Any]:
    """Refuses calls on a closed handle with ArgumentError (instead of passing NULL)."""
    @functools.wraps(method)
    def wrapper(self: "_Handle", *args: Any, **kwargs: Any) -> Any:
        if not self._ptr.value:
            raise ArgumentError(Status.ERR_ARG, "%s is closed" % type(self).__name__)
        return method(self, *args, **kwargs)
    return wrapper


class _Handle:
    """Owner of one C handle: released once, by close(), the with-block or the GC."""

    _free_name = ""

    def __init__(self) -> None:
        self._ptr = c_void_p()

    @property
    def _as_parameter_(self) -> c_void_p:
        if not self._ptr.value:
            raise ArgumentError(Status.ERR_ARG, "%s is closed" % type(self).__name__)
        return self._ptr

    @property
    def closed(self) -> bool:
        return not self._ptr.value

    def close(self) -> None:
        """Releases the C object; safe to call more than once."""
        p, self._ptr = self._ptr, c_void_p()
        if p.value:
            _lib._owner_ctx.pop(p.value, None)
            _lib.fn(self._free_name)(p)

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


class Template(_Handle):
    """A video template (a directory with template.json and a base video).  Made by
    Context.open_template.  Immutable once prepared: any number of threads may render from
    one template at once, each with its own Context."""

    _free_name = "vbill_template_free"

    def __init__(self, ctx: "Context") -> None:
        super().__init__()
        self._ctx = ctx  # the context that opened it: prepare() reports errors there

    @_live
    def prepare(self, ctx: Optional["Context"] = None) -> None:
        """Normalises the base video once (cached in DIR/.vbill-prepared/); idempotent."""
        c = ctx or self._ctx
        with c._lock:
            _lib.fn("vbill_template_prepare")(c, self)

    @property
    def is_prepared(self) -> bool:
        return bool(_lib.fn("vbill_template_is_prepared")(self._as_parameter_))

    @property
    def scenario(self) -> str:
        return _lib.fn("vbill_template_scenario")(self._as_parameter_).decode("utf-8")

    @_live
    def info(self) -> Dict[str, Any]:
        """The template's description (source, frames, segments, slot windows)."""
        p = c_void_p(_lib.fn("vbill_template_info")(self))
        if not p.value:
            raise NoMemoryError(Status.ERR_NOMEM, "vbill_template_info: out of memory")
        return json.loads(_lib.take_string(p))


class Keys(_Handle):
    """A set of link keys (one signing key, any number of verification keys).  Immutable
    once loaded; may be shared by threads.  Made by Context.load_keys / keys_from_json."""

    _free_name = "vbill_keys_free"

    @_live
    def set_session_ttl(self, seconds: int) -> None:
        """Session length given to new sessions (default 1800 s, 1 s to 31 days)."""
        _lib.fn("vbill_keys_set_session_ttl")(self, c_int64(int(seconds)))


class Store(_Handle):
    """The attempt limiter's state store (SQLite or Redis).  One thread at a time."""

    _free_name = "vbill_store_free"

    def __init__(self) -> None:
        super().__init__()
        self._lock_cb: Any = None

    @_live
    def set_limits(self, soft: int = 5, cooling_seconds: int = 900, hard: int = 10,
                   client_max: int = 30, client_window_seconds: int = 3600) -> None:
        """Attempt limits: see vbill_store_set_limits (ArgumentError for values < 1 or
        soft > hard)."""
        _lib.fn("vbill_store_set_limits")(self, soft, cooling_seconds, hard, client_max,
                                          client_window_seconds)

    @_live
    def set_lock_hook(self, callback: Optional[Callable[[Dict[str, Any]], None]]) -> None:
        """callback(event: dict) is called when a link becomes locked (None removes it)."""
        if callback is None:
            self._lock_cb = None
            _lib.fn("vbill_store_set_lock_hook")(self, _lib.LOCK_FN(), None)
            return

        def trampoline(_user: Any, event_json: bytes) -> None:
            try:
                callback(json.loads(event_json.decode("utf-8")))
            except Exception:  # an exception must never unwind through C
                pass
        self._lock_cb = _lib.LOCK_FN(trampoline)
        _lib.fn("vbill_store_set_lock_hook")(self, self._lock_cb, None)


class Hooks(_Handle):
    """The durable event outbox and its sinks (webhooks, Zendesk, RT, callbacks).
    Made by Context.open_hooks.  One thread at a time (besides its own worker)."""

    _free_name = "vbill_hooks_free"

    def __init__(self, ctx: "Context") -> None:
        super().__init__()
        self._ctx = ctx  # receives this handle's errors: it must outlive the handle
        self._callbacks: Dict[str, Any] = {}

    def close(self) -> None:
        super().close()
        self._callbacks.clear()

    @_live
    def set_callback(self, name: str, callback: Callable[[str, Dict[str, Any]], Optional[int]],
                     events: Optional[List[str]] = None) -> None:
        """Registers callback(type, event) as the sink `name` for the event types `events`
        (None: all).  It returns None/0 when handled, a positive number of seconds to retry
        after, or a negative number for the usual backoff.  An exception counts as a failure
        (retried with backoff)."""
        def trampoline(_user: Any, etype: bytes, event_json: bytes) -> int:
            try:
                r = callback(etype.decode("utf-8"), json.loads(event_json.decode("utf-8")))
                return int(r or 0)
            except Exception:
                return -1
        cb = _lib.HOOK_FN(trampoline)
        _lib.fn("vbill_hooks_set_callback")(self, name.encode(), _json_bytes(events), cb, None)
        self._callbacks[name] = cb  # kept alive as long as the library may call it

    @_live
    def emit(self, type: str, data: Optional[JSONLike] = None,
             subject: Optional[str] = None) -> str:
        """Queues an event durably; returns its id."""
        out = c_void_p()
        _lib.fn("vbill_hooks_emit")(self, type.encode(), _cstr(subject), _json_bytes(data),
                                    byref(out))
        return _lib.take_string(out)

    @_live
    def emit_still(self, type: str, video_path: str, position_s: float,
                   data: Optional[JSONLike] = None, subject: Optional[str] = None) -> str:
        """Same as emit, with a JPEG still of video_path at position_s attached."""
        out = c_void_p()
        _lib.fn("vbill_hooks_emit_still")(self, type.encode(), _cstr(subject), _json_bytes(data),
                                          _cstr(video_path), float(position_s), byref(out))
        return _lib.take_string(out)

    @_live
    def pump(self, max_ms: int = 0) -> int:
        """Delivers what is due now (for at most max_ms ms; 0: one batch); returns how many
        deliveries succeeded."""
        n = c_size_t(0)
        _lib.fn("vbill_hooks_pump")(self, int(max_ms), byref(n))
        return n.value

    @_live
    def pending(self) -> Tuple[int, int]:
        """(deliveries pending, Unix ms of the earliest due or 0)."""
        n, due = c_size_t(0), c_int64(0)
        _lib.fn("vbill_hooks_pending")(self, byref(n), byref(due))
        return n.value, due.value

    @_live
    def start(self) -> None:
        """Starts the library's delivery worker thread."""
        _lib.fn("vbill_hooks_start")(self)

    @_live
    def stop(self) -> None:
        _lib.fn("vbill_hooks_stop")(self)

    @_live
    def status(self) -> Dict[str, Any]:
        out = c_void_p()
        _lib.fn("vbill_hooks_status")(self, byref(out))
        return json.loads(_lib.take_string(out))

    @_live
    def dead(self) -> List[Dict[str, Any]]:
        out = c_void_p()
        _lib.fn("vbill_hooks_dead")(self, byref(out))
        return json.loads(_lib.take_string(out))

    @_live
    def replay(self, event_id: Optional[str] = None) -> int:
        """Moves dead letters (of event_id, or all) back to the outbox; returns how many."""
        n = c_size_t(0)
        _lib.fn("vbill_hooks_replay")(self, _cstr(event_id), byref(n))
        return n.value


class Context(_Handle):
    """A libvbill context: rules, options, the last error message.

    Use as a context manager, or call close(); the GC closes it too.  Calls are serialised
    by a lock, so one Context may be shared by threads (one call at a time)."""

    _free_name = "vbill_ctx_free"

    def __init__(self, rules: Optional[JSONLike] = None) -> None:
        super().__init__()
        self._lock = threading.RLock()
        self._log_cb: Any = None
        self._hooks: "weakref.WeakSet[Hooks]" = weakref.WeakSet()
        _lib.fn("vbill_ctx_new")(byref(self._ptr))
        if rules is not None:
            self.set_rules(rules)

    # ---- context ------------------------------------------------------------------------
    @property
    def errmsg(self) -> str:
        """The message of the last failure on this context ("" when none)."""
        return _lib.lib.vbill_ctx_errmsg(self._as_parameter_).decode("utf-8", "replace")

    @_live
    def set_log(self, callback: Optional[Callable[[int, str], None]],
                level: int = LogLevel.WARN) -> None:
        """callback(level, message) receives the library's log lines up to `level`
        (None removes it)."""
        with self._lock:
            if callback is None:
                _lib.fn("vbill_ctx_set_log")(self, _lib.LOG_FN(), None, int(level))
                self._log_cb = None
                return

            def trampoline(_user: Any, lvl: int, message: bytes) -> None:
                try:
                    callback(lvl, message.decode("utf-8", "replace"))
                except Exception:
                    pass
            cb = _lib.LOG_FN(trampoline)
            _lib.fn("vbill_ctx_set_log")(self, cb, None, int(level))
            self._log_cb = cb

    @_live
    def set_rules(self, rules: JSONLike) -> None:
        """Replaces the rule set (JSON text or dict); raises RulesError/JSONError naming the
        position of the fault and keeps the previous rules then."""
        data = _json_bytes(rules, "rules")
        with self._lock:
            _lib.fn("vbill_ctx_set_rules")(self, data, len(data))

    @_live
    def load_rules(self, path: str) -> None:
        """Replaces the rule set with the one in a file."""
        with self._lock:
            _lib.fn("vbill_ctx_load_rules")(self, _cstr(path))

    @_live
    def set_senior(self, age: int = 60, speed: float = 0.8) -> None:
        """Age from which a customer is senior, and their playback speed."""
        with self._lock:
            _lib.fn("vbill_ctx_set_senior")(self, int(age), float(speed))

    @_live
    def set_partials_dir(self, directory: Optional[str]) -> None:
        """Directory searched for Mustache partials by name (None to unset)."""
        with self._lock:
            _lib.fn("vbill_ctx_set_partials_dir")(self, _cstr(directory))

    def close(self) -> None:
        """Releases the context, after the hooks handles opened on it."""
        for h in list(getattr(self, "_hooks", ())):
            h.close()
        with getattr(self, "_lock", threading.RLock()):
            super().close()

    # ---- records --------------------------------------------------------------------------
    def _record_call(self, name: str, record: JSONLike, line: int) -> str:
        data = _json_bytes(record, "record")
        out = c_void_p()
        with self._lock:
            _lib.fn(name)(self, data, len(data), int(line), byref(out))
        return _lib.take_string(out)

    @_live
    def classify_json(self, record: JSONLike, line: int = 0) -> str:
        """Validates and classifies one record; the library's JSON text unchanged."""
        return self._record_call("vbill_classify", record, line)

    @_live
    def classify(self, record: JSONLike, line: int = 0) -> Dict[str, Any]:
        """{"id","scenario","age","senior","speed","flags"}; RecordError/JSONError on a bad
        record (the message names the record or line, the field and the problem)."""
        return json.loads(self.classify_json(record, line))

    @_live
    def fill_json(self, record: JSONLike, line: int = 0) -> str:
        """Validates, classifies and fills one record; the library's JSON text unchanged."""
        return self._record_call("vbill_fill", record, line)

    @_live
    def fill(self, record: JSONLike, line: int = 0) -> Dict[str, Any]:
        """The classify result plus "period", "amounts" and "slots"."""
        return json.loads(self.fill_json(record, line))

    @_live
    def fill_context_json(self, record: JSONLike, line: int = 0) -> str:
        return self._record_call("vbill_fill_context", record, line)

    @_live
    def fill_context(self, record: JSONLike, line: int = 0) -> Dict[str, Any]:
        """The full Mustache context of a record (never the birth date)."""
        return json.loads(self.fill_context_json(record, line))

    @_live
    def default_slots(self, scenario: str, locale: str = "ko-KR") -> Dict[str, str]:
        """The default slot templates of a scenario in a locale ({} when unknown)."""
        out = c_void_p()
        with self._lock:
            _lib.fn("vbill_default_slots")(self, scenario.encode(), locale.encode(), byref(out))
        return json.loads(_lib.take_string(out) or "{}")

    @_live
    def mustache(self, template: str, data: JSONLike,
                 partials: Optional[JSONLike] = None) -> str:
        """Renders a Mustache template over JSON data; partials is a dict/JSON object of
        name -> template (others are looked up in the partials directory)."""
        t = template.encode("utf-8")
        out, n = c_void_p(), c_size_t(0)
        with self._lock:
            _lib.fn("vbill_mustache_render")(self, t, len(t), _json_bytes(data, "data"),
                                             _json_bytes(partials, "partials"), byref(out),
                                             byref(n))
        return _lib.take_bytes(out, n.value).decode("utf-8")

    # ---- video templates and rendering -----------------------------------------------------
    @_live
    def open_template(self, directory: Union[str, "os.PathLike[str]"]) -> Template:
        """Opens (and validates) the template in a directory; see Template.prepare."""
        t = Template(self)
        with self._lock:
            _lib.fn("vbill_template_open")(self, _cstr(directory), byref(t._ptr))
        return t

    @_live
    def write_builtin_template(self, scenario: str, directory: str) -> None:
        """Writes DIR/template.json and DIR/base.mp4 of a scenario's built-in template."""
        with self._lock:
            _lib.fn("vbill_template_builtin_write")(self, scenario.encode(), _cstr(directory))

    @_live
    def render_mp4(self, template: Template, record: JSONLike, out_path: str,
                   speed: float = 0.0) -> None:
        """Renders a record's video bill to an MP4 (atomically).  speed 0: automatic."""
        data = _json_bytes(record, "record")
        with self._lock:
            _lib.fn("vbill_render_mp4")(self, template, data, len(data), float(speed),
                                        _cstr(out_path))

    @_live
    def render_hls(self, template: Template, record: JSONLike, out_dir: str,
                   speed: float = 0.0, shared_url: Optional[str] = None) -> None:
        """Renders a record's HLS stream: out_dir/index.m3u8 and its personal segments."""
        data = _json_bytes(record, "record")
        with self._lock:
            _lib.fn("vbill_render_hls")(self, template, data, len(data), float(speed),
                                        _cstr(out_dir), _cstr(shared_url))

    @_live
    def render_segment(self, template: Template, record: JSONLike, segment: int,
                       out_path: str, speed: float = 0.0) -> None:
        """Renders one personal HLS segment (on demand); NotFoundError when not personal."""
        data = _json_bytes(record, "record")
        with self._lock:
            _lib.fn("vbill_render_segment")(self, template, data, len(data), float(speed),
                                            int(segment), _cstr(out_path))

    # ---- signed links, the knowledge check, SMS --------------------------------------------
    @_live
    def generate_keys(self, existing: Optional[JSONLike] = None) -> str:
        """A new key file (JSON text holding secrets: store it with mode 0600); with
        `existing`, its keys are kept for verification (rotation)."""
        out = c_void_p()
        with self._lock:
            _lib.fn("vbill_keys_generate")(self, _json_bytes(existing), byref(out))
        return _lib.take_string(out)

    @_live
    def keys_from_json(self, key_file_json: JSONLike) -> Keys:
        data = _json_bytes(key_file_json, "keys")
        keys = Keys()
        with self._lock:
            _lib.fn("vbill_keys_from_json")(self, data, len(data), byref(keys._ptr))
        return keys

    @_live
    def load_keys(self, path: str) -> Keys:
        keys = Keys()
        with self._lock:
            _lib.fn("vbill_keys_load")(self, _cstr(path), byref(keys._ptr))
        return keys

    @_live
    def open_store(self, path: str) -> Store:
        """The SQLite attempt store (path: a directory or a file name)."""
        store = Store()
        with self._lock:
            _lib.fn("vbill_store_open_sqlite")(self, _cstr(path), byref(store._ptr))
        return store

    @_live
    def open_redis_store(self, host: str = "127.0.0.1", port: int = 6379,
                         prefix: Optional[str] = None) -> Store:
        store = Store()
        with self._lock:
            _lib.fn("vbill_store_open_redis")(self, host.encode(), int(port), _cstr(prefix),
                                              byref(store._ptr))
        return store

    @_live
    def link_issue(self, keys: Keys, record: JSONLike, ttl_seconds: int, now: int = 0) -> str:
        """A signed link token for a record, valid ttl_seconds from now."""
        data = _json_bytes(record, "record")
        out = c_void_p()
        with self._lock:
            _lib.fn("vbill_link_issue")(self, keys, data, len(data), c_int64(now),
                                        c_int64(ttl_seconds), byref(out))
        return _lib.take_string(out)

    @_live
    def link_verify(self, keys: Keys, token: str, now: int = 0) -> Dict[str, Any]:
        """Verifies a token; returns its info (no personal data) or raises a LinkError."""
        out = c_void_p()
        with self._lock:
            _lib.fn("vbill_link_verify")(self, keys, token.encode(), c_int64(now), byref(out))
        return json.loads(_lib.take_string(out))

    @_live
    def link_reissue(self, keys: Keys, old_token: str, record: JSONLike, ttl_seconds: int,
                     now: int = 0) -> str:
        data = _json_bytes(record, "record")
        out = c_void_p()
        with self._lock:
            _lib.fn("vbill_link_reissue")(self, keys, old_token.encode(), data, len(data),
                                          c_int64(now), c_int64(ttl_seconds), byref(out))
        return _lib.take_string(out)

    @_live
    def link_unlock(self, keys: Keys, store: Store, token: str) -> None:
        with self._lock:
            _lib.fn("vbill_link_unlock")(self, keys, store, token.encode())

    @_live
    def auth_check(self, keys: Keys, store: Store, token: str, digits: str,
                   client: str = "", now: int = 0) -> str:
        """The birth-date check; returns a session token or raises AuthWrongError /
        AuthLockedError / a LinkError."""
        out = c_void_p()
        with self._lock:
            _lib.fn("vbill_auth_check")(self, keys, store, token.encode(), digits.encode(),
                                        client.encode(), c_int64(now), byref(out))
        return _lib.take_string(out)

    @_live
    def session_verify(self, keys: Keys, session: str, link_token: str, client: str = "",
                       store: Optional[Store] = None, now: int = 0) -> None:
        """Raises SessionError / LinkExpiredError / a LinkError unless the session is valid."""
        with self._lock:
            _lib.fn("vbill_session_verify")(self, keys, store, session.encode(),
                                            link_token.encode(), client.encode(), c_int64(now))

    @_live
    def message_build(self, record: JSONLike, url: str, template: Optional[str] = None) -> str:
        """The SMS text for a record and its link URL."""
        data = _json_bytes(record, "record")
        out = c_void_p()
        with self._lock:
            _lib.fn("vbill_message_build")(self, data, len(data), url.encode(), _cstr(template),
                                           byref(out))
        return _lib.take_string(out)

    # ---- events, help desk, chat -------------------------------------------------------------
    @_live
    def open_hooks(self, state_dir: str, config: Optional[JSONLike] = None) -> Hooks:
        """Opens the outbox in state_dir with a sink configuration (dict or JSON).  This
        context receives the handle's errors and is kept alive by it."""
        hooks = Hooks(self)
        with self._lock:
            _lib.fn("vbill_hooks_open")(self, _cstr(state_dir), _json_bytes(config, "config"),
                                        byref(hooks._ptr))
        _lib._owner_ctx[hooks._ptr.value] = self._ptr.value
        self._hooks.add(hooks)
        return hooks

    @_live
    def event_data(self, record: JSONLike, link: Optional[str] = None,
                   extra: Optional[JSONLike] = None) -> Dict[str, Any]:
        """What an agent needs about a record (vbill_hooks_event_data)."""
        out = c_void_p()
        with self._lock:
            _lib.fn("vbill_hooks_event_data")(self, _json_bytes(record, "record"), _cstr(link),
                                              _json_bytes(extra, "extra"), byref(out))
        return json.loads(_lib.take_string(out))

    @_live
    def chat_answer(self, context: JSONLike, question: str, faq: Optional[JSONLike] = None,
                    position_s: float = -1.0, now: int = 0) -> Dict[str, Any]:
        """Answers a customer's question from the bill's values and the FAQ, or says to
        escalate (then result["event"] is ready for Hooks.emit)."""
        out = c_void_p()
        with self._lock:
            _lib.fn("vbill_chat_answer")(self, _json_bytes(context, "context"),
                                         question.encode("utf-8"), _json_bytes(faq, "faq"),
                                         float(position_s), c_int64(now), byref(out))
        return json.loads(_lib.take_string(out))

    @_live
    def still_jpeg(self, video_path: str, position_s: float, max_width: int = 0) -> bytes:
        """A JPEG still of the frame at position_s of a video file."""
        out, n = c_void_p(), c_size_t(0)
        with self._lock:
            _lib.fn("vbill_still_jpeg")(self, _cstr(video_path), float(position_s),
                                        int(max_width), byref(out), byref(n))
        return _lib.take_bytes(out, n.value)
