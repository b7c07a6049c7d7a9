#!/bin/sh
# check.sh: installs the Debian packages, builds libvbill and runs every test:
#   1. the warnings-as-errors build and `make check` (Check suites, CLI, conformance, e2e);
#   2. the ABI of the built library against the baseline in abi/ (libabigail abidiff);
#   3. the tests again under AddressSanitizer + UndefinedBehaviorSanitizer, all but the
#      end-to-end ones in tests/e2e/ that render minutes of video, drive a browser or a Slurm
#      cluster, and say_model.py's 39,000 spoken values (they ran in stage 1; the library,
#      vbill batch and vbill serve run under the sanitizers in the lighter tests, the number
#      reader in test_say and the narration fuzzer);
#   4. each libFuzzer harness for VBILL_FUZZ_SECONDS (default 20) under ASan/UBSan;
#   5. the RT help-desk sink against a real Request Tracker 5 on loopback (Debian's
#      request-tracker5, installed for this stage by `scripts/deps.sh --rt`);
#   6. `make distcheck`: the release tarball builds and passes its unit and CLI tests.
# Prints one closing line "N passed, N failed".  Set VBILL_QUICK=1 to run stage 1 only.
set -u
cd "$(dirname "$0")"
top=$(pwd)
scripts/deps.sh || exit 1
export VBILL_CONFORMANCE="${VBILL_CONFORMANCE:-$top/../shared/conformance}"
export VBILL_FUZZ_SECONDS="${VBILL_FUZZ_SECONDS:-20}"
jobs=$(nproc 2>/dev/null || echo 2)
passed=0
failed=0
stage() { # name, command...
  name=$1; shift
  start=$(date +%s)
  echo "=== $name"
  if "$@"; then
    passed=$((passed + 1)); result=ok
  else
    failed=$((failed + 1)); result=FAILED
  fi
  echo "=== $name: $result ($(( $(date +%s) - start )) s)"
}
summary() { # the automake test-suite.log of a build dir: counts for the closing line
  log="$1/test-suite.log"
  [ -f "$log" ] || return 0
  sed -n 's/^# \(TOTAL\|PASS\|FAIL\|ERROR\|SKIP\|XFAIL\|XPASS\): */\1 /p' "$log" | tr '\n' ' '
  echo
}
show_failures() { # print the logs of failed tests
  for f in $(grep -l '^:test-result: \(FAIL\|ERROR\)' "$1"/tests/*.trs "$1"/tests/*/*.trs 2>/dev/null); do
    echo "--- ${f%.trs}.log"; tail -n 60 "${f%.trs}.log"
  done
}

heavy='tests/e2e/|tests/say_model.py'
light_tests() { # build dir: its test list without the heavy ones
  make -s -C "$1" list-tests | tr ' ' '\n' | grep -Ev "$heavy" | tr '\n' ' '
}

build_and_check() { # dir, all|light, configure flags...
  dir=$1; which=$2; shift 2
  mkdir -p "$dir" && cd "$dir" || return 1
  { [ -f Makefile ] || "$top/configure" -q "$@"; } && make -s -j"$jobs" >/dev/null &&
    if [ "$which" = light ]; then
      make -j"$jobs" check TESTS="$(light_tests .)" >check.out 2>&1
    else
      make -j"$jobs" check >check.out 2>&1
    fi
  rc=$?
  grep -E '^(PASS|FAIL|ERROR|SKIP|XPASS|XFAIL):' check.out 2>/dev/null
  echo "tests: $(summary "$dir")"
  [ $rc -eq 0 ] || show_failures "$dir"
  cd "$top"
  return $rc
}

[ -x configure ] && [ configure -nt configure.ac ] && [ configure -nt Makefile.am ] || ./autogen.sh >/dev/null 2>&1 || { echo "autogen failed"; exit 1; }

stage "build and make check (-Werror)" build_and_check "$top/build/check" all --enable-werror
[ "${VBILL_QUICK:-0}" = 1 ] || {
  stage "ABI against abi/libvbill.abi" make -s -C "$top/build/check" abi-check
  # gcc links the shared ASan runtime, which the binding tests preload into python3 and lua5.4.
  stage "make check under ASan+UBSan (all but $heavy)" build_and_check "$top/build/asan" light --enable-werror --enable-sanitizers
  stage "fuzzing (${VBILL_FUZZ_SECONDS}s per harness)" sh -c "cd '$top' && mkdir -p build/fuzz && cd build/fuzz && { [ -f Makefile ] || '$top/configure' -q --enable-fuzzing --enable-sanitizers CC=clang CXX=clang++; } && make -s -j$jobs >/dev/null && make -s -j$jobs check TESTS= >/dev/null && VBILL_BUILDDIR=\$(pwd) VBILL_SRCDIR='$top' '$top/tests/fuzz/replay.sh'"
  stage "hooks against a real Request Tracker 5" sh -c "'$top/scripts/deps.sh' --rt >/dev/null && cd '$top/build/check' && VBILL_TEST_RT=1 make -s check TESTS=tests/hooks_rt_real.sh >/dev/null 2>&1; tail -n 5 tests/hooks_rt_real.sh.log; grep -q '^:test-result: PASS' tests/hooks_rt_real.sh.trs"
  unit=$(make -s -C "$top/build/check" list-tests | tr ' ' '\n' | grep -E 'tests/test_|/replay.sh|consumer.sh|layers.py|part_absent.sh|_cli\.(sh|py)$' | grep -Ev "$heavy" | tr '\n' ' ')
  stage "make distcheck" sh -c "cd '$top/build/check' && make -s -j$jobs distcheck DISTCHECK_CONFIGURE_FLAGS=--enable-werror TESTS='$unit' >distcheck.out 2>&1 || { tail -n 80 distcheck.out; exit 1; }"
}
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
