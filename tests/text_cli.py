#!/usr/bin/env python3
"""text_cli.py: every test of the Mustache specification through `vbill text`.

Each test's template, data and partials are written to files in a temporary directory
(partials as DIR/NAME.mustache) and `vbill text` must print exactly the expected text.
Then the command-line contract: --help, usage errors (exit 2), malformed templates (exit 1).
"""
import json
import os
import subprocess
import sys
import tempfile

BUILD = os.environ.get("VBILL_BUILDDIR", ".")
SRC = os.environ.get("VBILL_SRCDIR", ".")
CONF = os.environ.get("VBILL_CONFORMANCE", os.path.join(SRC, "..", "shared", "conformance"))
VBILL = os.path.join(BUILD, "examples", "vbill")
MODULES = ["comments", "delimiters", "interpolation", "inverted", "partials", "sections", "~inheritance"]

failures = []


def run(args, stdin=None):
    p = subprocess.run([VBILL, "text"] + args, input=stdin, capture_output=True, timeout=60)
    return p.returncode, p.stdout, p.stderr.decode("utf-8", "replace")


def write(path, text):
    with open(path, "wb") as f:
        f.write(text.encode("utf-8"))


def spec_tests(tmp):
    total = 0
    for mod in MODULES:
        path = os.path.join(CONF, "mustache", mod + ".json")
        if not os.path.exists(path):
            # The specification lives beside the project, not in it (a clone elsewhere or a
            # release tarball has none): skipped, and said so.
            print("SKIP: Mustache specification not found at %s (set VBILL_CONFORMANCE)" % path)
            return None
        with open(path, encoding="utf-8") as f:
            suite = json.load(f)
        for i, t in enumerate(suite["tests"]):
            total += 1
            d = os.path.join(tmp, "%s-%d" % (mod, i))
            pdir = os.path.join(d, "partials")
            os.makedirs(pdir)
            write(os.path.join(d, "template.mustache"), t["template"])
            write(os.path.join(d, "data.json"), json.dumps(t["data"]))
            for name, text in t.get("partials", {}).items():
                write(os.path.join(pdir, name + ".mustache"), text)
            rc, out, err = run([os.path.join(d, "template.mustache"), "--data",
                                os.path.join(d, "data.json"), "--partials", pdir])
            want = t["expected"].encode("utf-8")
            if rc != 0 or out != want:
                failures.append("%s: %s: exit %d, got %r, want %r %s" %
                                (mod, t["name"], rc, out, want, err.strip()))
    return total


def contract(tmp):
    def check(name, cond, detail=""):
        if not cond:
            failures.append("contract: %s %s" % (name, detail))

    rc, out, _ = run(["--help"])
    check("--help exits 0 with usage", rc == 0 and b"usage: vbill text" in out)
    t = os.path.join(tmp, "t.mustache")
    data = os.path.join(tmp, "d.json")
    write(t, "Hi {{name}}, {{#items}}[{{.}}]{{/items}}")
    write(data, '{"name": "<Kim>", "items": [1, 2.5, "x"]}')
    rc, out, err = run([t, "--data", data])
    check("plain render", rc == 0 and out == b"Hi &lt;Kim&gt;, [1][2.5][x]", repr((rc, out, err)))
    rc, out, err = run([t, "--data", "-"], stdin=b'{"name": "Lee"}')
    check("data from stdin, no newline added", rc == 0 and out == b"Hi Lee, ", repr((rc, out)))
    rc, out, err = run([t])
    check("missing --data is a usage error", rc == 2 and "--data" in err and out == b"", err)
    rc, out, err = run(["--data", data])
    check("missing TEMPLATE is a usage error", rc == 2 and out == b"", err)
    rc, out, err = run([t, "--data", data, "--bogus"])
    check("unknown option is a usage error", rc == 2, err)
    rc, out, err = run([os.path.join(tmp, "nope.mustache"), "--data", data])
    check("unreadable template exits 2", rc == 2 and "nope.mustache" in err, err)
    rc, out, err = run([t, "--data", os.path.join(tmp, "nope.json")])
    check("unreadable data exits 2", rc == 2 and "nope.json" in err, err)
    bad = os.path.join(tmp, "bad.json")
    write(bad, '{"name": ')
    rc, out, err = run([t, "--data", bad])
    check("malformed data exits 2", rc == 2 and "bad.json" in err and out == b"", err)
    for text, where, what in [("Hello {{#items}}x", "line 1, column 7", "unclosed section 'items'"),
                              ("a\nb {{name", "line 2, column 3", "unclosed tag"),
                              ("{{#a}}\n  {{/b}}", "line 2, column 3", "'b'"),
                              ("{{/a}}", "line 1, column 1", "without an open section"),
                              ("x{{=<% =}}", "line 1, column 2", "delimiter")]:
        write(t, text)
        rc, out, err = run([t, "--data", data])
        check("malformed template %r exits 1 naming %s" % (text, where),
              rc == 1 and where in err and what in err and "t.mustache" in err
              and out == b"" and err.count("\n") == 1, repr((rc, err)))
    # Partials default to the template's directory; a name may not leave it.
    write(os.path.join(tmp, "greet.mustache"), "[{{name}}]")
    write(t, "{{>greet}}{{>missing}}")
    rc, out, err = run([t, "--data", data])
    check("partials from the template's directory", rc == 0 and out == b"[&lt;Kim&gt;]",
          repr((rc, out, err)))
    write(t, "{{>../greet}}")
    rc, out, err = run([t, "--data", data])
    check("partial names with '/' are refused", rc == 1 and "../greet" in err, repr((rc, err)))
    # A self-recursive partial over self-similar data stops at the depth limit.
    write(os.path.join(tmp, "loop.mustache"), "{{#a}}{{>loop}}{{/a}}")
    write(t, "{{>loop}}")
    write(data, '{"a": true}')
    rc, out, err = run([t, "--data", data])
    check("unbounded partial recursion fails cleanly", rc == 1 and "deep" in err,
          repr((rc, err)))


def main():
    if not os.access(VBILL, os.X_OK):
        print("no %s: build first" % VBILL)
        return 99
    with tempfile.TemporaryDirectory() as tmp:
        total = spec_tests(tmp)
        contract(tmp)
    for f in failures:
        print("FAIL", f)
    print("%d spec tests through vbill text, %d failures" % (total or 0, len(failures)))
    if failures:
        return 1
    return 77 if total is None else 0  # the contract passed; the specification was skipped


if __name__ == "__main__":
    sys.exit(main())
