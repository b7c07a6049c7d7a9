#!/usr/bin/env python3
"""make_fixture.py: the media and manifest the page's browser tests run on, made by the
project itself (standard library + this build's vbill and Python binding).

    make_fixture.py OUT_DIR

Builds the built-in template of one scenario (home_new_mobile), prepares it, renders each
record of records.jsonl (beside this file) as HLS with its personal segments (and the MP4
of the first), cuts the prepared base into the overlay HLS with ffmpeg (-c copy), writes
captions.vtt and chapters.vtt for each bill, and writes OUT_DIR/fixture.json: what the
development server serves and what the test expects (digits, amounts from `vbill fill`'s
context, the overlay slots).  A finished OUT_DIR (OUT_DIR/fixture.json present, same
records) is reused: building costs a few CPU-seconds per record.

Environment: VBILL_BUILDDIR (the build dir: examples/vbill, libvbill/.libs),
VBILL_SRCDIR (for bindings/python).
"""
import hashlib
import json
import os
import shutil
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
SCENARIO = "home_new_mobile"
FIXTURE_VERSION = "page-fixture-2"

# Chapters: one per scene of the built-in templates (a title card, then one scene per slot,
# each starting four seconds before its slot's text appears, then the closing card).
CHAPTER_NAMES = {
    "ko-KR": {"intro": "인사", "period": "이용 기간", "this_month": "이번 달 청구 금액",
              "plan": "가입 상품", "bundle": "결합 할인", "next_month": "다음 달 요금",
              "payment": "납부 방법", "outro": "마무리"},
    "ja-JP": {"intro": "ごあいさつ", "period": "ご利用期間", "this_month": "今月のご請求額",
              "plan": "ご契約の商品", "bundle": "セット割引", "next_month": "来月のご請求",
              "payment": "お支払い方法", "outro": "おわりに"},
    "en-US": {"intro": "Welcome", "period": "Service period", "this_month": "This month",
              "plan": "Your services", "bundle": "Bundle discount", "next_month": "Next month",
              "payment": "Payment", "outro": "The end"},
}


def vtt_time(t):
    ms = int(round(t * 1000))
    return "%02d:%02d:%02d.%03d" % (ms // 3600000, ms // 60000 % 60, ms // 1000 % 60, ms % 1000)


def write_vtt(path, cues):
    lines = ["WEBVTT", ""]
    for i, (a, b, text) in enumerate(cues, 1):
        lines += [str(i), "%s --> %s" % (vtt_time(a), vtt_time(b)), text, ""]
    with open(path + ".tmp", "w", encoding="utf-8") as f:
        f.write("\n".join(lines))
    os.replace(path + ".tmp", path)


def token(name):
    """A base64url link token look-alike (the development server's links are fixed)."""
    import base64
    raw = hashlib.sha256(("vbill-page-fixture:" + name).encode()).digest() * 2
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")[:55]


def run(cmd, **kw):
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, **kw)
    if r.returncode != 0:
        sys.exit("make_fixture: %s failed (%d): %s" % (" ".join(cmd), r.returncode,
                                                       r.stderr.decode(errors="replace")[-2000:]))
    return r.stdout


def main(out):
    build = os.path.abspath(os.environ.get("VBILL_BUILDDIR", "."))
    src = os.path.abspath(os.environ.get("VBILL_SRCDIR", os.path.join(HERE, "../../..")))
    vbill = os.path.join(build, "examples", "vbill")
    sys.path.insert(0, os.path.join(src, "bindings", "python"))
    os.environ.setdefault("VBILL_LIBRARY", os.path.join(build, "libvbill/.libs/libvbill.so.1"))
    import vbill as vb  # noqa: E402  (this build's library)

    with open(os.path.join(HERE, "records.jsonl"), encoding="utf-8") as f:
        records = [json.loads(l) for l in f if l.strip()]
    key = hashlib.sha256((FIXTURE_VERSION + json.dumps(records, sort_keys=True)).encode()).hexdigest()
    manifest_path = os.path.join(out, "fixture.json")
    if os.path.exists(manifest_path):
        with open(manifest_path, encoding="utf-8") as f:
            if json.load(f).get("key") == key:
                print(manifest_path)
                return 0
    if os.path.exists(out):
        shutil.rmtree(out)
    os.makedirs(out)

    tpl = os.path.join(out, "tpl")
    run([vbill, "template", "builtin", SCENARIO, tpl])
    # `template prepare` is idempotent; a crash of one run (seen: "free(): invalid pointer"
    # at exit, now and then) is retried once before giving up.
    try:
        run([vbill, "template", "prepare", tpl])
    except SystemExit:
        run([vbill, "template", "prepare", tpl])
    info = json.loads(run([vbill, "template", "info", tpl]))
    cache = info["cache"]
    thash = os.path.basename(cache)
    with open(os.path.join(tpl, "template.json"), encoding="utf-8") as f:
        tjson = json.load(f)

    # The overlay stream: the prepared base (blank slot regions), every segment shared.
    ovdir = os.path.join(out, "overlay")
    os.makedirs(ovdir)
    run(["ffmpeg", "-nostdin", "-loglevel", "error", "-i", os.path.join(cache, "normal.mp4"),
         "-c", "copy", "-f", "hls", "-hls_time", "4", "-hls_playlist_type", "vod",
         "-hls_segment_filename", os.path.join(ovdir, "o%05d.ts"), os.path.join(ovdir, "index.m3u8")])

    ctx = vb.Context()
    links = []
    slots_t = tjson["slots"]
    for n, rec in enumerate(records):
        bid = rec["id"]
        bdir = os.path.join(out, "bills", bid)
        os.makedirs(bdir)
        rpath = os.path.join(bdir, "record.json")
        with open(rpath, "w", encoding="utf-8") as f:
            json.dump(rec, f, ensure_ascii=False)
        cmd = [vbill, "render", "--template", tpl, rpath, "--speed", "1",
               "--hls", os.path.join(bdir, "hls"), "--hls-base", "/s/%s/normal/" % thash]
        if n == 0:
            cmd += ["-o", os.path.join(bdir, "bill.mp4")]
        run(cmd)
        with ctx.bill(rec) as b:  # API 0.2: the fill context is the bill's
            c = b.context()
        filled = ctx.fill(rec)
        loc = c["locale"]
        names = CHAPTER_NAMES[loc]
        # chapters and captions (normal-speed timing)
        starts = [("intro", 0.0)] + [(s["name"], s["from"] - 4.0) for s in slots_t]
        ends = [st for _, st in starts[1:]] + [slots_t[-1]["to"] + 5.0]
        chapters = [(a, b, names.get(nm, nm)) for (nm, a), b in zip(starts, ends)]
        chapters.append((ends[-1], float(info["source"]["duration"]), names["outro"]))
        write_vtt(os.path.join(bdir, "chapters.vtt"), chapters)
        caps = [(0.5, 9.5, filled["slots"].get("greeting", ""))]
        for s in slots_t:
            caps.append((s["from"] - 3.0, s["to"], filled["slots"].get(s["name"], "")))
        write_vtt(os.path.join(bdir, "captions.vtt"), [q for q in caps if q[2]])
        # the slots as the burned-in renderer draws them: the template's text over the context
        oslots = []
        for s in slots_t:
            o = {k: s[k] for k in ("name", "from", "to", "box", "size", "color", "align") if k in s}
            o["text"] = vb.mustache(s["text"], c)
            o["min_size"] = s.get("min_size")
            o["background"] = s.get("background")
            o["font"] = "Noto Sans CJK KR"
            oslots.append(o)
        bill = {
            "name_masked": c["name_masked"], "period_text": c["period_text"],
            "this_month_text": c["this_month_text"], "next_month_text": c["next_month_text"],
            "payment_text": c.get("payment_text") if c.get("has_payment") else None,
            "lines": [{"id": l["id"], "product": l["product"], "kind_text": l["kind_text"],
                       "prorated_text": l["prorated_text"], "next_month_text": l["next_month_text"]}
                      for l in c["lines"]],
            "bundle": ({"name": c["bundle"]["name"], "prorated_text": c["bundle"]["prorated_text"],
                        "discount_text": c["bundle"]["discount_text"]} if c.get("has_bundle") else None),
            "other_charges": [{"name": o["name"], "amount_text": o["amount_text"]}
                              for o in c["bill"].get("other_charges", [])],
        }
        with open(os.path.join(bdir, "bill.json"), "w", encoding="utf-8") as f:
            json.dump({"id": bid, "locale": loc, "senior": c["senior"], "speed": c["speed"],
                       "duration": float(info["source"]["duration"]),
                       "width": info["width"], "height": info["height"],
                       "bill": bill, "overlay_slots": oslots,
                       "mp4": n == 0}, f, ensure_ascii=False)
        birth = rec["birth"]
        digits = birth[2:4] + birth[5:7] + birth[8:10]
        links.append({"id": bid, "token": token(bid), "digits": digits, "locale": loc,
                      "senior": c["senior"], "speed": c["speed"], "bill": bill,
                      "overlay_slots": oslots})
    # roles the test walks: the senior (ko), a plain viewer (ja), English, a link to lock,
    # an expired link and a token that does not verify
    roles = {"senior": links[0], "plain": links[1], "english": links[2]}
    lock = dict(links[1], token=token("lock"))
    expired = dict(links[0], token=token("expired"), expired=True)
    manifest = {"key": key, "template_hash": thash, "cache": cache, "base_url": "/v/",
                "links": [links[0], links[1], links[2], lock, expired],
                "roles": {k: v["token"] for k, v in roles.items()},
                "lock": lock["token"], "expired": expired["token"],
                "not_found": token("nobody")[:-4] + "AAAA",
                "helpdesk": {"phone": "114", "hours": {"ko-KR": "평일 10:00-19:00", "ja-JP": "平日 10:00〜19:00",
                                                         "en-US": "Weekdays 10:00-19:00 (KST)"}},
                "actions": [
                    {"id": "pay_now", "label": {"ko-KR": "지금 납부하기", "ja-JP": "今すぐ支払う", "en-US": "Pay now"},
                     "url": "https://carrier.example/pay"},
                    {"id": "change_payment", "label": {"ko-KR": "납부 방법 바꾸기", "ja-JP": "支払い方法を変更", "en-US": "Change payment method"},
                     "url": "https://carrier.example/payment"},
                    {"id": "call_me", "label": {"ko-KR": "전화 상담 요청", "ja-JP": "電話で相談する", "en-US": "Call me back"},
                     "url": "https://carrier.example/callback"}]}
    with open(manifest_path + ".tmp", "w", encoding="utf-8") as f:
        json.dump(manifest, f, ensure_ascii=False, indent=1)
    os.replace(manifest_path + ".tmp", manifest_path)
    print(manifest_path)
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: make_fixture.py OUT_DIR")
    sys.exit(main(sys.argv[1]))
