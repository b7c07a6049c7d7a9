"""Loading libvbill and declaring its C prototypes (ctypes, standard library only).

The library is found, in this order:
  1. the path in the environment variable VBILL_LIBRARY (then nothing else is tried);
  2. its SONAME, libvbill.so.1, through the dynamic loader (LD_LIBRARY_PATH, ld.so.cache);
  3. libvbill.so.1 in the libdir recorded when this package was installed by `make install`;
  4. libvbill.so.1 in `pkg-config --variable=libdir libvbill` (honours PKG_CONFIG_PATH).
Functions are resolved when first used, so a binding newer than the library fails with
UnavailableError on the missing call only, not at import.

Nothing here checks handles: the objects of vbill/__init__.py pass only live pointers of the
right type (that is where every argument is checked), never a Python object, to these
functions.  A failing call raises the Error of its status with the message of the handle it
was made on (its first argument): each prototype names that handle's kind.
"""
from __future__ import annotations

import ctypes
import os
import shutil
import subprocess
import threading
from ctypes import (CFUNCTYPE, POINTER, c_char_p, c_double, c_int, c_int64, c_long,
                    c_size_t, c_uint, c_void_p)
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

from ._errors import Error, UnavailableError, error_for

SONAME = "libvbill.so.1"

c_status = c_int
p_out = POINTER(c_void_p)  # char ** / unsigned char ** results, freed with vbill_free
p_handle = POINTER(c_void_p)  # vbill_x ** results

# vbill_log_fn(void *user, vbill_log_level level, const char *message)
LOG_FN = CFUNCTYPE(None, c_void_p, c_int, c_char_p)
# vbill_lock_fn(void *user, const char *event_json): the lock hook and the alarm
LOCK_FN = CFUNCTYPE(None, c_void_p, c_char_p)
# int vbill_hook_fn(void *user, const char *type, const char *event_json)
HOOK_FN = CFUNCTYPE(c_int, c_void_p, c_char_p, c_char_p)


def _candidates() -> List[str]:
    env = os.environ.get("VBILL_LIBRARY")
    if env:
        return [env]  # an explicit choice is never silently replaced by another library
    found = [SONAME]
    try:
        from . import _installed  # written by `make install`

        found.append(os.path.join(_installed.LIBDIR, SONAME))
    except ImportError:
        pass
    if shutil.which("pkg-config"):
        try:
            libdir = subprocess.run(["pkg-config", "--variable=libdir", "libvbill"],
                                    capture_output=True, text=True, timeout=10).stdout.strip()
            if libdir:
                found.append(os.path.join(libdir, SONAME))
        except (OSError, subprocess.SubprocessError):
            pass
    return found


def _load() -> ctypes.CDLL:
    errors = []
    for name in _candidates():
        try:
            return ctypes.CDLL(name)
        except OSError as e:
            errors.append("%s: %s" % (name, e))
    raise ImportError("vbill: cannot load libvbill (set VBILL_LIBRARY to its path): "
                      + "; ".join(errors))


lib = _load()

# The errmsg function of each kind of handle a call can be made on.
_ERRMSG = {"ctx": "vbill_ctx_errmsg", "template": "vbill_template_errmsg",
           "keys": "vbill_keys_errmsg", "store": "vbill_store_errmsg",
           "hooks": "vbill_hooks_errmsg"}


def _pointer(a: Any) -> Optional[int]:
    if isinstance(a, c_void_p):
        return a.value
    return a if isinstance(a, int) else None


def _make_errcheck(kind: Optional[str]) -> Callable[[int, Any, Tuple[Any, ...]], int]:
    def errcheck(result: int, func: Any, args: Tuple[Any, ...]) -> int:
        if result != 0:
            text = ""
            handle = _pointer(args[0]) if kind and args else None
            if handle:
                raw = getattr(lib, _ERRMSG[kind])(c_void_p(handle))
                text = (raw or b"").decode("utf-8", "replace")
            if not text:
                text = (lib.vbill_strerror(result) or b"").decode("utf-8", "replace")
            raise error_for(result, text)
        return result
    return errcheck


_check_ctx = _make_errcheck("ctx")
_check_template = _make_errcheck("template")
_check_keys = _make_errcheck("keys")
_check_store = _make_errcheck("store")
_check_hooks = _make_errcheck("hooks")
_check_none = _make_errcheck(None)
P = c_void_p

# name: (restype, argtypes, errcheck)
_PROTOS: Dict[str, Tuple[Any, List[Any], Any]] = {
    "vbill_strerror": (c_char_p, [c_int], None),
    "vbill_version": (c_char_p, [], None),
    "vbill_version_num": (c_uint, [], None),
    "vbill_has": (c_int, [c_char_p], None),
    "vbill_free": (None, [P], None),
    "vbill_ctx_new": (c_status, [p_handle], _check_none),
    "vbill_ctx_free": (None, [P], None),
    "vbill_ctx_errmsg": (c_char_p, [P], None),
    "vbill_ctx_set_log": (None, [P, LOG_FN, P, c_int], None),
    "vbill_ctx_set_rules": (c_status, [P, c_char_p, c_size_t], _check_ctx),
    "vbill_ctx_load_rules": (c_status, [P, c_char_p], _check_ctx),
    "vbill_default_rules": (c_char_p, [], None),
    "vbill_ctx_set_senior": (c_status, [P, c_int, c_double], _check_ctx),
    "vbill_classify": (c_status, [P, c_char_p, c_size_t, c_long, p_out], _check_ctx),
    "vbill_fill": (c_status, [P, c_char_p, c_size_t, c_long, p_out], _check_ctx),
    "vbill_default_slots": (c_status, [P, c_char_p, c_char_p, p_out], _check_ctx),
    "vbill_mustache_render": (c_status, [P, c_char_p, c_size_t, c_char_p, c_char_p, p_out,
                                         POINTER(c_size_t)], _check_ctx),
    "vbill_ctx_set_partials_dir": (c_status, [P, c_char_p], _check_ctx),
    # the bill
    "vbill_bill_new": (c_status, [P, c_char_p, c_size_t, c_long, p_handle], _check_ctx),
    "vbill_bill_from_json": (c_status, [P, c_char_p, c_size_t, p_handle], _check_ctx),
    "vbill_bill_to_json": (c_status, [P, P, p_out], _check_ctx),
    "vbill_bill_context": (c_status, [P, P, p_out], _check_ctx),
    "vbill_bill_id": (c_char_p, [P], None),
    "vbill_bill_scenario": (c_char_p, [P], None),
    "vbill_bill_locale": (c_char_p, [P], None),
    "vbill_bill_cycle_start": (c_char_p, [P], None),
    "vbill_bill_cycle": (c_char_p, [P], None),
    "vbill_bill_senior": (c_int, [P], None),
    "vbill_bill_speed": (c_double, [P], None),
    "vbill_bill_can_issue_link": (c_int, [P], None),
    "vbill_bill_free": (None, [P], None),
    # video templates, prepare, render (MP4, HLS, playlist, one segment, a still)
    "vbill_template_open": (c_status, [P, c_char_p, p_handle], _check_ctx),
    "vbill_template_prepare": (c_status, [P], _check_template),
    "vbill_template_errmsg": (c_char_p, [P], None),
    "vbill_template_is_prepared": (c_int, [P], None),
    "vbill_template_scenario": (c_char_p, [P], None),
    "vbill_template_info": (P, [P], None),
    "vbill_template_free": (None, [P], None),
    "vbill_render_mp4": (c_status, [P, P, P, c_double, c_char_p], _check_ctx),
    "vbill_render_hls": (c_status, [P, P, P, c_double, c_char_p, c_char_p], _check_ctx),
    "vbill_render_playlist": (c_status, [P, P, P, c_double, c_char_p, c_char_p], _check_ctx),
    "vbill_render_segment": (c_status, [P, P, P, c_double, c_int, c_char_p], _check_ctx),
    "vbill_render_still": (c_status, [P, P, P, c_double, c_double, c_int, p_out,
                                      POINTER(c_size_t)], _check_ctx),
    "vbill_still_jpeg": (c_status, [P, c_char_p, c_double, c_int, p_out, POINTER(c_size_t)],
                         _check_ctx),
    "vbill_template_builtin_write": (c_status, [P, c_char_p, c_char_p], _check_ctx),
    "vbill_template_builtin_list": (c_char_p, [], None),
    # signed links, knowledge check, store, sessions, SMS
    "vbill_keys_generate": (c_status, [P, c_char_p, p_out], _check_ctx),
    "vbill_keys_from_json": (c_status, [P, c_char_p, c_size_t, p_handle], _check_ctx),
    "vbill_keys_load": (c_status, [P, c_char_p, p_handle], _check_ctx),
    "vbill_keys_free": (None, [P], None),
    "vbill_keys_errmsg": (c_char_p, [P], None),
    "vbill_keys_set_session_ttl": (c_status, [P, c_int64], _check_keys),
    "vbill_keys_split": (c_status, [P, c_char_p, c_char_p, p_out, p_out], _check_ctx),
    "vbill_keys_add_peppers": (c_status, [P, c_char_p, c_size_t], _check_keys),
    "vbill_keys_load_peppers": (c_status, [P, c_char_p], _check_keys),
    "vbill_link_issue": (c_status, [P, P, P, c_int64, c_int64, p_out], _check_ctx),
    "vbill_link_verify": (c_status, [P, P, c_char_p, c_int64, p_out], _check_ctx),
    "vbill_link_verify_store": (c_status, [P, P, P, c_char_p, c_int64, p_out], _check_ctx),
    "vbill_link_attempts": (c_status, [P, P, P, c_char_p, c_int64, p_out], _check_ctx),
    "vbill_link_revoke": (c_status, [P, P, P, c_char_p], _check_ctx),
    "vbill_link_unlock": (c_status, [P, P, P, c_char_p], _check_ctx),
    "vbill_link_reissue": (c_status, [P, P, P, c_char_p, P, c_int64, c_int64, p_out], _check_ctx),
    "vbill_store_open_sqlite": (c_status, [P, c_char_p, p_handle], _check_ctx),
    "vbill_store_open_redis": (c_status, [P, c_char_p, c_int, c_char_p, p_handle], _check_ctx),
    "vbill_store_open_redis_url": (c_status, [P, c_char_p, c_char_p, p_handle], _check_ctx),
    "vbill_store_free": (None, [P], None),
    "vbill_store_errmsg": (c_char_p, [P], None),
    "vbill_store_set_limits": (c_status, [P, c_int, c_int64, c_int, c_int, c_int64],
                               _check_store),
    "vbill_store_set_lock_hook": (None, [P, LOCK_FN, P], None),
    "vbill_store_set_subscriber_limit": (c_status, [P, c_int], _check_store),
    "vbill_store_set_slowdown": (c_status, [P, c_int64], _check_store),
    "vbill_store_set_alarm": (c_status, [P, c_int64, c_int64, LOCK_FN, P], _check_store),
    "vbill_store_stats": (c_status, [P, c_int64, p_out], _check_store),
    "vbill_auth_check": (c_status, [P, P, P, c_char_p, c_char_p, c_char_p, c_int64, p_out],
                         _check_ctx),
    "vbill_session_verify": (c_status, [P, P, P, c_char_p, c_char_p, c_char_p, c_int64],
                             _check_ctx),
    "vbill_message_build": (c_status, [P, P, c_char_p, c_char_p, p_out], _check_ctx),
    "vbill_text_euckr_bytes": (c_status, [c_char_p, POINTER(c_size_t)], _check_none),
    # events, outbox, sinks, chat
    "vbill_hooks_open": (c_status, [P, c_char_p, c_char_p, p_handle], _check_ctx),
    "vbill_hooks_free": (None, [P], None),
    "vbill_hooks_errmsg": (c_char_p, [P], None),
    "vbill_hooks_set_callback": (c_status, [P, c_char_p, c_char_p, HOOK_FN, P], _check_hooks),
    "vbill_hooks_emit": (c_status, [P, c_char_p, c_char_p, c_char_p, p_out], _check_hooks),
    "vbill_hooks_emit_still": (c_status, [P, c_char_p, c_char_p, c_char_p, c_char_p, c_size_t,
                                          p_out], _check_hooks),
    "vbill_hooks_event_data": (c_status, [P, P, c_char_p, c_char_p, p_out], _check_ctx),
    "vbill_hooks_pump": (c_status, [P, c_uint, POINTER(c_size_t)], _check_hooks),
    "vbill_hooks_pending": (c_status, [P, POINTER(c_size_t), POINTER(c_int64)], _check_hooks),
    "vbill_hooks_start": (c_status, [P], _check_hooks),
    "vbill_hooks_stop": (c_status, [P], _check_hooks),
    "vbill_hooks_status": (c_status, [P, p_out], _check_hooks),
    "vbill_hooks_dead": (c_status, [P, p_out], _check_hooks),
    "vbill_hooks_replay": (c_status, [P, c_char_p, POINTER(c_size_t)], _check_hooks),
    "vbill_chat_answer": (c_status, [P, P, c_char_p, c_char_p, c_double, c_int64, p_out],
                          _check_ctx),
}

_resolved: Dict[str, Any] = {}
_resolve_lock = threading.Lock()


def fn(name: str) -> Any:
    """The ctypes function `name` with its prototype and errcheck set."""
    f = _resolved.get(name)
    if f is not None:
        return f
    with _resolve_lock:
        try:
            f = getattr(lib, name)
        except AttributeError:
            raise UnavailableError(23, "%s is not in the loaded libvbill (version %s)"
                                   % (name, version())) from None
        restype, argtypes, errcheck = _PROTOS[name]
        f.restype = restype
        f.argtypes = argtypes
        if errcheck is not None:
            f.errcheck = errcheck
        _resolved[name] = f
        return f


def exports(name: str) -> bool:
    """Whether the loaded library exports the C function `name` (for the binding's own
    tests; callers ask vbill.has(feature) which parts the library was built with)."""
    return hasattr(lib, name)


for _name in ("vbill_strerror", "vbill_version", "vbill_free", "vbill_ctx_errmsg",
              "vbill_template_errmsg", "vbill_keys_errmsg", "vbill_store_errmsg",
              "vbill_hooks_errmsg"):
    fn(_name)


def version() -> str:
    return lib.vbill_version().decode()


def take_string(p: c_void_p) -> str:
    """Decodes a library-owned string and releases it with vbill_free."""
    if not p.value:
        return ""
    try:
        return ctypes.string_at(p.value).decode("utf-8")
    finally:
        lib.vbill_free(p)


def take_secret(p: c_void_p) -> str:
    """take_string for text holding secrets (a key file, a pepper set): the library's copy is
    overwritten with zeros before it is released.  (The Python str cannot be wiped: drop it
    as soon as it is written to its 0600 file.)"""
    if not p.value:
        return ""
    try:
        raw = ctypes.string_at(p.value)
        ctypes.memset(p.value, 0, len(raw))
        return raw.decode("utf-8")
    finally:
        lib.vbill_free(p)


def take_bytes(p: c_void_p, n: int) -> bytes:
    if not p.value:
        return b""
    try:
        return ctypes.string_at(p.value, n)
    finally:
        lib.vbill_free(p)


__all__ = ["lib", "fn", "exports", "take_string", "take_secret", "take_bytes", "version",
           "Error", "LOG_FN", "LOCK_FN", "HOOK_FN", "SONAME"]
