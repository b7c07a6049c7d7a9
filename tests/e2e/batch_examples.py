#!/usr/bin/env python3
"""The scheduler examples of the month's run, without a scheduler.

examples/slurm/vbill-batch.sbatch is run by sh with stub `vbill` and `scontrol` programs and
the environment Slurm gives an array task: what it passes to vbill batch, and what it does with
each exit code (0 and 3 end the task COMPLETED, 75 requeues it with scontrol a bounded number of
times, 2 and other codes fail it).  examples/k8s/vbill-batch-job.yaml is parsed (PyYAML) and
held to the rules the Kubernetes API enforces for Indexed Jobs with a podFailurePolicy and to
the vbill batch contract (exit 2 fails the Job, 75 is retried, 3 is a success, the shard count
is the completions); its container command is run by sh with a stub vbill for each exit code.
The real cluster run is tests/e2e/slurm_batch.sh.
"""
import os
import shlex
import stat
import subprocess
import sys
import tempfile

S = os.environ.get("VBILL_SRCDIR", ".")
SBATCH = os.path.join(S, "examples", "slurm", "vbill-batch.sbatch")
K8S = os.path.join(S, "examples", "k8s", "vbill-batch-job.yaml")
failures = []


def check(cond, msg):
    if not cond:
        failures.append(msg)
        print("FAIL: " + msg)


def stub(path, body):
    with open(path, "w") as f:
        f.write("#!/bin/sh\n" + body)
    os.chmod(path, stat.S_IRWXU)


def run_stubbed(tmp, argv, env, rc, cwd=None):
    """Runs argv with stub vbill (exits rc, logs its arguments) and scontrol on PATH."""
    log = os.path.join(tmp, "calls")
    if os.path.exists(log):
        os.unlink(log)
    bindir = os.path.join(tmp, "bin")
    os.makedirs(bindir, exist_ok=True)
    stub(os.path.join(bindir, "vbill"),
         'printf "vbill %%s\\n" "$*" >>"%s"\nexit %d\n' % (log, rc))
    stub(os.path.join(bindir, "scontrol"), 'printf "scontrol %%s\\n" "$*" >>"%s"\n' % log)
    e = {"PATH": bindir + ":/usr/bin:/bin", "HOME": tmp}
    e.update(env)
    p = subprocess.run(argv, env=e, capture_output=True, text=True, timeout=60, cwd=cwd or tmp)
    calls = open(log).read().splitlines() if os.path.exists(log) else []
    return p.returncode, calls, p.stdout + p.stderr


def sbatch_cases(tmp):
    task = {"RECORDS": "/data/m.jsonl", "STORE": "/srv/bills", "SLURM_JOB_ID": "42",
            "SLURM_ARRAY_JOB_ID": "40", "SLURM_ARRAY_TASK_ID": "2", "SLURM_ARRAY_TASK_MIN": "0",
            "SLURM_ARRAY_TASK_MAX": "3", "SLURM_ARRAY_TASK_COUNT": "4", "SLURM_CPUS_PER_TASK": "2"}

    def go(rc, extra=None, args=()):
        env = dict(task)
        env.update(extra or {})
        env = {k: v for k, v in env.items() if v is not None}
        return run_stubbed(tmp, ["sh", SBATCH] + list(args), env, rc)

    code, calls, out = go(0)
    check(code == 0, "sbatch: vbill exit 0 -> task exit %d" % code)
    check(calls == ["vbill batch /data/m.jsonl --store /srv/bills --jobs 2"],
          "sbatch: vbill called as %r" % calls)
    code, calls, out = go(3)
    check(code == 0, "sbatch: exit 3 (rejected records) must end the task COMPLETED, got %d" % code)
    code, calls, out = go(3, {"VBILL_REJECTS_FAIL": "1"})
    check(code == 3, "sbatch: VBILL_REJECTS_FAIL=1 keeps exit 3, got %d" % code)
    code, calls, out = go(2)
    check(code == 2 and not any(c.startswith("scontrol") for c in calls),
          "sbatch: exit 2 fails at once (%d, %r)" % (code, calls))
    code, calls, out = go(137)
    check(code == 137 and len(calls) == 1, "sbatch: a killed vbill (137) fails the task (%d)" % code)
    code, calls, out = go(75)
    check(code == 75 and calls[-1:] == ["scontrol requeue 42"],
          "sbatch: exit 75 must requeue job 42 (%d, %r)" % (code, calls))
    code, calls, out = go(75, {"SLURM_RESTART_COUNT": "5"})
    check(code == 75 and len(calls) == 1, "sbatch: the 6th exit 75 must not requeue (%r)" % calls)
    code, calls, out = go(75, {"SLURM_RESTART_COUNT": "2", "VBILL_MAX_REQUEUE": "3"})
    check(calls[-1:] == ["scontrol requeue 42"], "sbatch: restart 2 of 3 must requeue (%r)" % calls)
    code, calls, out = go(75, {"VBILL_SELF_REQUEUE": "0"})
    check(code == 75 and len(calls) == 1, "sbatch: VBILL_SELF_REQUEUE=0 must not requeue (%r)" % calls)
    code, calls, out = go(0, {"SLURM_ARRAY_TASK_MAX": "6"})  # --array=0-6:2 or 0,2,4,6
    check(code == 2 and not calls, "sbatch: a sparse array must be refused (%d, %r)" % (code, calls))
    code, calls, out = go(0, {"SHARDS": "16", "SLURM_ARRAY_TASK_ID": "5",
                              "SLURM_ARRAY_TASK_MIN": "5", "SLURM_ARRAY_TASK_MAX": "5",
                              "SLURM_ARRAY_TASK_COUNT": "1"})
    check(code == 0 and calls and "--shard 5/16" in calls[0],
          "sbatch: SHARDS=16 on index 5 must pass --shard 5/16 (%r)" % calls)
    code, calls, out = go(0, {"VBILL_BATCH_ARGS": "--render on-demand --base-url https://x/v/"},
                          args=["--mp4"])
    check(calls and " --mp4 " in calls[0] and
          calls[0].endswith(" --render on-demand --base-url https://x/v/"),
          "sbatch: script arguments and VBILL_BATCH_ARGS reach vbill (%r)" % calls)
    code, calls, out = go(0, {"RECORDS": None})
    check(code != 0 and not calls and "RECORDS" in out, "sbatch: RECORDS unset must fail (%d)" % code)
    code, calls, out = go(0, {k: None for k in task if k.startswith("SLURM_ARRAY")})
    check(code == 0 and calls and "--shard" not in calls[0],
          "sbatch: outside an array, vbill runs on the whole file (%r)" % calls)
    with open(SBATCH) as f:
        directives = [x.split()[1] for x in f if x.startswith("#SBATCH ")]
    for d in ("--requeue", "--open-mode=append"):
        check(d in directives, "sbatch: #SBATCH %s missing" % d)


def k8s_cases(tmp, yaml):
    with open(K8S) as f:
        docs = [d for d in yaml.safe_load_all(f) if d]
    jobs = [d for d in docs if d.get("kind") == "Job"]
    check(len(jobs) == 1, "k8s: one Job expected, found %d" % len(jobs))
    if not jobs:
        return
    job = jobs[0]
    check(job.get("apiVersion") == "batch/v1", "k8s: Job apiVersion %r" % job.get("apiVersion"))
    spec = job["spec"]
    pod = spec["template"]["spec"]
    check(spec.get("completionMode") == "Indexed", "k8s: completionMode must be Indexed")
    n = spec.get("completions")
    check(isinstance(n, int) and n >= 1, "k8s: completions %r" % n)
    check(isinstance(spec.get("parallelism"), int), "k8s: parallelism missing")
    bl = spec.get("backoffLimitPerIndex")
    check(isinstance(bl, int) and bl >= 1, "k8s: backoffLimitPerIndex %r" % bl)
    check(pod.get("restartPolicy") == "Never",
          "k8s: restartPolicy must be Never (podFailurePolicy, backoffLimitPerIndex)")
    check(spec.get("podReplacementPolicy", "Failed") == "Failed",
          "k8s: podReplacementPolicy must be Failed with a podFailurePolicy")
    containers = pod["containers"]
    names = [c["name"] for c in containers]
    rules = spec.get("podFailurePolicy", {}).get("rules", [])
    check(0 < len(rules) <= 20, "k8s: 1 to 20 podFailurePolicy rules, got %d" % len(rules))

    def action_for(code):
        for r in rules:
            oc = r.get("onExitCodes")
            if not oc:
                continue
            vals = oc.get("values", [])
            if (oc.get("operator") == "In") == (code in vals):
                return r["action"]
        return "Count"  # the default

    for r in rules:
        check(("onExitCodes" in r) != ("onPodConditions" in r),
              "k8s: a rule has onExitCodes or onPodConditions, exactly one: %r" % r)
        check(r.get("action") in ("FailJob", "FailIndex", "Ignore", "Count"),
              "k8s: unknown action %r" % r.get("action"))
        if r.get("action") == "FailIndex":
            check(bl is not None, "k8s: FailIndex needs backoffLimitPerIndex")
        oc = r.get("onExitCodes")
        if oc:
            check(oc.get("operator") in ("In", "NotIn"), "k8s: operator %r" % oc.get("operator"))
            vals = oc.get("values", [])
            check(vals and len(vals) <= 255 and vals == sorted(set(vals)),
                  "k8s: values must be 1-255 distinct codes in order: %r" % vals)
            check(not (oc.get("operator") == "In" and 0 in vals), "k8s: exit code 0 in an In rule")
            check(oc.get("containerName", names[0]) in names,
                  "k8s: rule names container %r" % oc.get("containerName"))
    check(action_for(2) == "FailJob", "k8s: exit 2 (usage) must fail the Job, is %s" % action_for(2))
    check(action_for(75) in ("Count", "Ignore"), "k8s: exit 75 must be retried, is %s" % action_for(75))
    check(action_for(3) not in ("FailJob", "FailIndex"), "k8s: exit 3 must not fail the Job")
    # A drained pod gets SIGTERM and vbill batch exits 75: the first rule that matches decides,
    # so the disruption rule must come before any rule that would match 75.
    first = None
    for r in rules:
        oc = r.get("onExitCodes")
        if any(c.get("type") == "DisruptionTarget" for c in r.get("onPodConditions", [])) or \
                (oc and (oc.get("operator") == "In") == (75 in oc.get("values", []))):
            first = r
            break
    check(first is not None and first.get("action") == "Ignore" and "onPodConditions" in first,
          "k8s: a drained pod (DisruptionTarget, exit 75) must be ignored, not counted: the "
          "DisruptionTarget rule first; first match is %r" % first)

    c = containers[0]
    env, jobs_env = {}, None
    for e in c.get("env", []):
        if "value" in e:
            env[e["name"]] = e["value"]
        elif e.get("valueFrom", {}).get("resourceFieldRef", {}).get("resource") == "limits.cpu":
            jobs_env = e["name"]
            env[e["name"]] = str(c["resources"]["limits"]["cpu"])
    check(env.get("VBILL_SHARD_COUNT") == str(n),
          "k8s: VBILL_SHARD_COUNT %r must equal completions %r" % (env.get("VBILL_SHARD_COUNT"), n))
    claims = {v["name"]: v["persistentVolumeClaim"]["claimName"] for v in pod["volumes"]
              if "persistentVolumeClaim" in v}
    mounts = {m["mountPath"]: m["name"] for m in c["volumeMounts"]}
    pvcs = {d["metadata"]["name"]: d for d in docs if d.get("kind") == "PersistentVolumeClaim"}
    store_claim = claims.get(mounts.get("/store"))
    check(store_claim in pvcs, "k8s: the store (/store) must be a PVC defined here")
    if store_claim in pvcs:
        check("ReadWriteMany" in pvcs[store_claim]["spec"]["accessModes"],
              "k8s: the store is written by pods on many nodes: ReadWriteMany")

    # The key file: vbill reads only its own user's file of mode 0600, not a symlink; a
    # Secret volume gives root-owned group-readable symlinks, so the command copies the key
    # into a memory emptyDir first.
    vols = {v["name"]: v for v in pod["volumes"]}

    def volume_of(path):
        return vols.get(mounts.get(os.path.dirname(path or "")), {})
    secret_path, key_path = env.get("VBILL_KEY_SECRET"), env.get("VBILL_KEY_FILE")
    check("secret" in volume_of(secret_path),
          "k8s: VBILL_KEY_SECRET %r must be in the Secret's volume" % secret_path)
    check(volume_of(key_path).get("emptyDir", {}).get("medium") == "Memory",
          "k8s: VBILL_KEY_FILE %r must be on a memory emptyDir (a private copy)" % key_path)
    # The Secret as the kubelet lays it out: a timestamped folder, ..data pointing at it, and
    # the key file a symlink through ..data; the file group-readable (mode 0440).
    sdir = os.path.join(tmp, "secret")
    os.makedirs(os.path.join(sdir, "..2026_11_01"))
    key_text = '{"vbill_keys":1,"signing":"k1","keys":[]}\n'
    with open(os.path.join(sdir, "..2026_11_01", "keys.json"), "w") as f:
        f.write(key_text)
    os.chmod(os.path.join(sdir, "..2026_11_01", "keys.json"), 0o440)
    os.symlink("..2026_11_01", os.path.join(sdir, "..data"))
    os.symlink("..data/keys.json", os.path.join(sdir, "keys.json"))
    os.makedirs(os.path.join(tmp, "run"))
    copy = os.path.join(tmp, "run", "keys.json")
    env["VBILL_KEY_SECRET"] = os.path.join(sdir, "keys.json")
    env["VBILL_KEY_FILE"] = copy

    argv = list(c.get("command", [])) + list(c.get("args", []))
    env["JOB_COMPLETION_INDEX"] = "3"
    for rc, want in ((0, 0), (3, 0), (75, 75), (2, 2), (137, 137)):
        if os.path.lexists(copy):
            os.unlink(copy)
        code, calls, out = run_stubbed(tmp, argv, env, rc)
        check(code == want, "k8s: vbill exit %d -> container exit %d, want %d" % (rc, code, want))
        st = os.lstat(copy) if os.path.lexists(copy) else None
        check(st is not None and stat.S_ISREG(st.st_mode) and stat.S_IMODE(st.st_mode) == 0o600
              and st.st_uid == os.geteuid() and open(copy).read() == key_text,
              "k8s: VBILL_KEY_FILE must be a private copy of the Secret (regular file, 0600, "
              "this user's): %r" % ((st and (oct(st.st_mode), st.st_uid)),))
    check(len(calls) == 1, "k8s: the command must run vbill once (%r)" % calls)
    missing = dict(env, VBILL_KEY_SECRET=os.path.join(tmp, "no-secret", "keys.json"))
    code, calls2, out = run_stubbed(tmp, argv, missing, 0)
    check(code == 2 and not calls2,
          "k8s: a missing Secret must exit 2 (FailJob) without running vbill: exit %d, %r"
          % (code, calls2))
    if calls:
        words = shlex.split(calls[0])
        check(words[:3] == ["vbill", "batch", "/records/%s.jsonl" % env.get("MONTH")],
              "k8s: vbill batch RECORDS: %r" % words)
        check("--store" in words and words[words.index("--store") + 1] == "/store",
              "k8s: --store /store: %r" % words)
        if jobs_env:
            check("--jobs" in words and words[words.index("--jobs") + 1] == env[jobs_env],
                  "k8s: --jobs from the CPU limit: %r" % words)
        check("--shard" not in words, "k8s: the shard comes from JOB_COMPLETION_INDEX, not --shard")


def main():
    with tempfile.TemporaryDirectory(prefix="vbill-batch-examples.") as tmp:
        sbatch_cases(tmp)
        try:
            import yaml
        except ImportError:
            print("SKIP: python3-yaml (PyYAML) is needed to read the Kubernetes example;"
                  " scripts/deps.sh installs it")
            return 1 if failures else 77
        k8s_cases(tmp, yaml)
    if failures:
        return 1
    print("PASS: the sbatch script and the Kubernetes Job map vbill batch's exit codes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
