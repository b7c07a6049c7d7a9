#!/bin/sh
# scripts/deps.sh: installs the Debian packages libvbill needs to build, test and run.
# Run as root (or through sudo) on Debian 12 or later.  Safe to run again.
set -eu
PACKAGES="
  build-essential g++ autoconf automake libtool pkg-config clang
  check libcjson-dev libsimdjson-dev libssl-dev libsqlite3-dev libcurl4-openssl-dev libhiredis-dev
  libavformat-dev libavcodec-dev libavfilter-dev libavdevice-dev libswscale-dev
  libswresample-dev libavutil-dev ffmpeg
  libass-dev fonts-noto-cjk fonts-noto-color-emoji fonts-symbola
  libmicrohttpd-dev zlib1g-dev lua5.4 liblua5.4-dev python3 espeak-ng
  redis-server abigail-tools valgrind time faketime
  slurm-wlm munge python3-yaml chromium nodejs luarocks wrk
"
# npm: Debian's package, unless the installed nodejs brings its own (NodeSource's provides npm
# and conflicts with Debian's).
command -v npm >/dev/null 2>&1 || PACKAGES="$PACKAGES npm"
# `deps.sh --rt` adds a real Request Tracker 5 for the help-desk sink's integration test.
[ "${1:-}" = "--rt" ] && PACKAGES="request-tracker5 rt5-standalone rt5-db-sqlite"
missing=""
for p in $PACKAGES; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -z "$missing" ]; then
  echo "deps: all Debian packages present"
  exit 0
fi
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO=sudo
echo "deps: installing$missing"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing
