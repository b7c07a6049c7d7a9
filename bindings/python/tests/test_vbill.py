"""Tests of the vbill Python binding against a real libvbill (set VBILL_LIBRARY to a build's
libvbill.so.0; `make check` does).  Run: python3 -m unittest discover -s bindings/python/tests
"""
import base64
import copy
import gc
import json
import os
import sys
import tempfile
import threading
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.environ.get("VBILL_PYTHONPATH", os.path.dirname(HERE)))
import vbill  # noqa: E402
from vbill import _lib  # noqa: E402

SRCDIR = os.environ.get("VBILL_SRCDIR", os.path.join(HERE, "..", "..", ".."))
with open(os.path.join(SRCDIR, "tests", "vectors", "spec_example.json"), encoding="utf-8") as f:
    SPEC = json.load(f)  # the worked example of SPEC.md section 2

HAS_MUSTACHE = _lib.has("vbill_mustache_render")
HAS_AUTH = _lib.has("vbill_link_issue")
HAS_HOOKS = _lib.has("vbill_hooks_open")
HAS_VIDEO = _lib.has("vbill_render_mp4")


def spec(**changes):
    r = copy.deepcopy(SPEC)
    r.update(changes)
    return r


class TestBasics(unittest.TestCase):
    def test_version_and_strerror(self):
        self.assertRegex(vbill.version(), r"^\d+\.\d+\.\d+")
        self.assertTrue(vbill.strerror(vbill.Status.ERR_RECORD).startswith("VBILL_ERR_RECORD"))
        self.assertTrue(vbill.strerror(9999))  # never NULL

    def test_default_rules(self):
        rules = vbill.default_rules()
        ids = [r["scenario"] for r in rules["rules"]]
        self.assertEqual(ids[0], "mobile_new_home_new")
        self.assertEqual(len(ids), 7)
        self.assertEqual(json.loads(vbill.default_rules_json()), rules)

    def test_every_fallible_call_has_errcheck(self):
        not_status = {"vbill_template_is_prepared"}  # returns 0/1, cannot fail
        for name, (restype, _args, _check) in _lib._PROTOS.items():
            if restype is _lib.c_status and _lib.has(name) and name not in not_status:
                self.assertIsNotNone(getattr(_lib.fn(name), "errcheck", None), name)

    def test_error_classes(self):
        e = vbill.error_for(16, "m")
        self.assertIsInstance(e, vbill.AuthWrongError)
        self.assertIsInstance(e, vbill.AuthError)
        self.assertIsInstance(vbill.error_for(13, "m"), vbill.LinkError)
        self.assertIsInstance(vbill.error_for(5, "m"), ValueError)
        self.assertEqual(vbill.error_for(5, "m").code, "VBILL_ERR_RECORD")
        self.assertEqual(type(vbill.error_for(777, "m")), vbill.Error)


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
        text = json.dumps(SPEC, ensure_ascii=False)
        self.assertEqual(self.ctx.classify_json(SPEC), self.ctx.classify_json(text))
        self.assertEqual(self.ctx.classify_json(text.encode("utf-8")),
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

    def test_no_id_names_the_line(self):
        r = spec()
        del r["id"]
        with self.assertRaises(vbill.RecordError) as cm:
            self.ctx.classify(r, line=21)
        self.assertIn("line 21", str(cm.exception))

    def test_not_json(self):
        # vbill.h says VBILL_ERR_JSON; the library currently reports VBILL_ERR_RECORD.
        with self.assertRaises((vbill.JSONError, vbill.RecordError)) as cm:
            self.ctx.classify('{"id": "x",', line=3)
        self.assertIn("line 3", str(cm.exception))
        self.assertIn("JSON", str(cm.exception))

    def test_wrong_type(self):
        with self.assertRaises(TypeError):
            self.ctx.classify(object())

    def test_senior_option(self):
        self.ctx.set_senior(70, 0.5)
        r = self.ctx.classify(SPEC)
        self.assertIs(r["senior"], False)
        with self.assertRaises(vbill.ArgumentError):
            self.ctx.set_senior(60, 7.0)

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


@unittest.skipUnless(HAS_MUSTACHE, "the loaded libvbill has no Mustache engine yet")
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

    def test_fill_context(self):
        c = self.ctx.fill_context(SPEC)
        self.assertEqual(c["name_masked"], "김*수")
        self.assertEqual(c["this_month_text"], "60,960원")
        self.assertNotIn("1958-03-14", json.dumps(c, ensure_ascii=False))

    def test_mustache(self):
        self.assertEqual(vbill.mustache("Hi {{name}}{{#x}}!{{/x}}", {"name": "<A>", "x": True}),
                         "Hi &lt;A&gt;!")
        self.assertEqual(self.ctx.mustache("{{>p}}", {"v": 1}, {"p": "v={{v}}"}), "v=1")
        with self.assertRaises(vbill.TemplateError):
            self.ctx.mustache("{{#open}}", {})


class TestLifetime(unittest.TestCase):
    def test_close_twice_and_use_after_close(self):
        ctx = vbill.Context()
        ctx.close()
        ctx.close()
        self.assertTrue(ctx.closed)
        with self.assertRaises(vbill.ArgumentError):
            ctx.classify(SPEC)

    def test_context_manager_and_gc(self):
        with vbill.Context() as ctx:
            ctx.classify(SPEC)
        self.assertTrue(ctx.closed)
        for _ in range(200):
            vbill.Context()
        gc.collect()


@unittest.skipUnless(HAS_AUTH, "the loaded libvbill has no signed links yet")
class TestLinks(unittest.TestCase):
    NOW = 1796000000

    def setUp(self):
        self.ctx = vbill.Context()
        self.tmp = tempfile.TemporaryDirectory()
        self.keys = self.ctx.keys_from_json(self.ctx.generate_keys())
        self.store = self.ctx.open_store(self.tmp.name)

    def tearDown(self):
        self.store.close()
        self.keys.close()
        self.ctx.close()
        self.tmp.cleanup()

    def test_issue_verify(self):
        tok = self.ctx.link_issue(self.keys, SPEC, 3600, now=self.NOW)
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
        other = self.ctx.keys_from_json(self.ctx.generate_keys())
        with self.assertRaises(vbill.LinkKeyError):
            self.ctx.link_verify(other, tok, now=self.NOW)
        other.close()

    def test_auth_check_and_session(self):
        tok = self.ctx.link_issue(self.keys, SPEC, 3600, now=self.NOW)
        with self.assertRaises(vbill.AuthWrongError) as cm:
            self.ctx.auth_check(self.keys, self.store, tok, "000000", "10.0.0.1", now=self.NOW)
        self.assertNotIn("580314", str(cm.exception))
        session = self.ctx.auth_check(self.keys, self.store, tok, "580314", "10.0.0.1",
                                      now=self.NOW)
        self.ctx.session_verify(self.keys, session, tok, "10.0.0.1", now=self.NOW)
        with self.assertRaises(vbill.SessionError):
            self.ctx.session_verify(self.keys, session, tok, "10.9.9.9", now=self.NOW)

    def test_lock(self):
        events = []
        self.store.set_limits(soft=2, cooling_seconds=60, hard=3)
        self.store.set_lock_hook(events.append)
        tok = self.ctx.link_issue(self.keys, SPEC, 3600, now=self.NOW)
        for _ in range(2):
            with self.assertRaises(vbill.AuthWrongError):
                self.ctx.auth_check(self.keys, self.store, tok, "111111", now=self.NOW)
        with self.assertRaises(vbill.AuthLockedError):
            self.ctx.auth_check(self.keys, self.store, tok, "580314", now=self.NOW)
        self.assertTrue(events and events[0]["type"] == "link_locked")
        self.ctx.link_unlock(self.keys, self.store, tok)
        self.ctx.auth_check(self.keys, self.store, tok, "580314", now=self.NOW)
        with self.assertRaises(vbill.ArgumentError):
            self.store.set_limits(soft=5, hard=2)

    @unittest.skipUnless(HAS_MUSTACHE, "the loaded libvbill has no Mustache engine yet")
    def test_sms(self):
        text = self.ctx.message_build(SPEC, "https://b.example/v/abc")
        self.assertIn("https://b.example/v/abc", text)
        self.assertEqual(vbill.text_euckr_bytes("가a"), 3)
        with self.assertRaises(vbill.ArgumentError):
            vbill.text_euckr_bytes(b"\xff\xfe")


@unittest.skipUnless(HAS_HOOKS, "the loaded libvbill has no hooks yet")
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
        import time
        deadline = time.time() + 10
        while hooks.pending()[0] and time.time() < deadline:
            time.sleep(0.01)
            hooks.pump()
        self.assertEqual(calls, [eid, eid])
        self.assertEqual(hooks.pending()[0], 0)

    def test_bad_events(self):
        with self.ctx.open_hooks(self.tmp.name) as hooks:
            with self.assertRaises(vbill.HookError) as cm:
                hooks.emit("NotAType", {}, subject="S-1")
            self.assertTrue(str(cm.exception))
            with self.assertRaises(vbill.HookError):
                hooks.emit("survey.answered", {"score": 9}, subject="S-1")
            hooks.emit("survey.answered", {"score": 5, "comment": "좋아요"}, subject="S-1")
        with self.assertRaises((vbill.JSONError, vbill.HookError)):
            self.ctx.open_hooks(self.tmp.name, "{not json")
        with self.assertRaises(vbill.NotFoundError):
            with self.ctx.open_hooks(self.tmp.name) as hooks:
                hooks.replay("00000000-0000-4000-8000-000000000000")

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
            answer = self.ctx.chat_answer(SPEC, "I want to talk to a person", now=self.NOW)
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
        finally:
            server.shutdown()
            server.server_close()

    def test_chat_and_event_data(self):
        a = self.ctx.chat_answer(SPEC, "다음 달 요금은 얼마예요?", now=self.NOW)
        self.assertTrue(a["answered"])
        self.assertIn("139,000", a["answer"])
        d = self.ctx.event_data(SPEC, link="abc", extra={"k": 1})
        self.assertEqual(d["subscriber_id"], "S-000123")
        self.assertEqual(d["link"], "abc")
        self.assertEqual(d["k"], 1)
        self.assertNotIn("1958", json.dumps(d))

    def test_close_context_closes_hooks(self):
        hooks = self.ctx.open_hooks(self.tmp.name)
        self.ctx.close()
        self.assertTrue(hooks.closed)
        with self.assertRaises(vbill.ArgumentError):
            hooks.emit("bill.viewed", subject="S-1")


TEMPLATE = {"scenario": "mobile_new_bundle", "video": "base.mp4", "slots": [
    {"name": "period", "text": "{{period_text}}", "from": 1.0, "to": 2.0,
     "box": [10, 180, 300, 40], "size": 24, "color": "#FFFFFF", "background": "#000000CC"},
    {"name": "amount", "text": "{{this_month_text}}", "from": 2.0, "to": 2.8,
     "box": [20, 20, 200, 40], "size": 24, "color": "#FFFF00"}]}


def make_template(directory, template=TEMPLATE):
    """A 3-second 320x240 template made by the ffmpeg CLI (kept short: shared CPU)."""
    import subprocess
    os.makedirs(directory, exist_ok=True)
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", "-f", "lavfi", "-i",
                    "testsrc2=s=320x240:r=25:d=3", "-f", "lavfi", "-i", "sine=f=440:d=3",
                    "-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac", "-shortest",
                    os.path.join(directory, "base.mp4")], check=True)
    with open(os.path.join(directory, "template.json"), "w") as f:
        json.dump(template, f)


@unittest.skipUnless(HAS_VIDEO, "the loaded libvbill has no renderer yet")
@unittest.skipUnless(__import__("shutil").which("ffmpeg"), "no ffmpeg CLI to make a test video")
class TestVideo(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.dir = os.path.join(cls.tmp.name, "tpl")
        make_template(cls.dir)
        cls.ctx = vbill.Context()
        cls.template = cls.ctx.open_template(cls.dir)

    @classmethod
    def tearDownClass(cls):
        cls.template.close()
        cls.ctx.close()
        cls.tmp.cleanup()

    def test_1_unprepared_is_refused(self):
        if self.template.is_prepared:
            self.skipTest("already prepared")
        with self.assertRaises(vbill.ArgumentError):
            self.ctx.render_mp4(self.template, SPEC, os.path.join(self.tmp.name, "x.mp4"))
        self.assertFalse(os.path.exists(os.path.join(self.tmp.name, "x.mp4")))

    def test_2_prepare_and_render(self):
        t = self.template
        self.assertEqual(t.scenario, "mobile_new_bundle")
        t.prepare()
        t.prepare()  # idempotent
        self.assertTrue(t.is_prepared)
        info = t.info()
        self.assertTrue(info["prepared"])
        self.assertEqual([s["name"] for s in info["slots"]], ["period", "amount"])
        out = os.path.join(self.tmp.name, "bill.mp4")
        self.ctx.render_mp4(t, SPEC, out, speed=1.0)
        with open(out, "rb") as f:
            self.assertEqual(f.read(12)[4:8], b"ftyp")
        hls = os.path.join(self.tmp.name, "hls")
        self.ctx.render_hls(t, SPEC, hls, speed=1.0)
        with open(os.path.join(hls, "index.m3u8")) as f:
            self.assertIn("#EXTM3U", f.read())
        personal = [i for i, seg in enumerate(info["segments"]) if seg[2]]
        self.assertTrue(personal)
        seg = os.path.join(self.tmp.name, "seg.ts")
        self.ctx.render_segment(t, SPEC, personal[0], seg, speed=1.0)
        self.assertGreater(os.path.getsize(seg), 0)
        shared = [i for i, seg in enumerate(info["segments"]) if not seg[2]]
        if shared:
            with self.assertRaises(vbill.NotFoundError):
                self.ctx.render_segment(t, SPEC, shared[0], seg + "2", speed=1.0)
        # the one-call form, with a template directory (cached prepare)
        out2 = os.path.join(self.tmp.name, "bill2.mp4")
        vbill.render(self.dir, SPEC, mp4=out2, speed=1.0)
        self.assertGreater(os.path.getsize(out2), 1000)

    def test_3_errors(self):
        other = spec()
        other["lines"] = [dict(SPEC["lines"][0], kind="home", event="recontract")]
        del other["bundle"]
        with self.assertRaises(vbill.ArgumentError):  # another scenario than the template's
            self.ctx.render_mp4(self.template, other, os.path.join(self.tmp.name, "o.mp4"))
        with self.assertRaises(vbill.RecordError):
            self.ctx.render_mp4(self.template, spec(birth="x"),
                                os.path.join(self.tmp.name, "o.mp4"))
        bad = os.path.join(self.tmp.name, "bad")
        os.makedirs(bad)
        with open(os.path.join(bad, "template.json"), "w") as f:
            json.dump({"scenario": "s", "video": "base.mp4", "slots": [{"name": "x"}]}, f)
        with self.assertRaises((vbill.TemplateError, vbill.MediaError)) as cm:
            self.ctx.open_template(bad)
        self.assertTrue(str(cm.exception))
        self.assertIn("mobile_new_bundle", vbill.builtin_templates())


if __name__ == "__main__":
    unittest.main()
