#!/usr/bin/env python3
"""Writes tests/vectors/fill.jsonl: subscriber records covering the scenarios, locales,
currencies and pro-rating edges of SPEC.md sections 2-4.  Run once; the expected results
(fill.expected.jsonl) were then made ONCE with the C CLI (`vbill fill fill.jsonl`) and
reviewed by hand (see README.md here).  Both files are checked in; do not regenerate the
expected file to make a failing test pass."""
import copy
import json
import os

HERE = os.path.dirname(os.path.abspath(__file__))
with open(os.path.join(HERE, "spec_example.json"), encoding="utf-8") as f:
    SPEC = json.load(f)


def line(lid, kind, event, fee, start="2026-11-14", discounts=(), device=None, product=None):
    ln = {"id": lid, "kind": kind, "product": product or ("5G 요금제" if kind == "mobile" else
                                                          "기가 인터넷"),
          "event": event, "monthly_fee": fee,
          "discounts": [{"name": n, "amount": a} for n, a in discounts]}
    if event != "none" or start:
        ln["start"] = start
    if device:
        ln["device"] = device
    return ln


def rec(rid, lines, **kw):
    r = {"id": rid, "name": kw.pop("name", "김민수"), "birth": kw.pop("birth", "1985-06-01"),
         "phone": "01012345678", "locale": kw.pop("locale", "ko-KR"),
         "currency": kw.pop("currency", "KRW"),
         "bill": {"issue_date": "2026-12-05", "cycle_start": "2026-11-01",
                  "cycle_end": "2026-11-30"},
         "lines": lines}
    r["bill"].update(kw.pop("bill", {}))
    r.update(kw)
    return r


CARD = {"method": "card", "institution": "신한카드", "account_last4": "1234", "day": 25}
BANK = {"method": "bank", "institution": "국민은행", "account_last4": "9876", "day": 10}
GIRO = {"method": "giro"}
BUNDLE = {"name": "가족 결합", "discount": 11000}

records = [
    SPEC,
    # the seven scenarios and none
    rec("V-01", [line("L1", "mobile", "new", 85000, discounts=[("선택약정", 21250)]),
                 line("L2", "mobile", "new", 55000),
                 line("L3", "home", "new", 33000, discounts=[("약정", 6600)])],
        bundle=dict(BUNDLE, start="2026-11-14"), payment=CARD),
    rec("V-02", [line("L1", "mobile", "new", 69000), line("L2", "mobile", "new", 49000)],
        bundle=BUNDLE, payment=BANK),
    rec("V-03", [line("L1", "mobile", "device_change", 75000,
                      device={"model": "iPhone 18", "installment_monthly": 52000,
                              "months_left": 24}),
                 line("L2", "home", "none", 33000, start=None)],
        bundle=BUNDLE, payment=CARD),
    rec("V-04", [line("L1", "mobile", "device_change", 59000,
                      device={"model": "Galaxy A", "installment_monthly": 20000,
                              "months_left": 0})], payment=GIRO),
    rec("V-05", [line("L1", "home", "new", 33000, start="2026-11-20"),
                 line("L2", "mobile", "none", 55000, start=None)],
        bundle=dict(BUNDLE, start="2026-11-20")),
    rec("V-06", [line("L1", "home", "new", 27500, start="2026-11-30")]),
    rec("V-07", [line("L1", "home", "recontract", 33000, start="2026-11-10",
                      discounts=[("재약정", 5500)])], payment=BANK),
    rec("V-08", [line("L1", "mobile", "none", 55000, start=None)]),
    # locales and currencies
    rec("V-09", [line("L1", "mobile", "new", 7000, start="2026-11-16",
                      product="Unlimited Plus"),
                 line("L2", "mobile", "new", 4500, start="2026-11-16", product="Basic")],
        name="John Smith", locale="en-US", currency="USD", bundle={"name": "Family",
                                                                    "discount": 1000},
        payment={"method": "card", "institution": "Visa", "account_last4": "4242", "day": 1}),
    rec("V-10", [line("L1", "home", "new", 33000)], name="Jane Q Public", locale="en-US",
        currency="KRW", payment=CARD),
    rec("V-11", [line("L1", "home", "new", 4400, start="2026-11-03", product="光回線")],
        name="山田 太郎", locale="ja-JP", currency="JPY",
        payment={"method": "bank", "institution": "三菱UFJ銀行", "account_last4": "0001",
                 "day": 27}),
    rec("V-12", [line("L1", "mobile", "device_change", 6500,
                      device={"model": "Pixel", "installment_monthly": 3000, "months_left": 12})],
        name="佐藤花子", locale="ja-JP", currency="JPY"),
    # pro-rating edges
    rec("V-13", [line("L1", "mobile", "new", 85000, start="2026-10-20"),
                 line("L2", "mobile", "new", 55000, start="2026-11-01")], bundle=BUNDLE),
    rec("V-14", [line("L1", "home", "new", 33000, start="2026-12-02")]),
    rec("V-15", [line("L1", "home", "new", 33333, start="2026-11-07")],
        bill={"rounding_unit": 100}),
    rec("V-16", [line("L1", "home", "new", 30000, start="2026-02-15")],
        bill={"issue_date": "2026-03-05", "cycle_start": "2026-02-01",
              "cycle_end": "2026-02-28"}),
    rec("V-17", [line("L1", "home", "new", 31000, start="2026-12-31")],
        bill={"issue_date": "2027-01-05", "cycle_start": "2026-12-01",
              "cycle_end": "2026-12-31"}),
    rec("V-18", [line("L1", "mobile", "new", 10000), line("L2", "mobile", "new", 10000)],
        bundle={"name": "큰 할인", "discount": 50000}),
    rec("V-19", [line("L1", "home", "new", 33000)],
        bill={"total": 18700, "other_charges": [{"name": "설치비", "amount": 27500},
                                                {"name": "모뎀", "amount": 0}]}),
    rec("V-20", [line("L1", "home", "new", 33000)], bill={"total": 18700}),
    # ages
    rec("V-21", [line("L1", "home", "recontract", 22000)], birth="1966-12-05"),
    rec("V-22", [line("L1", "home", "recontract", 22000)], birth="1966-12-06"),
    rec("V-23", [line("L1", "home", "recontract", 22000)], birth="1964-02-29",
        bill={"issue_date": "2025-02-28", "cycle_start": "2025-01-01",
              "cycle_end": "2025-01-31"}),
    rec("V-24", [line("L1", "home", "recontract", 22000)], birth="1964-02-29",
        bill={"issue_date": "2025-03-01", "cycle_start": "2025-01-01",
              "cycle_end": "2025-01-31"}),
    # names, many lines, free-form text
    rec("V-25", [line("L%d" % i, "mobile", "new", 10000 + 1000 * i,
                      start="2026-11-%02d" % (i + 1)) for i in range(1, 9)]
        + [line("H1", "home", "new", 33000)], name="남궁 민수", bundle=BUNDLE, payment=CARD,
        benefits=["데이터 무제한", "OTT 3개월 무료 🎬"]),
    rec("V-26", [line("L1", "home", "new", 33000)], name="Prince"),
    rec("V-27", [line("L1", "home", "new", 0, discounts=[("무료", 0)])], name="이"),
]
out = os.path.join(HERE, "fill.jsonl")
with open(out, "w", encoding="utf-8") as f:
    for r in records:
        f.write(json.dumps(r, ensure_ascii=False) + "\n")
print("wrote %d records to %s" % (len(records), out))
