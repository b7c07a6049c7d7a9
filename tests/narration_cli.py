#!/usr/bin/env python3
"""The command-line contract of `vbill narration` (SPEC.md section 5): the script of every
sample record in every locale, a carrier's narration.json, and the errors (exit codes,
messages naming the file, the scene and the locale; nothing on standard output)."""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

BUILD = os.environ.get("VBILL_BUILDDIR", ".")
SRC = os.environ.get("VBILL_SRCDIR", ".")
VBILL = os.path.join(BUILD, "examples", "vbill")
sys.path.insert(0, os.path.join(SRC, "tests"))
import say_model  # noqa: E402  (the sample records with their scenarios)

failures = []


def run(args, stdin=None):
    p = subprocess.run([VBILL] + args, input=stdin.encode() if stdin else None,
                       capture_output=True, timeout=60)
    return p.returncode, p.stdout.decode(), p.stderr.decode()


def check(what, cond, detail=""):
    if not cond:
        failures.append("%s %s" % (what, detail))


def main():
    tmp = tempfile.mkdtemp()
    try:
        contract(tmp)
    finally:
        shutil.rmtree(tmp)
    for f in failures[:30]:
        print("FAIL:", f)
    print("narration CLI: %d failures" % len(failures))
    return 1 if failures else 0


def write(tmp, name, text):
    path = os.path.join(tmp, name)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
    return path


def contract(tmp):
    rc, out, _ = run(["narration", "--help"])
    check("--help", rc == 0 and out.startswith("usage: vbill narration"), out[:80])
    rc, out, err = run(["narration"])
    check("no argument", rc == 2 and out == "" and err.startswith("vbill: "), err)
    rc, _, err = run(["narration", "--bogus", "x"])
    check("unknown option", rc == 2, err)
    rc, _, err = run(["narration", "/nonexistent/record.json"])
    check("unreadable record", rc == 2 and "cannot open" in err, err)

    # every sample record with a scenario, in every locale: the script's shape
    n, targets = 0, 0
    for rec, scenario in say_model.sample_records():
        targets += scenario is not None
        for loc, cur in (("ko-KR", "KRW"), ("ja-JP", "JPY"), ("en-US", "USD")):
            r = dict(rec, locale=loc, currency=cur)
            rc, out, err = run(["narration", "-"], json.dumps(r, ensure_ascii=False))
            if scenario is None:
                check("no scenario exits 3", rc == 3 and out == "" and "no scenario" in err, err)
                continue
            check("%s %s exit" % (rec["id"], loc), rc == 0, err)
            if rc:
                continue
            n += 1
            s = json.loads(out)
            check("%s header" % rec["id"], (s["id"], s["scenario"], s["locale"]) == (rec["id"], scenario, loc))
            scenes = s["scenes"]
            check("%s scenes" % rec["id"], 12 <= len(scenes) <= 14, len(scenes))
            check("%s intro first, outro last" % rec["id"],
                  scenes[0]["scene"] == "intro" and scenes[-1]["scene"] == "outro")
            prev = 0
            for sc in scenes:
                check("%s timing" % rec["id"], prev <= sc["start"] < sc["end"] <= 120, sc)
                prev = sc["end"]
                check("%s words only" % rec["id"], not re.search(r"[0-9{}]", sc["text"]), sc["text"])
                check("%s text" % rec["id"], sc["text"] == sc["text"].strip() and "  " not in sc["text"])
            personal = [sc for sc in scenes if sc["personal"]]
            check("%s personal windows" % rec["id"],
                  [(sc["start"] - 10) % 16 for sc in personal] == [4] * len(personal) and
                  all(sc["end"] - sc["start"] == 6.5 for sc in personal) and len(personal) >= 5,
                  [(sc["scene"], sc["start"]) for sc in personal])
            if loc == "ja-JP":
                check("%s ja in kana" % rec["id"],
                      not any(re.search(r"[\u4e00-\u9fff]", sc["text"]) for sc in scenes),
                      [sc["text"] for sc in scenes])
    check("sample scripts", n == 3 * targets and targets >= 25, (n, targets))

    # the worked example of SPEC.md, in Korean: the words of its amounts
    spec = json.load(open(os.path.join(SRC, "tests", "vectors", "spec_example.json"), encoding="utf-8"))
    rc, out, err = run(["narration", "-"], json.dumps(spec, ensure_ascii=False))
    texts = {(sc["scene"], sc["personal"]): sc["text"] for sc in json.loads(out)["scenes"]} if rc == 0 else {}
    check("spec example this month", texts.get(("this_month", True)) == "이번 달 청구 금액은 육만 구백육십 원입니다.",
          texts.get(("this_month", True)))
    check("spec example period", texts.get(("period", True)) ==
          "십일월 십사일부터 십일월 삼십일까지, 십칠 일입니다.", texts.get(("period", True)))
    check("spec example next month", texts.get(("next_month", True)) ==
          "다음 달 예상 금액은 십삼만 구천 원입니다.", texts.get(("next_month", True)))
    check("spec example plan", texts.get(("plan", True)) ==
          "휴대폰 삼만 육천백이십 원, 휴대폰 이만 삼천삼백칠십 원입니다.", texts.get(("plan", True)))
    check("spec example bundle", texts.get(("bundle", True)) == "이번 달 결합 할인은 육천이백삼십 원입니다.",
          texts.get(("bundle", True)))
    rec = write(tmp, "spec.json", json.dumps(spec, ensure_ascii=False))

    # a folder without narration.json: the built-in narration
    os.makedirs(os.path.join(tmp, "plain"))
    rc2, out2, _ = run(["narration", rec, "--template", os.path.join(tmp, "plain")])
    check("folder without narration.json", rc2 == 0 and out2 == out)

    # the built-in narration as a starting point: it checks, and used as a file it says the same
    rc, default, err = run(["narration", "--default", "mobile_new_bundle"])
    check("--default", rc == 0 and json.loads(default)["scenario"] == "mobile_new_bundle", err)
    path = write(tmp, "copy/narration.json", default)
    rc, ok, err = run(["narration", "--check", path])
    check("--check of the default", rc == 0 and ok.startswith("ok: "), err)
    rc3, out3, err = run(["narration", rec, "--template", os.path.join(tmp, "copy")])
    check("default as a file", rc3 == 0 and out3 == out, err)
    rc, _, err = run(["narration", "--default", "no_such_scenario"])
    check("--default unknown", rc == 2 and "no_such_scenario" in err, err)

    # a carrier's own narration
    mine = {"scenario": "mobile_new_bundle", "scenes": [
        {"scene": "hello", "start": 1, "end": 5, "text": "어서 오세요."},
        {"scene": "amount", "start": 30, "end": 35,
         "text": {"ko-KR": "{{{this_month_spoken}}}, {{#lines}}{{{prorated_spoken}}} {{/lines}}",
                  "en-US": "{{{this_month_spoken}}}"}},
        {"scene": "device", "start": 40, "end": 45,
         "text": {"ko-KR": "{{#has_device}}기기{{/has_device}}"}},
        {"scene": "partial", "start": 50, "end": 55, "personal": True, "text": "{{> p}}"}],
        "partials": {"p": "{{{period_days_spoken}}}"}}
    write(tmp, "mine/narration.json", json.dumps(mine, ensure_ascii=False))
    rc, out, err = run(["narration", rec, "--template", os.path.join(tmp, "mine")])
    s = json.loads(out) if rc == 0 else {"scenes": []}
    check("carrier narration", rc == 0, err)
    check("carrier scenes", [(x["scene"], x["start"], x["end"], x["personal"], x["text"]) for x in s["scenes"]] == [
        ("hello", 1, 5, False, "어서 오세요."),
        ("amount", 30, 35, True, "육만 구백육십 원, 삼만 육천백이십 원 이만 삼천삼백칠십 원"),
        ("device", 40, 45, True, "기기"),
        ("partial", 50, 55, True, "십칠 일")], s["scenes"])
    en = dict(spec, locale="en-US", currency="USD")
    rc, out, err = run(["narration", "-", "--template", os.path.join(tmp, "mine")],
                       json.dumps(en, ensure_ascii=False))
    check("carrier narration en", rc == 0 and [x["text"] for x in json.loads(out)["scenes"]] ==
          ["어서 오세요.", "six hundred nine dollars and sixty cents", "seventeen days"], out + err)
    nodev = dict(spec, lines=[dict(spec["lines"][0], device=None), spec["lines"][1]])
    del nodev["lines"][0]["device"]
    rc, out, err = run(["narration", "-", "--template", os.path.join(tmp, "mine")],
                       json.dumps(nodev, ensure_ascii=False))
    check("an empty scene is left out", rc == 0 and "device" not in [x["scene"] for x in json.loads(out)["scenes"]],
          out + err)

    # malformed narrations: exit 2, the message names the file and the fault, nothing printed
    bad = [
        ("{", "not well-formed JSON"),
        (json.dumps({"scenes": []}), "1 to 64"),
        (json.dumps({"scenes": [{"start": 3, "end": 2, "text": "a"}]}), "start 3 and end 2"),
        (json.dumps({"scenes": [{"start": 0, "end": 5, "text": "a"}, {"start": 4, "end": 6, "text": "b"}]}),
         "scenes[1]: starts at 4"),
        (json.dumps({"scenes": [{"start": 0, "end": 5, "text": {"ko_KR": "a"}}]}), "unknown locale 'ko_KR'"),
        (json.dumps({"scenes": [{"start": 0, "end": 5, "text": {"ko-KR": "{{#a}}"}}]}), "scenes[0].text.ko-KR"),
        (json.dumps({"scenes": [{"start": 0, "end": 5, "text": "a", "personal": "yes"}]}), "personal"),
        (json.dumps({"scenario": "home_new", "scenes": [{"start": 0, "end": 5, "text": "a"}]}),
         "scenario 'home_new'"),
        (json.dumps({"scenes": [{"start": 0, "end": 5, "text": "x" * 5000}]}), "longer than 4096"),
    ]
    for i, (text, why) in enumerate(bad):
        d = os.path.join(tmp, "bad%d" % i)
        write(tmp, "bad%d/narration.json" % i, text)
        rc, out, err = run(["narration", rec, "--template", d])
        check("bad narration %d exit" % i, rc == 2 and out == "", (rc, err))
        check("bad narration %d message" % i, why in err and "narration.json" in err, err)
        if "scenario" not in why:
            rc, _, err = run(["narration", "--check", os.path.join(d, "narration.json")])
            check("bad narration %d --check" % i, rc == 2 and why in err, err)

    # a bill.json written by `vbill batch` says the same words as its record
    bill_json(tmp, spec)

    # records that are not bills
    rc, out, err = run(["narration", "-"], '{"id": "X"')
    check("malformed record", rc == 3 and out == "" and "X" not in out, err)
    nobody = dict(spec, lines=[{"kind": "mobile", "event": "none", "monthly_fee": 1}])
    rc, out, err = run(["narration", "-"], json.dumps(nobody))
    check("no scenario", rc == 3 and "no scenario" in err, err)
    check("no birth date in messages", "1958" not in err)


def bill_json(tmp, spec):
    """bill.json as `vbill batch` writes it (tests/bill_dump: vbill_bill_to_json)."""
    dump = os.path.join(BUILD, "tests", "bill_dump")
    recs = [dict(spec, id="B-KO"), dict(spec, id="B-EN", locale="en-US", currency="USD"),
            dict(spec, id="B-JA", locale="ja-JP", currency="JPY")]
    bp = None
    for r in recs:
        p = subprocess.run([dump], input=json.dumps(r, ensure_ascii=False).encode(),
                           capture_output=True, timeout=60)
        check("bill_dump %s" % r["id"], p.returncode == 0, p.stderr.decode())
        bp = write(tmp, "bills/%s.json" % r["id"], p.stdout.decode())
        check("bill.json has no birth date", r["birth"] not in p.stdout.decode())
        rc1, from_bill, err1 = run(["narration", bp])
        rc2, from_record, err2 = run(["narration", "-"], json.dumps(r, ensure_ascii=False))
        check("narration of bill.json %s" % r["id"], rc1 == 0 and rc2 == 0, err1 + err2)
        if rc1 == 0 and rc2 == 0:
            a, b = json.loads(from_bill), json.loads(from_record)
            check("bill.json and record say the same words (%s)" % r["id"], a == b,
                  (a["scenes"][:2], b["scenes"][:2]))
            check("bill.json: locale %s" % r["id"], a["locale"] == r.get("locale", "ko-KR"),
                  a["locale"])
            check("bill.json: words, not digits (%s)" % r["id"],
                  all(not re.search(r"[0-9]", s["text"]) for s in a["scenes"]), a["scenes"][2])
    # a damaged bill.json is refused with the field named
    if bp:
        with open(bp, encoding="utf-8") as f:
            bill = json.load(f)
        bill["amounts"]["this_month"] = "many"
        rc, out, err = run(["narration", "-"], json.dumps(bill, ensure_ascii=False))
        check("damaged bill.json refused", rc != 0 and out == "" and "B-JA" in err, (rc, err))


if __name__ == "__main__":
    sys.exit(main())
