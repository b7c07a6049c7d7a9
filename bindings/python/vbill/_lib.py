"""Loading libvbill and declaring its C prototypes (ctypes, standard library only).

The library is found, in this order:
  1. the path in the environment variable VBILL_LIBRARY;
  2. its SONAME, libvbill.so.0, through the dynamic loader (LD_LIBRARY_PATH, ld.so.cache);
  3. libvbill.so.0 in the libdir recorded when this package was installed by `make install`;
  4. libvbill.so.0 in `pkg-config --variable=libdir libvbill` (honours PKG_CONFIG_PATH).
Functions are resolved when first used, so a binding newer than the library fails with
UnavailableError on the missing call only, not at import.
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

SONAME = "libvbill.so.0"

c_status = c_int
p_out = POINTER(c_void_p)  # char ** / unsigned char ** results, freed with vbill_free

# vbill_log_fn(void *user, vbill_log_level level, const char *message)
LOG_FN = CFUNCTYPE(None, c_void_p, c_int, c_char_p)
# vbill_lock_fn(void *user, const char *event_json)
LOCK_FN = CFUNCTYPE(None, c_void_p, c_char_p)
# int vbill_hook_fn(void *user, const char *type, const char *event_json)
HOOK_FN = CFUNCTYPE(c_int, c_void_p, c_char_p, c_char_p)


def _candidates() -> List[str]:
    found = []
    env = os.environ.get("VBILL_LIBRARY")
    if env:
        return [env]  # an explicit choice is never silently replaced by another library
    found.append(SONAME)
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

# The context of each hooks handle: its calls report their errors on that context.
_owner_ctx: Dict[int, int] = {}


def _errmsg(ctx: Optional[int], status: int) -> str:
    msg = b""
    if ctx:
        msg = lib.vbill_ctx_errmsg(c_void_p(ctx)) or b""
    text = msg.decode("utf-8", "replace")
    if not text:
        text = (lib.vbill_strerror(status) or b"").decode("utf-8", "replace")
    return text


def _ctx_arg(args: Sequence[Any]) -> Optional[int]:
    a = args[0] if args else None
    a = getattr(a, "_ptr", a)  # a binding object (Context, Hooks) holds its pointer in _ptr
    if isinstance(a, c_void_p):
        return a.value
    return a if isinstance(a, int) else None


def _owner_arg(args: Sequence[Any]) -> Optional[int]:
    return _owner_ctx.get(_ctx_arg(args) or 0)


def _make_errcheck(ctx_of: Callable[[Sequence[Any]], Optional[int]]):
    def errcheck(result: int, func: Any, args: Tuple[Any, ...]) -> int:
        if result != 0:
            raise error_for(result, _errmsg(ctx_of(args), result))
        return result
    return errcheck


_check_ctx = _make_errcheck(_ctx_arg)          # first argument is the vbill_ctx
_check_owner = _make_errcheck(_owner_arg)      # first argument is a handle opened on a ctx
_check_none = _make_errcheck(lambda args: None)

# name: (restype, argtypes, errcheck)
_PROTOS: Dict[str, Tuple[Any, List[Any], Any]] = {
    "vbill_strerror": (c_char_p, [c_int], None),
    "vbill_version": (c_char_p, [], None),
    "vbill_free": (None, [c_void_p], None),
    "vbill_ctx_new": (c_status, [POINTER(c_void_p)], _check_none),
    "vbill_ctx_free": (None, [c_void_p], None),
    "vbill_ctx_errmsg": (c_char_p, [c_void_p], None),
    "vbill_ctx_set_log": (None, [c_void_p, LOG_FN, c_void_p, c_int], None),
    "vbill_ctx_set_rules": (c_status, [c_void_p, c_char_p, c_size_t], _check_ctx),
    "vbill_ctx_load_rules": (c_status, [c_void_p, c_char_p], _check_ctx),
    "vbill_default_rules": (c_char_p, [], None),
    "vbill_ctx_set_senior": (c_status, [c_void_p, c_int, c_double], _check_ctx),
    "vbill_classify": (c_status, [c_void_p, c_char_p, c_size_t, c_long, p_out], _check_ctx),
    "vbill_fill": (c_status, [c_void_p, c_char_p, c_size_t, c_long, p_out], _check_ctx),
    "vbill_fill_context": (c_status, [c_void_p, c_char_p, c_size_t, c_long, p_out], _check_ctx),
    "vbill_default_slots": (c_status, [c_void_p, c_char_p, c_char_p, p_out], _check_ctx),
    "vbill_mustache_render": (c_status, [c_void_p, c_char_p, c_size_t, c_char_p, c_char_p,
                                         p_out, POINTER(c_size_t)], _check_ctx),
    "vbill_ctx_set_partials_dir": (c_status, [c_void_p, c_char_p], _check_ctx),
    # video templates, prepare, render (MP4, HLS, one segment), built-in templates
    "vbill_template_open": (c_status, [c_void_p, c_char_p, POINTER(c_void_p)], _check_ctx),
    "vbill_template_prepare": (c_status, [c_void_p, c_void_p], _check_ctx),
    "vbill_template_is_prepared": (c_int, [c_void_p], None),
    "vbill_template_scenario": (c_char_p, [c_void_p], None),
    "vbill_template_info": (c_void_p, [c_void_p], None),
    "vbill_template_free": (None, [c_void_p], None),
    "vbill_render_mp4": (c_status, [c_void_p, c_void_p, c_char_p, c_size_t, c_double, c_char_p],
                         _check_ctx),
    "vbill_render_hls": (c_status, [c_void_p, c_void_p, c_char_p, c_size_t, c_double, c_char_p,
                                    c_char_p], _check_ctx),
    "vbill_render_segment": (c_status, [c_void_p, c_void_p, c_char_p, c_size_t, c_double, c_int,
                                        c_char_p], _check_ctx),
    "vbill_template_builtin_write": (c_status, [c_void_p, c_char_p, c_char_p], _check_ctx),
    "vbill_template_builtin_list": (c_char_p, [], None),
    # signed links, knowledge check, store, sessions, SMS
    "vbill_keys_generate": (c_status, [c_void_p, c_char_p, p_out], _check_ctx),
    "vbill_keys_from_json": (c_status, [c_void_p, c_char_p, c_size_t, POINTER(c_void_p)],
                             _check_ctx),
    "vbill_keys_load": (c_status, [c_void_p, c_char_p, POINTER(c_void_p)], _check_ctx),
    "vbill_keys_free": (None, [c_void_p], None),
    "vbill_keys_set_session_ttl": (c_status, [c_void_p, c_int64], _check_none),
    "vbill_link_issue": (c_status, [c_void_p, c_void_p, c_char_p, c_size_t, c_int64, c_int64,
                                    p_out], _check_ctx),
    "vbill_link_verify": (c_status, [c_void_p, c_void_p, c_char_p, c_int64, p_out], _check_ctx),
    "vbill_link_unlock": (c_status, [c_void_p, c_void_p, c_void_p, c_char_p], _check_ctx),
    "vbill_link_reissue": (c_status, [c_void_p, c_void_p, c_char_p, c_char_p, c_size_t,
                                      c_int64, c_int64, p_out], _check_ctx),
    "vbill_store_open_sqlite": (c_status, [c_void_p, c_char_p, POINTER(c_void_p)], _check_ctx),
    "vbill_store_open_redis": (c_status, [c_void_p, c_char_p, c_int, c_char_p,
                                          POINTER(c_void_p)], _check_ctx),
    "vbill_store_free": (None, [c_void_p], None),
    "vbill_store_set_limits": (c_status, [c_void_p, c_int, c_int64, c_int, c_int, c_int64],
                               _check_none),
    "vbill_store_set_lock_hook": (None, [c_void_p, LOCK_FN, c_void_p], None),
    "vbill_auth_check": (c_status, [c_void_p, c_void_p, c_void_p, c_char_p, c_char_p, c_char_p,
                                    c_int64, p_out], _check_ctx),
    "vbill_session_verify": (c_status, [c_void_p, c_void_p, c_void_p, c_char_p, c_char_p,
                                        c_char_p, c_int64], _check_ctx),
    "vbill_message_build": (c_status, [c_void_p, c_char_p, c_size_t, c_char_p, c_char_p, p_out],
                            _check_ctx),
    "vbill_text_euckr_bytes": (c_status, [c_char_p, POINTER(c_size_t)], _check_none),
    # events, outbox, sinks, chat
    "vbill_hooks_open": (c_status, [c_void_p, c_char_p, c_char_p, POINTER(c_void_p)],
                         _check_ctx),
    "vbill_hooks_free": (None, [c_void_p], None),
    "vbill_hooks_set_callback": (c_status, [c_void_p, c_char_p, c_char_p, HOOK_FN, c_void_p],
                                 _check_owner),
    "vbill_hooks_emit": (c_status, [c_void_p, c_char_p, c_char_p, c_char_p, p_out],
                         _check_owner),
    "vbill_hooks_emit_still": (c_status, [c_void_p, c_char_p, c_char_p, c_char_p, c_char_p,
                                          c_double, p_out], _check_owner),
    "vbill_hooks_event_data": (c_status, [c_void_p, c_char_p, c_char_p, c_char_p, p_out],
                               _check_ctx),
    "vbill_hooks_pump": (c_status, [c_void_p, c_uint, POINTER(c_size_t)], _check_owner),
    "vbill_hooks_pending": (c_status, [c_void_p, POINTER(c_size_t), POINTER(c_int64)],
                            _check_owner),
    "vbill_hooks_start": (c_status, [c_void_p], _check_owner),
    "vbill_hooks_stop": (c_status, [c_void_p], _check_owner),
    "vbill_hooks_status": (c_status, [c_void_p, p_out], _check_owner),
    "vbill_hooks_dead": (c_status, [c_void_p, p_out], _check_owner),
    "vbill_hooks_replay": (c_status, [c_void_p, c_char_p, POINTER(c_size_t)], _check_owner),
    "vbill_still_jpeg": (c_status, [c_void_p, c_char_p, c_double, c_int, p_out,
                                    POINTER(c_size_t)], _check_ctx),
    "vbill_chat_answer": (c_status, [c_void_p, c_char_p, c_char_p, c_char_p, c_double, c_int64,
                                     p_out], _check_ctx),
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
            raise UnavailableError(None, "%s is not in the loaded libvbill (version %s)"
                                   % (name, version())) from None
        restype, argtypes, errcheck = _PROTOS[name]
        f.restype = restype
        f.argtypes = argtypes
        if errcheck is not None:
            f.errcheck = errcheck
        _resolved[name] = f
        return f


def has(name: str) -> bool:
    """Whether the loaded library exports `name`."""
    return hasattr(lib, name)


for _name in ("vbill_strerror", "vbill_version", "vbill_free", "vbill_ctx_errmsg"):
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


def take_bytes(p: c_void_p, n: int) -> bytes:
    if not p.value:
        return b""
    try:
        return ctypes.string_at(p.value, n)
    finally:
        lib.vbill_free(p)


__all__ = ["lib", "fn", "has", "take_string", "take_bytes", "version", "Error", "LOG_FN",
           "LOCK_FN", "HOOK_FN", "_owner_ctx"]
