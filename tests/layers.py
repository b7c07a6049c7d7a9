#!/usr/bin/env python3
"""Data flows one way: no file of the library calls or includes a file above it.

The layers are the list below.  The core is one chain, lowest first; each concern above
the bill (video, auth, hooks, chat, voice) is a chain of its own that may use the core and
the files before it in its own chain, and never another concern, except the concerns it is
declared to use (USES: video speaks with voice).  Calls are read from the
compiled objects (nm: what each object needs and which object defines it); includes from
the sources.  A file that is not in the list fails the test too, so that a new file is
placed on purpose.

Run by `make check` (VBILL_SRCDIR, VBILL_BUILDDIR); exits 1 with one line per fault.
"""
import glob
import os
import re
import subprocess
import sys

CORE = ["util", "jdoc", "jparse", "context", "mustache", "record", "classify", "format",
        "slots", "fill", "bill"]
CONCERNS = {
    "video": ["video/text", "video/template", "video/encode", "video/job", "video/voiceover",
              "video/segment", "video/prepare", "video/render", "video/hls", "video/still",
              "video/builtin",
              "video/none"],
    "auth": ["store", "store_redis", "auth"],
    "hooks": ["hooks/outbox", "hooks/sink", "hooks/ticket", "hooks/sink_webhook",
              "hooks/sink_zendesk", "hooks/sink_rt", "hooks/sink_callback", "hooks/sinks",
              "hooks/event", "hooks/hooks"],
    "chat": ["chat"],
    "voice": ["voice/say", "voice/narration", "voice/wav", "voice/espeak", "voice/clips",
              "voice/voice", "voice/none"],
}
# Headers belong to the unit they declare; those of the ground serve every layer.
HEADERS = {
    "config.h": None, "vbill.h": None, "internal.h": "util", "jdoc.h": "jdoc",
    "mustache.h": "mustache", "record.h": "record", "classify.h": "classify",
    "format.h": "format", "slots.h": "slots", "fill.h": "fill", "bill.h": "bill",
    "auth.h": "store",
    # what the voice files share (declarations of wav, espeak, clips and voice): owned by
    # the lowest of them; the calls between them are checked from the objects
    "voice/voice.h": "voice/wav",
}


def rank(unit):
    """(chain, position): the core is chain None."""
    if unit in CORE:
        return None, CORE.index(unit)
    for name, chain in CONCERNS.items():
        if unit in chain:
            return name, len(CORE) + chain.index(unit)
    return "?", -1


# A concern may use another one below it: a video speaks (templates with a narration, the
# built-in templates' fixed sentences), so video uses voice; voice never uses video.
USES = {"video": ["voice"]}


def allowed(user, used):
    """May unit `user` call or include unit `used`?"""
    uc, ur = rank(user)
    dc, dr = rank(used)
    if "?" in (uc, dc):
        return False
    if dc is not None and dc in USES.get(uc, []):
        return True
    return dr < ur and (dc is None or dc == uc)


def header_unit(path):
    rel = os.path.relpath(path, os.path.join(SRC, "libvbill"))
    if rel in HEADERS:
        return HEADERS[rel]
    stem = rel[:-2]
    # a concern's own header: video/job.h is video/job's; hooks/hooks.h is hooks/outbox's
    # (the chain's first file) unless a unit of that name exists
    return stem if rank(stem)[0] != "?" else None


SRC = os.environ.get("VBILL_SRCDIR", ".")
BUILD = os.environ.get("VBILL_BUILDDIR", ".")
faults = []

# ---- units: the library's sources ----
units = {}
for path in glob.glob(os.path.join(SRC, "libvbill", "**", "*.c"), recursive=True) + \
        glob.glob(os.path.join(SRC, "libvbill", "**", "*.cc"), recursive=True):
    unit = os.path.relpath(path, os.path.join(SRC, "libvbill")).rsplit(".", 1)[0]
    units[unit] = path
    if rank(unit)[0] == "?":
        faults.append(f"{unit}: not in the layer list of tests/layers.py")

# ---- includes ----
inc_re = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)
for unit, path in sorted(units.items()):
    with open(path, encoding="utf-8") as f:
        text = f.read()
    for inc in inc_re.findall(text):
        hpath = os.path.join(SRC, "libvbill", inc)
        if not os.path.exists(hpath):
            continue  # config.h, vbill.h
        owner = header_unit(hpath)
        if owner is None or owner == unit:
            continue
        if not allowed(unit, owner):
            faults.append(f"{unit}: includes {inc} ({owner}), above it or in another concern")
# headers including headers
for hpath in glob.glob(os.path.join(SRC, "libvbill", "**", "*.h"), recursive=True):
    owner = header_unit(hpath)
    if owner is None:
        continue
    with open(hpath, encoding="utf-8") as f:
        for inc in inc_re.findall(f.read()):
            ipath = os.path.join(SRC, "libvbill", inc)
            if not os.path.exists(ipath):
                continue
            iowner = header_unit(ipath)
            if iowner is not None and iowner != owner and not allowed(owner, iowner):
                faults.append(f"{os.path.relpath(hpath, SRC)}: includes {inc} ({iowner}), "
                              "above it or in another concern")

# ---- calls: from the objects libtool built ----
defs, needs = {}, {}
objects = 0
for unit in units:
    d, base = os.path.split(unit)
    pattern = os.path.join(BUILD, "libvbill", d, ".libs", f"libvbill_la-{base}.o")
    if not os.path.exists(pattern):
        continue  # not built in this configuration (video/none.c or the video files)
    objects += 1
    out = subprocess.run(["nm", pattern], capture_output=True, text=True, check=True).stdout
    needs[unit] = set()
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[0] == "U":
            needs[unit].add(parts[1])
        elif len(parts) == 3 and parts[1] in "TDBR":
            defs[parts[2]] = unit
if objects == 0:
    print("layers: no objects found under", BUILD)
    print("0 passed, 1 failed")
    sys.exit(1)
calls = 0
for unit, syms in sorted(needs.items()):
    for sym in sorted(syms):
        owner = defs.get(sym)
        if owner is None or owner == unit:
            continue
        calls += 1
        if not allowed(unit, owner):
            faults.append(f"{unit}: calls {sym} of {owner}, above it or in another concern")

for f in faults:
    print("FAIL:", f)
print(f"layers: {len(units)} files, {objects} objects, {calls} calls between files checked")
print(f"{0 if faults else 1} passed, {1 if faults else 0} failed")
sys.exit(1 if faults else 0)
