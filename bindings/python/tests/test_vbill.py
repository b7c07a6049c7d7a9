"""Tests of the vbill Python binding against a real libvbill (set VBILL_LIBRARY to a build's
libvbill.so.1; `make check` does).  Run: python3 -m unittest discover -s bindings/python/tests

The optional parts are asked of the library (vbill.has): the tests of a part it was built
without are skipped with a message, and a part it says it has must work (a missing function
of it is a failure, never a skip).  Misuse that used to crash the interpreter is run in a
child process (TestMisuse), so a crash fails that test instead of ending the run.
"""
import base64
import copy
import gc
import json
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
PKGDIR = os.environ.get("VBILL_PYTHONPATH", os.path.dirname(HERE))
sys.path.insert(0, PKGDIR)
import vbill  # noqa: E402
from vbill import _lib  # noqa: E402

SRCDIR = os.environ.get("VBILL_SRCDIR", os.path.join(HERE, "..", "..", ".."))
with open(os.path.join(SRCDIR, "tests", "vectors", "spec_example.json"), encoding="utf-8") as f:
    SPEC_TEXT = f.read()
SPEC = json.loads(SPEC_TEXT)  # the worked example of SPEC.md section 2

HAS_VIDEO = vbill.has("video")
HAS_REDIS = vbill.has("redis")
NO_VIDEO = "libvbill was built without the video part (vbill.has('video') is false)"
NO_REDIS = "libvbill was built without the redis part (vbill.has('redis') is false)"
HAS_FFMPEG = shutil.which("ffmpeg") is not None

# The C functions of each optional part: present whenever the library says the part is.
VIDEO_FUNCTIONS = ["vbill_template_open", "vbill_template_prepare", "vbill_template_errmsg",
                   "vbill_template_is_prepared", "vbill_template_scenario",
                   "vbill_template_info", "vbill_template_free", "vbill_render_mp4",
                   "vbill_render_hls", "vbill_render_playlist", "vbill_render_segment",
                   "vbill_render_still", "vbill_still_jpeg", "vbill_template_builtin_write",
                   "vbill_template_builtin_list"]
REDIS_FUNCTIONS = ["vbill_store_open_redis", "vbill_store_open_redis_url"]


def spec(**changes):
    r = copy.deepcopy(SPEC)
    r.update(changes)
    return r


class TestBasics(unittest.TestCase):
    def test_version(self):
        self.assertRegex(vbill.version(), r"^\d+\.\d+\.\d+")
        major, minor, patch = (int(x) for x in vbill.version().split(".")[:3])
        self.assertEqual(vbill.version_num(), (major << 16) | (minor << 8) | patch)
        self.assertGreaterEqual(vbill.version_num(), 0x000200)
        self.assertEqual(vbill.__version__, "0.2.0")

    def test_strerror(self):
        self.assertTrue(vbill.strerror(vbill.Status.ERR_RECORD).startswith("VBILL_ERR_RECORD"))
        self.assertTrue(vbill.strerror(vbill.Status.ERR_BUSY).startswith("VBILL_ERR_BUSY"))
        self.assertTrue(vbill.strerror(9999))  # never NULL

    def test_has(self):
        for always in ("records", "mustache", "auth", "hooks", "chat"):
            self.assertTrue(vbill.has(always), always)
        self.assertFalse(vbill.has("no-such-part"))
        self.assertIsInstance(vbill.has("video"), bool)
        with self.assertRaises(TypeError):
            vbill.has(None)

    def test_default_rules(self):
        rules = vbill.default_rules()
        ids = [r["scenario"] for r in rules["rules"]]
        self.assertEqual(ids[0], "mobile_new_home_new")
        self.assertEqual(len(ids), 7)
        self.assertEqual(json.loads(vbill.default_rules_json()), rules)

    def test_every_function_resolves_and_fallible_calls_check(self):
        # The library of this binding's version exports every function the binding declares
        # (an absent part keeps its functions: they say UNSUPPORTED).
        not_status = {"vbill_template_is_prepared", "vbill_has", "vbill_bill_senior",
                      "vbill_bill_can_issue_link"}
        for name, (restype, _args, _check) in _lib._PROTOS.items():
            self.assertTrue(_lib.exports(name), name)
            if restype is _lib.c_status and name not in not_status:
                self.assertIsNotNone(getattr(_lib.fn(name), "errcheck", None), name)

    def test_present_parts_have_their_functions(self):
        if HAS_VIDEO:
            for name in VIDEO_FUNCTIONS:
                self.assertTrue(_lib.exports(name), "video is present but %s is missing" % name)
        if HAS_REDIS:
            for name in REDIS_FUNCTIONS:
                self.assertTrue(_lib.exports(name), "redis is present but %s is missing" % name)

    def test_error_classes(self):
        e = vbill.error_for(16, "m")
        self.assertIsInstance(e, vbill.AuthWrongError)
        self.assertIsInstance(e, vbill.AuthError)
        self.assertIsInstance(vbill.error_for(13, "m"), vbill.LinkError)
        self.assertIsInstance(vbill.error_for(5, "m"), ValueError)
        self.assertEqual(vbill.error_for(5, "m").code, "VBILL_ERR_RECORD")
        self.assertIsInstance(vbill.error_for(23, "m"), vbill.UnsupportedError)
        self.assertIsInstance(vbill.error_for(24, "m"), vbill.BusyError)
        self.assertEqual(vbill.error_for(24, "m").code, "VBILL_ERR_BUSY")
        self.assertEqual(type(vbill.error_for(777, "m")), vbill.Error)
        self.assertTrue(issubclass(vbill.ClosedError, TypeError))
        self.assertTrue(issubclass(vbill.ClosedError, vbill.ArgumentError))


class TestRecords(unittest.TestCase):
    def setUp(self):
        self.ctx = vbill.Context()

    def tearDown(self):
        self.ctx.close()

    def test_classify_worked_example(self):
        r = self.ctx.classify(SPEC)
        self.assertEqual(r["id"], "S-000123")
        self.assertEqual(r["scenario"], "mobile_new_bundle")
        self.assertEqual(r["age"], 68)
        self.assertIs(r["senior"], True)
        self.assertAlmostEqual(r["speed"], 0.8)
        self.assertEqual(r["flags"], [])

    def test_dict_and_json_string_agree(self):
        self.assertEqual(self.ctx.classify_json(SPEC), self.ctx.classify_json(SPEC_TEXT))
        self.assertEqual(self.ctx.classify_json(SPEC_TEXT.encode("utf-8")),
                         self.ctx.classify_json(SPEC))
        self.assertIsInstance(self.ctx.classify_json(SPEC), str)

    def test_bad_record_raises_record_error(self):
        with self.assertRaises(vbill.RecordError) as cm:
            self.ctx.classify(spec(birth="1970-02-30"), line=6)
        e = cm.exception
        self.assertEqual(e.status, vbill.Status.ERR_RECORD)
        self.assertIn("S-000123", e.message)
        self.assertIn("birth", e.message)
        self.assertEqual(str(e), e.message)
        self.assertEqual(self.ctx.errmsg, e.message)
        self.ctx.bill(SPEC).close()
        self.assertEqual(self.ctx.errmsg, "")  # cleared by the next call

    def test_no_id_names_the_line(self):
        r = spec()
        del r["id"]
        with self.assertRaises(vbill.RecordError) as cm:
            self.ctx.classify(r, line=21)
        self.assertIn("line 21", str(cm.exception))

    def test_malformed_json_is_a_record_error(self):
        # Documented: a record that is not JSON is a RecordError (not a JSONError), for
        # classify, fill and bill alike.
        for call in (self.ctx.classify, self.ctx.fill, self.ctx.bill):
            with self.assertRaises(vbill.RecordError) as cm:
                call('{"id": "x",', line=3)
            self.assertNotIsInstance(cm.exception, vbill.JSONError)
            self.assertIn("line 3", str(cm.exception))
            self.assertIn("JSON", str(cm.exception))

    def test_wrong_type(self):
        for bad in (object(), None, {1, 2}):
            with self.assertRaises(TypeError):
                self.ctx.classify(bad)
        with self.assertRaises(TypeError):
            self.ctx.classify(SPEC, line="6")
        with self.assertRaises(TypeError):
            self.ctx.classify({"x": float("nan")})

    def test_senior_option(self):
        self.ctx.set_senior(70, 0.5)
        r = self.ctx.classify(SPEC)
        self.assertIs(r["senior"], False)
        with self.assertRaises(vbill.ArgumentError) as cm:
            self.ctx.set_senior(60, 7.0)
        self.assertEqual(cm.exception.message, self.ctx.errmsg)
        with self.assertRaises(TypeError):
            self.ctx.set_senior("60", 0.8)

    def test_rules(self):
        with self.assertRaises(vbill.RulesError) as cm:
            self.ctx.set_rules({"rules": [{"scenario": "x", "when": ["nope"]}]})
        self.assertIn("rules[0].when[0]", str(cm.exception))
        # the previous (default) rules are kept
        self.assertEqual(self.ctx.classify(SPEC)["scenario"], "mobile_new_bundle")
        self.ctx.set_rules('{"rules": [{"scenario": "everyone", "when": []}]}')
        self.assertEqual(self.ctx.classify(SPEC)["scenario"], "everyone")
        with vbill.Context(rules={"rules": [{"scenario": "home", "when": ["h_any"]}]}) as c2:
            self.assertIsNone(c2.classify(SPEC)["scenario"])

    def test_load_rules_file(self):
        with tempfile.TemporaryDirectory() as d:
            p = os.path.join(d, "rules.json")
            with open(p, "w") as f:
                json.dump({"rules": [{"scenario": "two_mobiles", "when": ["m_any >= 2"]}]}, f)
            self.ctx.load_rules(p)
            self.assertEqual(self.ctx.classify(SPEC)["scenario"], "two_mobiles")
            with self.assertRaises(vbill.Error) as cm:
                self.ctx.load_rules(os.path.join(d, "missing.json"))
            self.assertIn("missing.json", str(cm.exception))

    def test_default_slots(self):
        slots = self.ctx.default_slots("mobile_new_bundle", "ko-KR")
        self.assertIsInstance(slots, dict)
        self.assertTrue(slots)
        self.assertIsInstance(self.ctx.default_slots("no_such_scenario", "en-US"), dict)

    def test_total_mismatch_flag(self):
        r = spec()
        r["bill"] = dict(r["bill"], total=1)
        self.assertIn("total_mismatch", self.ctx.classify(r)["flags"])

    def test_log_callback(self):
        lines = []
        self.ctx.set_log(lambda level, msg: lines.append((level, msg)), vbill.LogLevel.DEBUG)
        with self.assertRaises(vbill.RecordError):
            self.ctx.classify(spec(birth="bad"))
        self.assertTrue(any("birth" in m for _, m in lines))
        self.assertFalse(any("1958" in m for _, m in lines))  # no birth date in logs
        self.ctx.set_log(None)
        with self.assertRaises(TypeError):
            self.ctx.set_log("print")

    def test_callback_calling_back_into_its_context_is_busy(self):
        # A log callback that calls the context running it gets BusyError (status BUSY), not
        # a deadlock or a re-entered C context; the outer call still completes.
        seen = []

        def log(level, msg):
            try:
                self.ctx.classify(SPEC)
                seen.append("re-entered")
            except vbill.BusyError as e:
                seen.append(e.status)
        self.ctx.set_log(log, vbill.LogLevel.DEBUG)
        with self.assertRaises(vbill.RecordError):
            self.ctx.classify(spec(birth="bad"))
        self.ctx.set_log(None)
        self.assertTrue(seen)
        self.assertEqual(set(seen), {vbill.Status.ERR_BUSY})

    def test_threads_share_a_context(self):
        errors = []

        def work():
            try:
                for _ in range(50):
                    assert self.ctx.classify(SPEC)["age"] == 68
            except Exception as e:  # pragma: no cover
                errors.append(e)
        ts = [threading.Thread(target=work) for _ in range(4)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        self.assertEqual(errors, [])


class TestFill(unittest.TestCase):
    def setUp(self):
        self.ctx = vbill.Context()

    def tearDown(self):
        self.ctx.close()

    def test_fill_worked_example(self):
        r = self.ctx.fill(SPEC)
        a = r["amounts"]
        self.assertEqual([ln["prorated"] for ln in a["lines"]], [36120, 23370])
        self.assertEqual(a["bundle_prorated"], 6230)
        self.assertEqual(a["this_month"], 60960)
        self.assertEqual(a["next_month"], 139000)
        self.assertEqual(r["period"], {"start": "2026-11-14", "end": "2026-11-30"})
        self.assertTrue(r["slots"])
        self.assertEqual(json.loads(self.ctx.fill_json(SPEC)), r)

    def test_mustache(self):
        self.assertEqual(vbill.mustache("Hi {{name}}{{#x}}!{{/x}}", {"name": "<A>", "x": True}),
                         "Hi &lt;A&gt;!")
        self.assertEqual(self.ctx.mustache("{{>p}}", {"v": 1}, {"p": "v={{v}}"}), "v=1")
        with self.assertRaises(vbill.TemplateError):
            self.ctx.mustache("{{#open}}", {})
        with self.assertRaises(TypeError):
            self.ctx.mustache(None, {})


class TestBill(unittest.TestCase):
    def setUp(self):
        self.ctx = vbill.Context()

    def tearDown(self):
        self.ctx.close()

    def test_from_dict_and_text(self):
        for record in (SPEC, SPEC_TEXT, SPEC_TEXT.encode("utf-8")):
            with self.ctx.bill(record) as b:
                self.assertEqual(b.id, "S-000123")
                self.assertEqual(b.scenario, "mobile_new_bundle")
                self.assertEqual(b.locale, "ko-KR")
                self.assertEqual(b.cycle, "2026-11")
                self.assertEqual(b.cycle_start, "2026-11-01")
                self.assertIs(b.senior, True)
                self.assertAlmostEqual(b.speed, 0.8)
                self.assertIs(b.can_issue_link, True)
                self.assertIn("S-000123", repr(b))

    def test_context(self):
        with self.ctx.bill(SPEC) as b:
            c = b.context()
            self.assertEqual(c["name_masked"], "김*수")
            self.assertEqual(c["this_month_text"], "60,960원")
            self.assertEqual(json.loads(b.context_json()), c)
            self.assertNotIn("1958-03-14", b.context_json())
            self.assertNotIn("birth", b.context_json())

    def test_to_json_and_back(self):
        with self.ctx.bill(SPEC) as b:
            text = b.to_json()
        doc = json.loads(text)
        self.assertEqual(doc["vbill_bill"], 1)
        self.assertEqual(doc["amounts"]["this_month"], 60960)
        self.assertNotIn("1958", text)
        self.assertNotIn("birth", text)
        with vbill.Bill.from_json(self.ctx, text) as back:
            self.assertEqual(back.to_json(), text)  # the same bill, byte for byte
            self.assertEqual(back.id, "S-000123")
            self.assertIs(back.can_issue_link, False)
        with vbill.Bill.from_json(self.ctx, doc) as back:  # a dict works too
            self.assertEqual(back.to_json(), text)

    def test_from_json_errors(self):
        with self.assertRaises(vbill.JSONError) as cm:
            vbill.Bill.from_json(self.ctx, "{not json")
        self.assertEqual(cm.exception.status, vbill.Status.ERR_JSON)
        with self.ctx.bill(SPEC) as b:
            doc = json.loads(b.to_json())
        doc["amounts"]["lines"][0]["days"] = "x"
        with self.assertRaises(vbill.RecordError) as cm:
            vbill.Bill.from_json(self.ctx, doc)
        self.assertIn("amounts.lines[0].days", cm.exception.message)
        with self.assertRaises(TypeError):
            vbill.Bill.from_json("not a context", "{}")
        with self.assertRaises(TypeError):
            vbill.Bill.from_json(self.ctx, None)

    def test_no_scenario_bill(self):
        with vbill.Context(rules={"rules": [{"scenario": "home", "when": ["h_any"]}]}) as c:
            with c.bill(SPEC) as b:
                self.assertIsNone(b.scenario)
                self.assertIn('"scenario":null', b.to_json())

    def test_bad_record(self):
        with self.assertRaises(vbill.RecordError) as cm:
            self.ctx.bill(spec(birth="19580314"), line=4)
        self.assertEqual(self.ctx.errmsg, cm.exception.message)

    def test_lifetime(self):
        b = self.ctx.bill(SPEC)
        self.ctx.close()  # a bill does not depend on the context that made it
        self.assertEqual(b.id, "S-000123")
        self.assertTrue(b.to_json())
        b.close()
        b.close()
        self.assertTrue(b.closed)
        with self.assertRaises(vbill.ClosedError):
            b.id
        with self.assertRaises(TypeError):
            b.to_json()
        for _ in range(200):
            with vbill.Context() as c:
                c.bill(SPEC)  # dropped at once: freed by __del__
        gc.collect()

    def test_threads_share_a_bill(self):
        errors = []
        with self.ctx.bill(SPEC) as b:
            def work():
                try:
                    with vbill.Context() as c:
                        for _ in range(30):
                            assert c.event_data(b)["subscriber_id"] == "S-000123"
                            assert b.context()["this_month"] == 60960
                except Exception as e:  # pragma: no cover
                    errors.append(e)
            ts = [threading.Thread(target=work) for _ in range(4)]
            for t in ts:
                t.start()
            for t in ts:
                t.join()
        self.assertEqual(errors, [])

    def test_close_while_another_thread_uses_it(self):
        # close() during a call in another thread: released when that call returns.
        b = self.ctx.bill(SPEC)
        started, done = threading.Event(), []

        def work():
            with vbill.Context() as c:
                started.set()
                for _ in range(200):
                    try:
                        c.event_data(b)
                    except vbill.ClosedError:
                        done.append("closed")
                        return
            done.append("finished")
        t = threading.Thread(target=work)
        t.start()
        started.wait()
        b.close()
        t.join()
        self.assertTrue(done)


class TestLifetime(unittest.TestCase):
    def test_close_twice_and_use_after_close(self):
        ctx = vbill.Context()
        ctx.close()
        ctx.close()
        self.assertTrue(ctx.closed)
        with self.assertRaises(vbill.ClosedError):
            ctx.classify(SPEC)
        with self.assertRaises(TypeError):  # ClosedError is a TypeError too
            ctx.classify(SPEC)

    def test_context_manager_and_gc(self):
        with vbill.Context() as ctx:
            ctx.classify(SPEC)
        self.assertTrue(ctx.closed)
        for _ in range(200):
            vbill.Context()
        gc.collect()


class TestLinks(unittest.TestCase):
    NOW = 1796000000

    def setUp(self):
        self.ctx = vbill.Context()
        self.tmp = tempfile.TemporaryDirectory()
        self.keys = self.ctx.keys_from_json(self.ctx.generate_keys())
        self.store = self.ctx.open_store(self.tmp.name)
        self.bill = self.ctx.bill(SPEC)

    def tearDown(self):
        self.bill.close()
        self.store.close()
        self.keys.close()
        self.ctx.close()
        self.tmp.cleanup()

    def test_issue_verify(self):
        tok = self.ctx.link_issue(self.keys, self.bill, 3600, now=self.NOW)
        info = self.ctx.link_verify(self.keys, tok, now=self.NOW + 10)
        self.assertEqual(info["subscriber"], "S-000123")
        self.assertEqual(info["scenario"], "mobile_new_bundle")
        self.assertNotIn("1958", json.dumps(info))
        with self.assertRaises(vbill.LinkExpiredError):
            self.ctx.link_verify(self.keys, tok, now=self.NOW + 7200)
        bad = tok[:-3] + ("A" if tok[-3] != "A" else "B") + tok[-2:]
        with self.assertRaises(vbill.LinkError) as cm:
            self.ctx.link_verify(self.keys, bad, now=self.NOW)
        self.assertIn(cm.exception.status, (12, 13))
        with self.assertRaises(vbill.LinkMalformedError):
            self.ctx.link_verify(self.keys, "not a token", now=self.NOW)
        with self.ctx.keys_from_json(self.ctx.generate_keys()) as other:
            with self.assertRaises(vbill.LinkKeyError):
                self.ctx.link_verify(other, tok, now=self.NOW)

    def test_bill_from_json_cannot_issue(self):
        with vbill.Bill.from_json(self.ctx, self.bill.to_json()) as b:
            with self.assertRaises(vbill.UnsupportedError) as cm:
                self.ctx.link_issue(self.keys, b, 3600, now=self.NOW)
        self.assertEqual(cm.exception.status, vbill.Status.ERR_UNSUPPORTED)
        self.assertEqual(cm.exception.message, self.ctx.errmsg)

    def test_reissue_revokes_the_old_link(self):
        tok = self.ctx.link_issue(self.keys, self.bill, 3600, now=self.NOW)
        old_session = self.ctx.auth_check(self.keys, self.store, tok, "580314", "10.0.0.1",
                                          now=self.NOW)
        new = self.ctx.link_reissue(self.keys, self.store, tok, self.bill, 3600,
                                    now=self.NOW + 5)
        self.assertNotEqual(new, tok)
        info = self.ctx.link_verify_store(self.keys, self.store, new, now=self.NOW + 6)
        self.assertEqual(info["subscriber"], "S-000123")
        # The old link: its signature is still good (the stateless verify cannot tell) but
        # the store refuses it everywhere a server decides to serve.
        self.assertEqual(self.ctx.link_verify(self.keys, tok, now=self.NOW + 6)["link"],
                         self.ctx.link_verify(self.keys, tok, now=self.NOW)["link"])
        with self.assertRaises(vbill.LinkExpiredError) as cm:
            self.ctx.link_verify_store(self.keys, self.store, tok, now=self.NOW + 6)
        self.assertIn("revoked", cm.exception.message)
        self.assertEqual(cm.exception.message, self.ctx.errmsg)
        with self.assertRaises(vbill.LinkExpiredError):
            self.ctx.auth_check(self.keys, self.store, tok, "580314", "10.0.0.1",
                                now=self.NOW + 6)
        with self.assertRaises(vbill.SessionError):
            self.ctx.session_verify(self.keys, old_session, tok, "10.0.0.1", store=self.store,
                                    now=self.NOW + 6)
        # without a store the session is still seen as valid: what the header warns about
        self.ctx.session_verify(self.keys, old_session, tok, "10.0.0.1", now=self.NOW + 6)
        with self.assertRaises(vbill.LinkExpiredError):  # re-issue from the newer link
            self.ctx.link_reissue(self.keys, self.store, tok, self.bill, 3600, now=self.NOW + 7)
        self.ctx.auth_check(self.keys, self.store, new, "580314", "10.0.0.1", now=self.NOW + 7)
        with self.ctx.bill(spec(id="S-999")) as other:
            with self.assertRaises(vbill.ArgumentError):
                self.ctx.link_reissue(self.keys, self.store, new, other, 3600, now=self.NOW)
        with self.assertRaises(TypeError):  # the store is required
            self.ctx.link_reissue(self.keys, None, new, self.bill, 3600, now=self.NOW)

    def test_revoke(self):
        tok = self.ctx.link_issue(self.keys, self.bill, 3600, now=self.NOW)
        session = self.ctx.auth_check(self.keys, self.store, tok, "580314", "2001:db8:5:6::1",
                                      now=self.NOW)
        # a session follows its client within the /64
        self.ctx.session_verify(self.keys, session, tok, "2001:db8:5:6::99", store=self.store,
                                now=self.NOW + 1)
        self.ctx.link_verify_store(self.keys, self.store, tok, now=self.NOW)
        self.ctx.link_revoke(self.keys, self.store, tok)
        with self.assertRaises(vbill.LinkExpiredError) as cm:
            self.ctx.link_verify_store(self.keys, self.store, tok, now=self.NOW)
        self.assertIn("revoked", cm.exception.message)
        self.ctx.link_verify_store(self.keys, None, tok, now=self.NOW)  # no store: no record
        with self.assertRaises(vbill.LinkExpiredError):
            self.ctx.auth_check(self.keys, self.store, tok, "580314", "2001:db8:5:6::1",
                                now=self.NOW)
        with self.assertRaises(vbill.SessionError):
            self.ctx.session_verify(self.keys, session, tok, "2001:db8:5:6::1",
                                    store=self.store, now=self.NOW + 1)
        self.ctx.link_unlock(self.keys, self.store, tok)  # never un-revokes
        with self.assertRaises(vbill.LinkExpiredError):
            self.ctx.auth_check(self.keys, self.store, tok, "580314", "192.0.2.1", now=self.NOW)
        with self.assertRaises(vbill.LinkMalformedError):
            self.ctx.link_revoke(self.keys, self.store, "garbage")
        with self.assertRaises(TypeError):
            self.ctx.link_revoke(self.keys, None, tok)
        # another store (another deployment's state) knows nothing of the revocation
        with tempfile.TemporaryDirectory() as d, self.ctx.open_store(d) as other:
            self.ctx.link_verify_store(self.keys, other, tok, now=self.NOW)

    def test_auth_check_and_session(self):
        tok = self.ctx.link_issue(self.keys, self.bill, 3600, now=self.NOW)
        with self.assertRaises(vbill.AuthWrongError) as cm:
            self.ctx.auth_check(self.keys, self.store, tok, "000000", "10.0.0.1", now=self.NOW)
        self.assertNotIn("580314", str(cm.exception))
        session = self.ctx.auth_check(self.keys, self.store, tok, "580314", "10.0.0.1",
                                      now=self.NOW)
        self.ctx.session_verify(self.keys, session, tok, "10.0.0.1", now=self.NOW)
        self.ctx.session_verify(self.keys, session, tok, "10.0.0.1", store=self.store,
                                now=self.NOW)
        with self.assertRaises(vbill.SessionError):
            self.ctx.session_verify(self.keys, session, tok, "10.9.9.9", now=self.NOW)

    def test_client_is_required(self):
        tok = self.ctx.link_issue(self.keys, self.bill, 3600, now=self.NOW)
        with self.assertRaises(TypeError):  # no default any more
            self.ctx.auth_check(self.keys, self.store, tok, "580314")
        with self.assertRaises(TypeError) as cm:
            self.ctx.auth_check(self.keys, self.store, tok, "580314", None)
        self.assertIn("client", str(cm.exception))
        with self.assertRaises(vbill.ArgumentError) as cm:
            self.ctx.auth_check(self.keys, self.store, tok, "580314", "")
        self.assertIn("client", cm.exception.message)
        session = self.ctx.auth_check(self.keys, self.store, tok, "580314", "10.0.0.1",
                                      now=self.NOW)
        with self.assertRaises(TypeError):
            self.ctx.session_verify(self.keys, session, tok)
        with self.assertRaises(TypeError):
            self.ctx.session_verify(self.keys, session, tok, None, store=self.store)
        with self.assertRaises(vbill.ArgumentError):
            self.ctx.session_verify(self.keys, session, tok, "", store=self.store,
                                    now=self.NOW)
        # an empty client did not count: the right digits pass at once from a real one
        self.assertEqual(self.store.stats(now=self.NOW)["failed"], 0)

    def test_lock(self):
        events = []
        self.store.set_limits(soft=2, cooling_seconds=60, hard=3)
        self.store.set_lock_hook(events.append)
        tok = self.ctx.link_issue(self.keys, self.bill, 3600, now=self.NOW)
        for i in range(2):
            with self.assertRaises(vbill.AuthWrongError):
                self.ctx.auth_check(self.keys, self.store, tok, "111111", "10.0.1.%d" % i,
                                    now=self.NOW)
        with self.assertRaises(vbill.AuthLockedError):
            self.ctx.auth_check(self.keys, self.store, tok, "580314", "10.0.1.9", now=self.NOW)
        self.assertEqual([e["type"] for e in events], ["link_locked"])
        att = self.ctx.link_attempts(self.keys, self.store, tok, now=self.NOW + 1)
        self.assertEqual(att, {"state": "cooling", "tries_left": 1,
                               "locked_until": self.NOW + 60})
        with self.assertRaises(TypeError):
            self.ctx.link_attempts(self.keys, None, tok)
        self.assertEqual(events[0]["subscriber"], "S-000123")
        self.assertNotIn("580314", json.dumps(events))
        self.ctx.link_unlock(self.keys, self.store, tok)
        self.ctx.auth_check(self.keys, self.store, tok, "580314", "10.0.1.9", now=self.NOW)
        self.store.set_lock_hook(None)

    def test_subscriber_bound_across_links(self):
        # Three wrong answers for the subscriber's bill of this cycle, whatever the link:
        # two on one link, one on another; then every link of that bill is locked for good,
        # a help-desk unlock gives nothing back and a re-issued link no new guess.
        events = []
        self.store.set_subscriber_limit(3)
        self.store.set_lock_hook(events.append)
        a = self.ctx.link_issue(self.keys, self.bill, 3600, now=self.NOW)
        b = self.ctx.link_issue(self.keys, self.bill, 3600, now=self.NOW)
        for tok, client in ((a, "10.0.2.1"), (a, "10.0.2.2"), (b, "10.0.2.3")):
            with self.assertRaises(vbill.AuthError):
                self.ctx.auth_check(self.keys, self.store, tok, "000000", client, now=self.NOW)
        self.assertIn("subscriber_locked", [e["type"] for e in events])
        ev = [e for e in events if e["type"] == "subscriber_locked"][0]
        self.assertEqual((ev["subscriber"], ev["hard"]), ("S-000123", True))
        for tok in (a, b):
            with self.assertRaises(vbill.AuthLockedError):
                self.ctx.auth_check(self.keys, self.store, tok, "580314", "10.0.2.4",
                                    now=self.NOW)
        self.ctx.link_unlock(self.keys, self.store, a)
        with self.assertRaises(vbill.AuthLockedError):
            self.ctx.auth_check(self.keys, self.store, a, "580314", "10.0.2.4", now=self.NOW)
        c = self.ctx.link_reissue(self.keys, self.store, b, self.bill, 3600, now=self.NOW)
        with self.assertRaises(vbill.AuthLockedError):
            self.ctx.auth_check(self.keys, self.store, c, "580314", "10.0.2.4", now=self.NOW)
        # another subscriber is not held by it
        with self.ctx.bill(spec(id="S-000124")) as other:
            t = self.ctx.link_issue(self.keys, other, 3600, now=self.NOW)
            self.ctx.auth_check(self.keys, self.store, t, "580314", "10.0.2.4", now=self.NOW)
        for bad in (0, 100001):
            with self.assertRaises(vbill.ArgumentError) as cm:
                self.store.set_subscriber_limit(bad)
            self.assertEqual(cm.exception.message, self.store.errmsg)
        with self.assertRaises(TypeError):
            self.store.set_subscriber_limit("3")

    def test_slowdown_alarm_and_stats(self):
        alarms = []
        self.assertEqual({k: self.store.stats(now=self.NOW)[k]
                          for k in ("checks", "passed", "failed", "alarms", "failures_total")},
                         {"checks": 0, "passed": 0, "failed": 0, "alarms": 0,
                          "failures_total": 0})
        self.store.set_limits(client_max=2)
        self.store.set_slowdown(30)
        self.store.set_alarm(3, 60, alarms.append)
        # Wrong answers from one address, each for another subscriber's link.
        toks = []
        for i in range(4):
            with self.ctx.bill(spec(id="S-%06d" % (500 + i))) as b:
                toks.append(self.ctx.link_issue(self.keys, b, 3600, now=self.NOW))
        for i in range(2):
            with self.assertRaises(vbill.AuthWrongError):
                self.ctx.auth_check(self.keys, self.store, toks[i], "000000", "192.0.2.200",
                                    now=self.NOW + i)
        # Over its limit the address is slowed (never locked out): one check every 30 s.
        with self.assertRaises(vbill.AuthLockedError) as cm:
            self.ctx.auth_check(self.keys, self.store, toks[2], "580314", "192.0.2.200",
                                now=self.NOW + 10)
        self.assertIn("try again in", cm.exception.message)
        with self.assertRaises(vbill.AuthWrongError):
            self.ctx.auth_check(self.keys, self.store, toks[2], "000000", "192.0.2.200",
                                now=self.NOW + 31)
        self.assertEqual(len(alarms), 1)  # three failures in the window
        self.assertEqual(alarms[0]["type"], "auth.attack_suspected")
        self.assertEqual((alarms[0]["failures"], alarms[0]["window_seconds"]), (3, 60))
        self.ctx.auth_check(self.keys, self.store, toks[3], "580314", "198.51.100.1",
                            now=self.NOW + 32)
        st = self.store.stats(now=self.NOW + 32)
        # every check counts, the slowed one too: 2 wrong, 1 slowed, 1 wrong, 1 right
        self.assertEqual((st["checks"], st["passed"], st["failed"], st["slowed"], st["alarms"]),
                         (5, 1, 3, 1, 1), st)
        self.assertEqual(st["failures_total"], 3)
        self.assertEqual(st["failures_window"], 3)
        # another handle on the same store: its own counters, the shared totals
        with self.ctx.open_store(self.tmp.name) as again:
            st2 = again.stats(now=self.NOW + 32)
        self.assertEqual((st2["checks"], st2["failures_total"]), (0, 3))
        # an alarm without a callback is counted only
        self.store.set_alarm(1, 60)
        with self.assertRaises(vbill.AuthWrongError):
            self.ctx.auth_check(self.keys, self.store, toks[3], "000000", "198.51.100.1",
                                now=self.NOW + 200)
        self.assertEqual(len(alarms), 1)
        self.assertEqual(self.store.stats(now=self.NOW + 200)["alarms"], 2)
        for call in (lambda: self.store.set_slowdown(0), lambda: self.store.set_slowdown(3601),
                     lambda: self.store.set_alarm(0, 60), lambda: self.store.set_alarm(5, 0),
                     lambda: self.store.set_limits(hard=100001),
                     lambda: self.store.set_limits(cooling_seconds=367 * 86400)):
            with self.assertRaises(vbill.ArgumentError) as cm:
                call()
            self.assertEqual(cm.exception.message, self.store.errmsg)
        with self.assertRaises(TypeError):
            self.store.set_alarm(5, 60, "not callable")

    def test_alarm_callback_calling_its_store_is_busy(self):
        seen = []

        def alarm(event):
            try:
                self.store.stats()
                seen.append("re-entered")
            except vbill.BusyError as e:
                seen.append(e.status)
        self.store.set_alarm(1, 60, alarm)
        tok = self.ctx.link_issue(self.keys, self.bill, 3600, now=self.NOW)
        with self.assertRaises(vbill.AuthWrongError):
            self.ctx.auth_check(self.keys, self.store, tok, "000000", "10.0.3.1", now=self.NOW)
        self.assertEqual(seen, [vbill.Status.ERR_BUSY])

    def test_lock_hook_calling_its_store_is_busy(self):
        seen = []

        def hook(event):
            try:
                self.store.set_limits()
                seen.append("re-entered")
            except vbill.BusyError as e:
                seen.append(e.status)
        self.store.set_limits(soft=1, cooling_seconds=60, hard=2)
        self.store.set_lock_hook(hook)
        tok = self.ctx.link_issue(self.keys, self.bill, 3600, now=self.NOW)
        with self.assertRaises(vbill.AuthError):
            self.ctx.auth_check(self.keys, self.store, tok, "111111", "10.0.0.1", now=self.NOW)
        self.assertEqual(seen, [vbill.Status.ERR_BUSY])

    def test_messages_come_from_the_handle_called(self):
        # store and keys calls without a context report on their own handle
        self.ctx.bill(SPEC).close()  # the context's message is ""
        with self.assertRaises(vbill.ArgumentError) as cm:
            self.store.set_limits(soft=5, hard=2)
        self.assertTrue(cm.exception.message)
        self.assertEqual(cm.exception.message, self.store.errmsg)
        self.assertEqual(self.ctx.errmsg, "")
        with self.assertRaises(vbill.ArgumentError) as cm:
            self.keys.set_session_ttl(0)
        self.assertTrue(cm.exception.message)
        self.assertEqual(cm.exception.message, self.keys.errmsg)
        self.assertEqual(self.ctx.errmsg, "")
        self.keys.set_session_ttl(600)
        self.assertEqual(self.keys.errmsg, "")

    def test_sms(self):
        text = self.ctx.message_build(self.bill, "https://b.example/v/abc")
        self.assertIn("https://b.example/v/abc", text)
        self.assertEqual(vbill.text_euckr_bytes("가a"), 3)
        with self.assertRaises(vbill.ArgumentError):
            vbill.text_euckr_bytes(b"\xff\xfe")

    def test_embedded_nul_is_refused(self):
        with self.assertRaises(ValueError):
            self.ctx.link_verify(self.keys, "abc\0def")
        with self.assertRaises(ValueError):
            self.ctx.message_build(self.bill, "https://b.example/\0x")

    @unittest.skipIf(HAS_REDIS, "the library has the redis part")
    def test_redis_absent_says_unsupported(self):
        with self.assertRaises(vbill.UnsupportedError) as cm:
            self.ctx.open_redis_store("127.0.0.1", 1)
        self.assertEqual(cm.exception.status, vbill.Status.ERR_UNSUPPORTED)


def write_private(path, text, mode=0o600):
    """Writes a key or pepper file as vbill keygen --out does (created with `mode`)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.chmod(path, mode)  # whatever the umask


class TestKeyFiles(unittest.TestCase):
    NOW = 1796000000

    def setUp(self):
        self.ctx = vbill.Context()
        self.tmp = tempfile.TemporaryDirectory()
        self.store = self.ctx.open_store(self.tmp.name)
        self.bill = self.ctx.bill(SPEC)
        self.key_text = self.ctx.generate_keys()

    def tearDown(self):
        self.bill.close()
        self.store.close()
        self.ctx.close()
        self.tmp.cleanup()

    def path(self, name):
        return os.path.join(self.tmp.name, name)

    def test_key_file_must_be_private(self):
        write_private(self.path("keys.json"), self.key_text)
        with self.ctx.load_keys(self.path("keys.json")) as keys:
            self.ctx.link_issue(keys, self.bill, 3600, now=self.NOW)
        write_private(self.path("open.json"), self.key_text, 0o644)
        with self.assertRaises(vbill.KeyFileError) as cm:
            self.ctx.load_keys(self.path("open.json"))
        self.assertIn("chmod 600", cm.exception.message)
        self.assertEqual(cm.exception.message, self.ctx.errmsg)
        secret = json.loads(self.key_text)["keys"][0]["secret"]
        self.assertNotIn(secret, cm.exception.message)
        os.symlink(self.path("keys.json"), self.path("link.json"))
        with self.assertRaises(vbill.KeyFileError) as cm:
            self.ctx.load_keys(self.path("link.json"))
        self.assertIn("symlink", cm.exception.message)
        with self.assertRaises(vbill.KeyFileError):
            self.ctx.load_keys(self.path("missing.json"))

    def test_peppers_apart(self):
        key_json, pepper_json = self.ctx.split_keys(self.key_text)
        full = json.loads(self.key_text)["keys"][0]
        self.assertNotIn("pepper", key_json)
        self.assertIn(full["secret"], key_json)
        self.assertEqual(json.loads(pepper_json),
                         {"vbill_peppers": 1, "peppers": {full["kid"]: full["pepper"]}})
        self.assertNotIn(full["secret"], pepper_json)
        with self.ctx.keys_from_json(self.key_text) as whole, \
                self.ctx.keys_from_json(key_json) as bare:
            tok = self.ctx.link_issue(whole, self.bill, 3600, now=self.NOW)
            session = self.ctx.auth_check(whole, self.store, tok, "580314", "10.0.0.1",
                                          now=self.NOW)
            # Without its pepper a key verifies links and sessions ...
            self.assertEqual(self.ctx.link_verify(bare, tok, now=self.NOW)["subscriber"],
                             "S-000123")
            self.ctx.session_verify(bare, session, tok, "10.0.0.1", store=self.store,
                                    now=self.NOW)
            # ... but can neither issue a link nor check a birth date.
            with self.assertRaises(vbill.KeyFileError) as cm:
                self.ctx.link_issue(bare, self.bill, 3600, now=self.NOW)
            self.assertIn("pepper", cm.exception.message)
            with self.assertRaises(vbill.KeyFileError):
                self.ctx.auth_check(bare, self.store, tok, "580314", "10.0.0.1", now=self.NOW)
            self.assertEqual(self.store.stats(now=self.NOW)["failed"], 0)  # not counted
            with self.assertRaises(vbill.KeyFileError):  # reissue needs the pepper too
                self.ctx.link_reissue(bare, self.store, tok, self.bill, 3600, now=self.NOW)
            # A wrong pepper set is refused with the keys' own message; the keys unchanged.
            self.ctx.bill(SPEC).close()  # the context's message is ""
            with self.assertRaises(vbill.KeyFileError) as cm:
                bare.add_peppers({"vbill_peppers": 1, "peppers": {}})
            self.assertEqual(cm.exception.message, bare.errmsg)
            self.assertEqual(self.ctx.errmsg, "")
            self.assertNotIn(full["pepper"], cm.exception.message)
            with self.assertRaises(vbill.KeyFileError):  # a set of other keys only
                bare.add_peppers(self.ctx.split_keys(self.ctx.generate_keys())[1])
            with self.assertRaises(vbill.KeyFileError):
                self.ctx.link_issue(bare, self.bill, 3600, now=self.NOW)
            with self.assertRaises(TypeError):
                bare.add_peppers(None)
            # The right set: then it issues and checks.
            bare.add_peppers(pepper_json)
            self.assertEqual(bare.errmsg, "")
            mine = self.ctx.link_issue(bare, self.bill, 3600, now=self.NOW)
            self.ctx.auth_check(bare, self.store, mine, "580314", "10.0.0.1", now=self.NOW)
            self.ctx.auth_check(whole, self.store, mine, "580314", "10.0.0.1", now=self.NOW)
            # Another pepper for a key that has one is refused; the keys keep theirs.
            other = json.loads(self.ctx.split_keys(self.ctx.generate_keys())[1])["peppers"]
            conflict = {"vbill_peppers": 1, "peppers": {full["kid"]: list(other.values())[0]}}
            with self.assertRaises(vbill.KeyFileError) as cm:
                bare.add_peppers(conflict)
            self.assertIn("differs", cm.exception.message)
            self.ctx.auth_check(bare, self.store, tok, "580314", "10.0.0.1", now=self.NOW)
        # A split against a set giving the key another pepper is refused.
        with self.assertRaises(vbill.KeyFileError):
            self.ctx.split_keys(self.key_text, conflict)
        # Rotation with the peppers apart: the old set carried into the new one.
        rotated = self.ctx.generate_keys(key_json)
        rk, rp = self.ctx.split_keys(rotated, pepper_json)
        self.assertEqual(len(json.loads(rp)["peppers"]), 2)
        with self.ctx.keys_from_json(rk) as keys:
            keys.add_peppers(json.loads(rp))
            self.ctx.auth_check(keys, self.store, tok, "580314", "10.0.0.1", now=self.NOW)

    def test_pepper_file(self):
        key_json, pepper_json = self.ctx.split_keys(self.key_text)
        write_private(self.path("peppers.json"), pepper_json, 0o644)
        os.symlink(self.path("peppers.json"), self.path("link.json"))
        with self.ctx.keys_from_json(key_json) as keys:
            with self.assertRaises(vbill.KeyFileError) as cm:
                keys.load_peppers(self.path("peppers.json"))
            self.assertIn("chmod 600", cm.exception.message)
            self.assertEqual(cm.exception.message, keys.errmsg)
            self.assertNotIn(json.loads(pepper_json)["peppers"].popitem()[1],
                             cm.exception.message)
            os.chmod(self.path("peppers.json"), 0o600)
            with self.assertRaises(vbill.KeyFileError) as cm:
                keys.load_peppers(self.path("link.json"))
            self.assertIn("symlink", cm.exception.message)
            with self.assertRaises(vbill.KeyFileError):
                keys.load_peppers(self.path("missing.json"))
            with self.assertRaises(vbill.KeyFileError):
                self.ctx.link_issue(keys, self.bill, 3600, now=self.NOW)
            keys.load_peppers(self.path("peppers.json"))
            tok = self.ctx.link_issue(keys, self.bill, 3600, now=self.NOW)
            self.ctx.auth_check(keys, self.store, tok, "580314", "10.0.0.1", now=self.NOW)
            with self.assertRaises(TypeError):
                keys.load_peppers(None)


def free_port():
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class RedisServer:
    """A throwaway redis-server on loopback with a password (no persistence)."""

    PASSWORD = "p@ss w/rd"

    def __init__(self, tmp):
        self.proc = None
        for _ in range(5):
            self.port = free_port()
            self.proc = subprocess.Popen(
                ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                 "--appendonly", "no", "--dir", tmp, "--requirepass", self.PASSWORD],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            if self._wait_up():
                return
            self.stop()
        raise RuntimeError("redis-server did not start")

    def _wait_up(self):
        import socket
        for _ in range(50):
            if self.proc.poll() is not None:
                return False
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1) as c:
                    c.sendall(b"PING\r\n")
                    if c.recv(64):  # -NOAUTH: up
                        return True
            except OSError:
                pass
            time.sleep(0.1)
        return False

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)


@unittest.skipUnless(HAS_REDIS, NO_REDIS)
class TestRedis(unittest.TestCase):
    NOW = 1796000000

    def test_unreachable_server_is_a_store_error(self):
        with vbill.Context() as ctx:
            with self.assertRaises(vbill.StoreError) as cm:
                ctx.open_redis_store("127.0.0.1", 1)  # nothing listens on port 1
            self.assertEqual(cm.exception.message, ctx.errmsg)
            with self.assertRaises(vbill.StoreError) as cm:
                ctx.open_redis_url("redis://:Zq9-not-it@127.0.0.1:1/2")
            self.assertNotIn("Zq9-not-it", cm.exception.message)

    def test_malformed_url(self):
        with vbill.Context() as ctx:
            for url in ("http://127.0.0.1", "redis://:Zq9-not-it@127.0.0.1:6379/x",
                        "redis://127.0.0.1:99999", ""):
                with self.subTest(url):
                    with self.assertRaises(vbill.ArgumentError) as cm:
                        ctx.open_redis_url(url)
                    self.assertNotIn("Zq9-not-it", cm.exception.message)
            with self.assertRaises(TypeError):
                ctx.open_redis_url(None)

    @unittest.skipUnless(shutil.which("redis-server"),
                         "redis-server is not installed (Debian: apt-get install redis-server)")
    def test_url_with_password_and_database(self):
        with tempfile.TemporaryDirectory() as tmp, vbill.Context() as ctx:
            server = RedisServer(tmp)
            try:
                self._against(ctx, server)
            finally:
                server.stop()

    def _against(self, ctx, server):
        url = "redis://:p%%40ss%%20w%%2Frd@127.0.0.1:%d/3" % server.port
        with self.assertRaises(vbill.StoreError) as cm:  # no password: the server says so
            ctx.open_redis_url("redis://127.0.0.1:%d/3" % server.port)
        self.assertIn("NOAUTH", cm.exception.message)
        with self.assertRaises(vbill.StoreError) as cm:
            ctx.open_redis_url("redis://:Zq9-not-it@127.0.0.1:%d/3" % server.port)
        self.assertNotIn("Zq9-not-it", cm.exception.message)
        with ctx.keys_from_json(ctx.generate_keys()) as keys, ctx.bill(SPEC) as bill, \
                ctx.open_redis_url(url, prefix="py:") as a, \
                ctx.open_redis_url(url, prefix="py:") as b, \
                ctx.open_redis_url(url.replace("/3", "/4"), prefix="py:") as other_db:
            tok = ctx.link_issue(keys, bill, 3600, now=self.NOW)
            with self.assertRaises(vbill.AuthWrongError):
                ctx.auth_check(keys, a, tok, "000000", "10.0.0.1", now=self.NOW)
            # the count is the server's: another handle on the same database sees it,
            # one on another database does not
            self.assertEqual(a.stats(now=self.NOW)["failed"], 1)
            self.assertEqual(b.stats(now=self.NOW)["failures_total"], 1)
            self.assertEqual(b.stats(now=self.NOW)["failed"], 0)  # b's own counter
            self.assertEqual(other_db.stats(now=self.NOW)["failures_total"], 0)
            # a revocation made through one handle is seen through the other
            new = ctx.link_reissue(keys, a, tok, bill, 3600, now=self.NOW)
            with self.assertRaises(vbill.LinkExpiredError):
                ctx.link_verify_store(keys, b, tok, now=self.NOW)
            ctx.link_verify_store(keys, other_db, tok, now=self.NOW)
            ctx.auth_check(keys, b, new, "580314", "10.0.0.1", now=self.NOW)
            self.assertEqual(b.stats(now=self.NOW)["passed"], 1)


class TestHooks(unittest.TestCase):
    NOW = 1796000000

    def setUp(self):
        self.ctx = vbill.Context()
        self.tmp = tempfile.TemporaryDirectory()

    def tearDown(self):
        self.ctx.close()
        self.tmp.cleanup()

    def test_callback_sink(self):
        got = []
        hooks = self.ctx.open_hooks(self.tmp.name, {"sinks": [{"type": "callback",
                                                               "name": "mine"}]})
        hooks.set_callback("mine", lambda t, e: got.append((t, e)), ["chat.*"])
        eid = hooks.emit("chat.requested", {"question": "why?", "birth": "1958-03-14",
                                            "inner": {"birth_date": "x", "ok": 1}},
                         subject="S-000123")
        self.assertRegex(eid, r"^[0-9a-f-]{36}$")
        self.assertEqual(hooks.pending()[0], 1)
        self.assertEqual(hooks.pump(), 1)
        self.assertEqual(len(got), 1)
        etype, event = got[0]
        self.assertEqual(etype, "chat.requested")
        self.assertEqual(event["id"], eid)
        self.assertEqual(event["subject"], "S-000123")
        self.assertNotIn("birth", json.dumps(event))
        self.assertEqual(event["data"]["inner"], {"ok": 1})
        self.assertEqual(hooks.status()["delivered"], 1)
        self.assertEqual(hooks.dead(), [])
        hooks.close()
        hooks.close()

    def test_set_callback_refuses_none_at_once(self):
        with self.ctx.open_hooks(self.tmp.name) as hooks:
            with self.assertRaises(TypeError):
                hooks.set_callback("mine", None)
            with self.assertRaises(TypeError):
                hooks.set_callback("mine", "not callable")
            with self.assertRaises(TypeError):
                hooks.set_callback(None, lambda t, e: 0)

    def test_failing_callback_is_retried(self):
        calls = []

        def flaky(t, e):
            calls.append(e["id"])
            if len(calls) == 1:
                raise RuntimeError("help desk down")
        hooks = self.ctx.open_hooks(self.tmp.name, {"retry_base_ms": 1, "retry_max_ms": 2,
                                                    "sinks": [{"type": "callback",
                                                               "name": "f"}]})
        hooks.set_callback("f", flaky)
        eid = hooks.emit("bill.viewed", {}, subject="S-1")
        self.assertEqual(hooks.pump(), 0)
        self.assertEqual(hooks.pending()[0], 1)
        deadline = time.time() + 10
        while hooks.pending()[0] and time.time() < deadline:
            time.sleep(0.01)
            hooks.pump()
        self.assertEqual(calls, [eid, eid])
        self.assertEqual(hooks.pending()[0], 0)
        hooks.close()

    def test_errors_carry_the_handle_message(self):
        self.ctx.bill(SPEC).close()  # the context's message is ""
        with self.ctx.open_hooks(self.tmp.name) as hooks:
            with self.assertRaises(vbill.HookError) as cm:
                hooks.emit("NotAType", {}, subject="S-1")
            self.assertTrue(cm.exception.message)
            self.assertEqual(cm.exception.message, hooks.errmsg)
            self.assertEqual(self.ctx.errmsg, "")  # never written into the opener's context
            with self.assertRaises(vbill.HookError):
                hooks.emit("survey.answered", {"score": 9}, subject="S-1")
            hooks.emit("survey.answered", {"score": 5, "comment": "좋아요"}, subject="S-1")
            self.assertEqual(hooks.errmsg, "")
        with self.assertRaises((vbill.JSONError, vbill.HookError)) as cm:
            self.ctx.open_hooks(self.tmp.name, "{not json")
        self.assertEqual(cm.exception.message, self.ctx.errmsg)
        with self.ctx.open_hooks(self.tmp.name) as hooks:
            with self.assertRaises(vbill.NotFoundError):
                hooks.replay("00000000-0000-4000-8000-000000000000")

    def test_hooks_outlive_their_context(self):
        # The handle is independent of the context, and keeps the log callback it copied
        # when it was opened (alive after the context is closed and collected).
        logged = []
        ctx = vbill.Context()
        ctx.set_log(lambda level, msg: logged.append(msg), vbill.LogLevel.DEBUG)
        hooks = ctx.open_hooks(self.tmp.name, {"sinks": [{"type": "callback", "name": "c"}]})
        got = []
        hooks.set_callback("c", lambda t, e: got.append(t))
        ctx.close()
        del ctx
        gc.collect()
        hooks.emit("bill.viewed", subject="S-1")
        self.assertEqual(hooks.pump(), 1)
        self.assertEqual(got, ["bill.viewed"])
        self.assertTrue(any("delivered" in m for m in logged), logged)
        hooks.close()
        with self.assertRaises(vbill.ClosedError):
            hooks.emit("bill.viewed", subject="S-1")

    def test_close_inside_own_callback(self):
        # closing the handle from its callback: released once pump() returns
        with self.ctx.open_hooks(self.tmp.name, {"sinks": [{"type": "callback",
                                                           "name": "c"}]}) as hooks:
            hooks.set_callback("c", lambda t, e: hooks.close())
            hooks.emit("bill.viewed", subject="S-1")
            self.assertEqual(hooks.pump(), 1)
            self.assertTrue(hooks.closed)

    def test_emit_still(self):
        got = []
        jpeg = b"\xff\xd8\xff\xe0" + b"\0" * 60 + b"\xff\xd9"  # NUL bytes travel intact
        with self.ctx.open_hooks(self.tmp.name, {"sinks": [{"type": "callback",
                                                           "name": "c"}]}) as hooks:
            hooks.set_callback("c", lambda t, e: got.append(e))
            eid = hooks.emit_still("chat.requested", "S-000123", {"question": "why?"}, jpeg)
            self.assertRegex(eid, r"^[0-9a-f-]{36}$")
            hooks.emit_still("chat.requested", "S-000123", None, None)  # no still
            with self.assertRaises(TypeError):
                hooks.emit_still("chat.requested", "S-000123", None, "not bytes")
            self.assertEqual(hooks.pump(), 2)
        self.assertEqual(got[0]["id"], eid)
        self.assertEqual(got[0]["data"]["question"], "why?")

    def test_webhook_to_local_receiver(self):
        import http.server
        received = []

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                received.append((dict(self.headers), json.loads(body)))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *a):
                pass
        server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
        t = threading.Thread(target=server.serve_forever, daemon=True)
        t.start()
        try:
            url = "http://127.0.0.1:%d/hook" % server.server_address[1]
            hooks = self.ctx.open_hooks(self.tmp.name, {"sinks": [
                {"type": "webhook", "name": "desk", "url": url,
                 "secret": "whsec_" + base64.b64encode(b"k" * 32).decode()}]})
            with self.ctx.bill(SPEC) as b:
                answer = self.ctx.chat_answer(b, "I want to talk to a person", now=self.NOW)
            self.assertFalse(answer["answered"])
            self.assertTrue(answer["escalate"])
            ev = answer["event"]
            eid = hooks.emit(ev["type"], ev["data"], subject="S-000123")
            self.assertEqual(hooks.pump(2000), 1)
            self.assertEqual(len(received), 1)
            headers, body = received[0]
            self.assertEqual(headers.get("webhook-id"), eid)
            self.assertEqual(body["type"], "chat.requested")
            self.assertEqual(body["data"]["question"], "I want to talk to a person")
            self.assertNotIn("1958", json.dumps(body))
            hooks.close()
        finally:
            server.shutdown()
            server.server_close()

    def test_chat_and_event_data(self):
        with self.ctx.bill(SPEC) as b:
            a = self.ctx.chat_answer(b, "다음 달 요금은 얼마예요?", now=self.NOW)
            self.assertTrue(a["answered"])
            self.assertIn("139,000", a["answer"])
            d = self.ctx.event_data(b, link="abc", extra={"k": 1})
            with vbill.Bill.from_json(self.ctx, b.to_json()) as back:
                self.assertEqual(self.ctx.event_data(back, link="abc", extra={"k": 1}), d)
        self.assertEqual(d["subscriber_id"], "S-000123")
        self.assertEqual(d["link"], "abc")
        self.assertEqual(d["k"], 1)
        self.assertNotIn("1958", json.dumps(d))


# ---- misuse: each case in a child process, so that a crash is a failed test -------------------

MISUSE_PRELUDE = """
import json, os, sys, tempfile
import vbill
rec = open(sys.argv[1], encoding="utf-8").read()
tmp = tempfile.mkdtemp()
ctx = vbill.Context()
key_text = ctx.generate_keys()
keys = ctx.keys_from_json(key_text)
store = ctx.open_store(tmp)
bill = ctx.bill(rec)
hooks = ctx.open_hooks(os.path.join(tmp, "hooks"))
token = ctx.link_issue(keys, bill, 3600)
def expect(exc, call):
    try:
        call()
    except exc as e:
        print("refused: %s: %s" % (type(e).__name__, e))
        sys.exit(0)
    except BaseException as e:
        print("wrong exception: %s: %s" % (type(e).__name__, e))
        sys.exit(2)
    print("accepted")
    sys.exit(3)
"""

MISUSE = {
    # issue 14 item 11, as reported: each of these was a segfault
    "key file text where Keys is expected": "ctx.link_issue(key_text, bill, 3600)",
    "template folder where a Template is expected": "ctx.render_mp4(tmp, bill, tmp + '/x.mp4')",
    "store and keys swapped": "ctx.auth_check(store, keys, token, '580314')",
    "record where a Bill is expected": "ctx.link_issue(keys, rec, 3600)",
    "Keys where a Store is expected": "ctx.link_unlock(keys, keys, token)",
    "Hooks where a Store is expected": "ctx.auth_check(keys, hooks, token, '580314')",
    "Bill where a Context is expected": "vbill.Bill.from_json(bill, '{}')",
    "int where a Keys is expected": "ctx.link_verify(12345, token)",
    "None where a Bill is expected": "ctx.message_build(None, 'https://x')",
    "Context where a Template is expected": "ctx.render_still(ctx, bill, 1.0)",
    "freed keys": "keys.close(); ctx.link_verify(keys, token)",
    "freed bill": "bill.close(); ctx.chat_answer(bill, 'why?')",
    "freed store": "store.close(); ctx.link_unlock(keys, store, token)",
    "freed context": "ctx.close(); ctx.fill(rec)",
    "freed hooks": "hooks.close(); hooks.pump()",
    "freed bill's property": "bill.close(); bill.scenario",
    "None where text is expected": "ctx.link_verify(keys, None)",
    "int where text is expected": "ctx.auth_check(keys, store, token, 580314)",
    "int where a path is expected": "ctx.open_store(7)",
    "None as a hooks event type": "hooks.emit(None)",
    "None as a callback": "hooks.set_callback('mine', None)",
    "str where a number is expected": "ctx.link_issue(keys, bill, '3600')",
    "str as a segment": "ctx.render_segment(None, bill, '1', tmp)",
    # the hardening of links, keys and the store
    "None as the client of a check": "ctx.auth_check(keys, store, token, '580314', None)",
    "no client for a check": "ctx.auth_check(keys, store, token, '580314')",
    "None as the client of a session": "ctx.session_verify(keys, token, token, None, store)",
    "None as the store of a re-issue": "ctx.link_reissue(keys, None, token, bill, 3600)",
    "Keys where a Store is expected (revoke)": "ctx.link_revoke(keys, keys, token)",
    "str where a Store is expected (verify)": "ctx.link_verify_store(keys, tmp, token)",
    "freed store (verify)": "store.close(); ctx.link_verify_store(keys, store, token)",
    "Store where Keys are expected (peppers)": "vbill.Keys.add_peppers(store, '{}')",
    "freed keys (peppers)": "keys.close(); keys.load_peppers(tmp + '/p.json')",
    "int as a pepper file": "keys.load_peppers(7)",
    "None as a Redis URL": "ctx.open_redis_url(None)",
    "None as key file text (split)": "ctx.split_keys(None)",
    "freed store's stats": "store.close(); store.stats()",
    "str as an alarm callback": "store.set_alarm(5, 60, 'page me')",
    "str as a subscriber limit": "store.set_subscriber_limit('10')",
}


def run_misuse(code, timeout=60):
    env = dict(os.environ, PYTHONPATH=PKGDIR, PYTHONDONTWRITEBYTECODE="1")
    script = MISUSE_PRELUDE + "expect(TypeError, lambda: exec(%r))\n" % code
    return subprocess.run([sys.executable, "-c", script,
                           os.path.join(SRCDIR, "tests", "vectors", "spec_example.json")],
                          env=env, capture_output=True, text=True, timeout=timeout)


class TestMisuse(unittest.TestCase):
    """Every handle is type- and liveness-checked before it reaches C: misuse is a TypeError
    with a clear message, never a crash, an AttributeError or a ctypes.ArgumentError."""

    def test_misuse_is_a_type_error(self):
        for name, code in MISUSE.items():
            with self.subTest(name):
                p = run_misuse(code)
                self.assertEqual(p.returncode, 0, "%s: exit %d (a negative exit is the signal "
                                 "that killed it)\n%s%s" % (name, p.returncode, p.stdout,
                                                            p.stderr[-2000:]))
                self.assertIn("refused: ", p.stdout)
                self.assertNotIn("ArgumentError: argument", p.stdout)  # ctypes' own

    def test_messages_name_the_argument_and_the_fix(self):
        p = run_misuse("ctx.link_issue(key_text, bill, 3600)")
        self.assertIn("keys must be a vbill.Keys", p.stdout)
        self.assertIn("ctx.load_keys", p.stdout)
        p = run_misuse("ctx.render_mp4(tmp, bill, tmp + '/x.mp4')")
        self.assertIn("template must be a vbill.Template", p.stdout)
        self.assertIn("ctx.open_template", p.stdout)
        p = run_misuse("keys.close(); ctx.link_verify(keys, token)")
        self.assertIn("ClosedError", p.stdout)
        self.assertIn("closed", p.stdout)

    def test_the_harness_sees_a_crash(self):
        # The child-process harness itself: a crash is reported, not lost.
        p = run_misuse("import ctypes; ctypes.string_at(0)")
        self.assertNotEqual(p.returncode, 0)


# ---- video ------------------------------------------------------------------------------------

TEMPLATE = {"scenario": "mobile_new_bundle", "video": "base.mp4", "slots": [
    {"name": "period", "text": "{{period_text}}", "from": 1.0, "to": 2.0,
     "box": [10, 180, 300, 40], "size": 24, "color": "#FFFFFF", "background": "#000000CC"},
    {"name": "amount", "text": "{{this_month_text}}", "from": 2.0, "to": 2.8,
     "box": [20, 20, 200, 40], "size": 24, "color": "#FFFF00"}]}


def make_template(directory, template=TEMPLATE):
    """A 3-second 320x240 template made by the ffmpeg CLI (kept short: shared CPU)."""
    os.makedirs(directory, exist_ok=True)
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", "-f", "lavfi", "-i",
                    "testsrc2=s=320x240:r=25:d=3", "-f", "lavfi", "-i", "sine=f=440:d=3",
                    "-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac", "-shortest",
                    os.path.join(directory, "base.mp4")], check=True)
    with open(os.path.join(directory, "template.json"), "w") as f:
        json.dump(template, f)


@unittest.skipIf(HAS_VIDEO, "the library has the video part")
class TestVideoAbsent(unittest.TestCase):
    def test_calls_say_unsupported(self):
        with vbill.Context() as ctx, tempfile.TemporaryDirectory() as d:
            with self.assertRaises(vbill.UnsupportedError) as cm:
                ctx.open_template(d)
            self.assertEqual(cm.exception.status, vbill.Status.ERR_UNSUPPORTED)
            self.assertEqual(vbill.builtin_templates(), [])


@unittest.skipUnless(HAS_VIDEO, NO_VIDEO)
@unittest.skipUnless(HAS_FFMPEG, "no ffmpeg CLI to make a test video")
class TestVideo(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.dir = os.path.join(cls.tmp.name, "tpl")
        make_template(cls.dir)
        cls.ctx = vbill.Context()
        cls.template = cls.ctx.open_template(cls.dir)
        cls.bill = cls.ctx.bill(SPEC)

    @classmethod
    def tearDownClass(cls):
        cls.bill.close()
        cls.template.close()
        cls.ctx.close()
        cls.tmp.cleanup()

    def test_1_unprepared_is_refused(self):
        if self.template.is_prepared:
            self.skipTest("already prepared")
        with self.assertRaises(vbill.ArgumentError):
            self.ctx.render_mp4(self.template, self.bill, os.path.join(self.tmp.name, "x.mp4"))
        self.assertFalse(os.path.exists(os.path.join(self.tmp.name, "x.mp4")))

    def test_2_prepare_and_render(self):
        t = self.template
        self.assertEqual(t.scenario, "mobile_new_bundle")
        t.prepare()
        t.prepare()  # idempotent
        self.assertTrue(t.is_prepared)
        self.assertEqual(t.errmsg, "")
        info = t.info()
        self.assertTrue(info["prepared"])
        self.assertEqual([s["name"] for s in info["slots"]], ["period", "amount"])
        out = os.path.join(self.tmp.name, "bill.mp4")
        self.ctx.render_mp4(t, self.bill, out, speed=1.0)
        with open(out, "rb") as f:
            self.assertEqual(f.read(12)[4:8], b"ftyp")
        hls = os.path.join(self.tmp.name, "hls")
        self.ctx.render_hls(t, self.bill, hls, speed=1.0)
        with open(os.path.join(hls, "index.m3u8")) as f:
            playlist = f.read()
        self.assertIn("#EXTM3U", playlist)
        only = os.path.join(self.tmp.name, "playlist")
        self.ctx.render_playlist(t, self.bill, only, speed=1.0)
        with open(os.path.join(only, "index.m3u8")) as f:
            self.assertEqual(f.read().count("#EXTINF"), playlist.count("#EXTINF"))
        self.assertFalse([n for n in os.listdir(only) if n.endswith(".ts")])
        personal = [i for i, seg in enumerate(info["segments"]) if seg[2]]
        self.assertTrue(personal)
        seg = os.path.join(self.tmp.name, "seg.ts")
        self.ctx.render_segment(t, self.bill, personal[0], seg, speed=1.0)
        self.assertGreater(os.path.getsize(seg), 0)
        shared = [i for i, seg in enumerate(info["segments"]) if not seg[2]]
        if shared:
            with self.assertRaises(vbill.NotFoundError):
                self.ctx.render_segment(t, self.bill, shared[0], seg + "2", speed=1.0)
        jpeg = self.ctx.render_still(t, self.bill, 1.5, speed=1.0, max_width=160)
        self.assertEqual(jpeg[:2], b"\xff\xd8")
        self.assertEqual(self.ctx.still_jpeg(out, 1.5, 160)[:2], b"\xff\xd8")
        # a bill read back from bill.json renders the same way
        with vbill.Bill.from_json(self.ctx, self.bill.to_json()) as back:
            self.assertEqual(self.ctx.render_still(t, back, 1.5, speed=1.0, max_width=160),
                             jpeg)
        # the one-call form, with a template directory (cached prepare) and a record
        out2 = os.path.join(self.tmp.name, "bill2.mp4")
        vbill.render(self.dir, SPEC, mp4=out2, speed=1.0)
        self.assertGreater(os.path.getsize(out2), 1000)

    def test_3_errors(self):
        other = spec()
        other["lines"] = [dict(SPEC["lines"][0], kind="home", event="recontract")]
        del other["bundle"]
        with self.ctx.bill(other) as b:
            with self.assertRaises(vbill.ArgumentError) as cm:  # another scenario
                self.ctx.render_mp4(self.template, b, os.path.join(self.tmp.name, "o.mp4"))
        self.assertEqual(cm.exception.message, self.ctx.errmsg)
        bad = os.path.join(self.tmp.name, "bad")
        os.makedirs(bad)
        with open(os.path.join(bad, "template.json"), "w") as f:
            json.dump({"scenario": "s", "video": "base.mp4", "slots": [{"name": "x"}]}, f)
        with self.assertRaises((vbill.TemplateError, vbill.MediaError)) as cm:
            self.ctx.open_template(bad)
        self.assertEqual(cm.exception.message, self.ctx.errmsg)
        self.assertIn("mobile_new_bundle", vbill.builtin_templates())

    def test_4_prepare_failure_carries_the_template_message(self):
        d = os.path.join(self.tmp.name, "ro")
        shutil.copytree(self.dir, d, ignore=shutil.ignore_patterns(".vbill-prepared"))
        with open(os.path.join(d, ".vbill-prepared"), "w") as f:
            f.write("a file where the cache folder goes")
        logged = []
        opener = vbill.Context()
        opener.set_log(lambda level, msg: logged.append(msg), vbill.LogLevel.DEBUG)
        t = opener.open_template(d)
        self.assertEqual(opener.errmsg, "")
        opener.close()  # the template keeps the opener's log callback
        del opener
        gc.collect()
        with t:
            with self.assertRaises(vbill.FileError) as cm:
                t.prepare()
            self.assertIn(".vbill-prepared", cm.exception.message)
            self.assertEqual(cm.exception.message, t.errmsg)
        self.assertTrue(any(".vbill-prepared" in m for m in logged), logged)


if __name__ == "__main__":
    unittest.main()
