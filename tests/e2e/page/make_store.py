#!/usr/bin/env python3
"""make_store.py: the bill store the page's browser tests run on, made by the real `vbill
batch` (this build's examples/vbill), and the test's manifest of it.

    make_store.py OUT_DIR

From records.jsonl (beside this file): the bills of cycle 2026-11 (a Korean senior, a
Japanese and an American customer) in stored mode with their MP4s, the bills of cycle
2026-10 (a link to lock, a bill watched in overlay mode) on demand, into OUT_DIR/store with
the built-in templates (prepared once, with their overlay rendition), a key file
OUT_DIR/keys.json, and OUT_DIR/fixture.json: per bill its link token, the six digits, and
what the page must show, read from the store itself (bill.json's texts and amounts, the
template's slots with their texts for this bill rendered by `vbill text`); an expired link
(`vbill link issue --ttl 1s`) and a token that does not verify.  A finished OUT_DIR for the
same records, library and command sources is reused (making it costs a few CPU-minutes).
The tests copy the store before serving it: the server writes into it (survey marks,
on-demand segments).

Environment: VBILL_BUILDDIR (examples/vbill, libvbill/.libs), VBILL_SRCDIR.
"""
import glob
import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
VERSION = "page-store-1"
STORED_CYCLE = "2026-11"
ROLES = {"senior": "P-KO-SENIOR", "plain": "P-JA-1", "english": "P-EN-1",
         "lock": "P-KO-LOCK", "ondemand": "P-KO-OD"}


def run(cmd, ok=(0,), **kw):
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, **kw)
    if r.returncode not in ok:
        sys.exit("make_store: %s failed (%d): %s" % (" ".join(cmd), r.returncode,
                                                     r.stderr.decode(errors="replace")[-2000:]))
    return r.stdout.decode()


def digest(paths, extra):
    h = hashlib.sha256(extra.encode())
    for p in paths:
        with open(p, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
    return h.hexdigest()


def written_bill(b):
    """What the page's written bill shows, as bill.json holds it."""
    c = b["context"]
    return {
        "name_masked": b["name_masked"], "period_text": c["period_text"],
        "this_month_text": c["this_month_text"], "next_month_text": c["next_month_text"],
        "payment_text": c.get("payment_text") if c.get("has_payment") else None,
        "lines": [{"id": l["id"], "product": l["product"], "prorated_text": l["prorated_text"],
                   "next_month_text": l["next_month_text"]} for l in c["lines"]],
        "bundle": ({"name": c["bundle"]["name"], "prorated_text": c["bundle"]["prorated_text"],
                    "discount_text": c["bundle"]["discount_text"]} if c.get("has_bundle") else None),
        "other_charges": [{"name": o["name"], "amount_text": o["amount_text"]}
                          for o in c["bill"].get("other_charges", [])],
    }


def main(out):
    build = os.path.abspath(os.environ.get("VBILL_BUILDDIR", "."))
    src = os.path.abspath(os.environ.get("VBILL_SRCDIR", os.path.join(HERE, "../../..")))
    vbill = os.path.join(build, "examples", "vbill")
    lib = os.path.join(build, "libvbill", ".libs", "libvbill.so.1")
    records_path = os.path.join(HERE, "records.jsonl")
    # what makes the store: the records, the library and the command's batch side (not the
    # viewer's sources: changing the server does not make the store again)
    makers = sorted(glob.glob(os.path.join(src, "examples", "cli", "*.[ch]")))
    key = digest([records_path, lib if os.path.exists(lib) else vbill] + makers, VERSION)
    manifest_path = os.path.join(out, "fixture.json")
    if os.path.exists(manifest_path):
        with open(manifest_path, encoding="utf-8") as f:
            if json.load(f).get("key") == key:
                print(manifest_path)
                return 0
    if os.path.exists(out):
        shutil.rmtree(out)
    os.makedirs(out)
    with open(records_path, encoding="utf-8") as f:
        records = [json.loads(l) for l in f if l.strip()]
    by_id = {r["id"]: r for r in records}
    stored = [r for r in records if r["bill"]["cycle_start"][:7] == STORED_CYCLE]
    ondemand = [r for r in records if r["bill"]["cycle_start"][:7] != STORED_CYCLE]
    for name, recs in (("stored.jsonl", stored), ("ondemand.jsonl", ondemand)):
        with open(os.path.join(out, name), "w", encoding="utf-8") as f:
            for r in recs:
                f.write(json.dumps(r, ensure_ascii=False) + "\n")
    keys = os.path.join(out, "keys.json")
    run([vbill, "keygen", "--out", keys])
    store = os.path.join(out, "store")
    run([vbill, "batch", os.path.join(out, "stored.jsonl"), "--store", store, "--key-file", keys,
         "--mp4", "--progress", "none", "--jobs", "2"])
    run([vbill, "batch", os.path.join(out, "ondemand.jsonl"), "--store", store, "--key-file",
         keys, "--render", "on-demand", "--progress", "none"])

    # an expired link (one second to live) and a token that does not verify
    senior_rec = os.path.join(out, "senior.json")
    with open(senior_rec, "w", encoding="utf-8") as f:
        json.dump(by_id[ROLES["senior"]], f, ensure_ascii=False)
    expired_url = run([vbill, "link", "issue", senior_rec, "--ttl", "1s", "--key-file", keys,
                       "--base-url", "/v/"]).splitlines()[0]
    expired = urllib.parse.urlparse(expired_url).path.rsplit("/", 1)[1]

    links = []
    templates = {}
    for bdir in sorted(glob.glob(os.path.join(store, "20??-??", "*", "bill.json"))):
        bdir = os.path.dirname(bdir)
        with open(os.path.join(bdir, "bill.json"), encoding="utf-8") as f:
            b = json.load(f)
        with open(os.path.join(bdir, "link.json"), encoding="utf-8") as f:
            link = json.load(f)
        rec = by_id[b["id"]]
        y, m, d = rec["birth"].split("-")
        # the template the bill plays (its locale's own when the store has one)
        tname = b["scenario"] + "." + b["locale"]
        if not os.path.isdir(os.path.join(store, "templates", tname)):
            tname = b["scenario"]
        if tname not in templates:
            templates[tname] = json.loads(run([vbill, "template", "info",
                                               os.path.join(store, "templates", tname)]))
        info = templates[tname]
        ctx_path = os.path.join(out, "context-%s.json" % b["id"])
        with open(ctx_path, "w", encoding="utf-8") as f:
            json.dump(b["context"], f, ensure_ascii=False)
        slots = []
        for s in info["slots"]:
            tpath = os.path.join(out, "slot.mustache")
            with open(tpath, "w", encoding="utf-8") as f:
                f.write(s["text"])
            slots.append({"name": s["name"], "text": run([vbill, "text", tpath, "--data", ctx_path]),
                          "from": s["from"], "to": s["to"], "box": s["box"]})
        links.append({
            "id": b["id"], "token": urllib.parse.urlparse(link["url"]).path.rsplit("/", 1)[1],
            "url": link["url"], "digits": y[2:] + m + d, "locale": b["locale"],
            "currency": b["currency"], "senior": b["senior"], "speed": b["speed"],
            "cycle": os.path.basename(os.path.dirname(bdir)), "dir": os.path.basename(bdir),
            "mode": "stored" if os.path.exists(os.path.join(bdir, "index.m3u8")) else "on-demand",
            "mp4": os.path.exists(os.path.join(bdir, "bill.mp4")),
            "amounts": {k: b["amounts"][k] for k in ("this_month", "next_month")},
            "bill": written_bill(b), "overlay_slots": slots,
            "template": {"name": tname, "hash": os.path.basename(info["cache"])[:16],
                         "width": info["width"], "height": info["height"]},
        })
    tok = {l["id"]: l["token"] for l in links}
    good = tok[ROLES["plain"]]
    bad = good[:-4] + ("AAAA" if not good.endswith("AAAA") else "BBBB")
    manifest = {"key": key, "base_url": "/v/", "links": links,
                "roles": {r: tok[i] for r, i in ROLES.items()},
                "lock": tok[ROLES["lock"]], "expired": expired, "not_found": bad}
    with open(manifest_path + ".tmp", "w", encoding="utf-8") as f:
        json.dump(manifest, f, ensure_ascii=False, indent=1)
    os.replace(manifest_path + ".tmp", manifest_path)
    time.sleep(1.1)  # the expired link has expired by the time anyone reads the manifest
    print(manifest_path)
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: make_store.py OUT_DIR")
    sys.exit(main(sys.argv[1]))
