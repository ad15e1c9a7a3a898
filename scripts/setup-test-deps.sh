#!/usr/bin/env bash
# Installs the Debian packages the tests need, and only those that are missing: quiet when all are present.
# Run by `npm test` (pretest); safe to run any number of times.
#   ffmpeg                      decodes cameras and files (streams/sources/) and encodes the test clips
#   gir1.2-gst-rtsp-server-1.0  + python3-gi: the RTSP test server (test/support/rtsp_server.py)
#   gstreamer1.0-plugins-base   typefind, app, playback elements the server's pipelines rely on
#   gstreamer1.0-plugins-good   rtph264pay, qtdemux (MP4)
#   gstreamer1.0-plugins-bad    h264parse
#   chromium                    the browser the dashboard and webcam tests drive (playwright-core, never a download)
#   fonts-dejavu-core           text in the browser's screenshots
#   mosquitto                   the MQTT broker the integrations tests publish to (server/integrations/)
#   postgresql                  cluster mode's database (server/cluster/); tests run a throwaway cluster as `postgres`
#   redis-server                cluster mode's Socket.IO adapter between nodes; tests start one on a free port
#   libjemalloc2                the allocator npm start runs the server on (bin/with-allocator.sh; server/allocator.test.ts)
set -euo pipefail

PACKAGES=(
  ffmpeg
  gir1.2-gst-rtsp-server-1.0
  python3-gi
  gstreamer1.0-plugins-base
  gstreamer1.0-plugins-good
  gstreamer1.0-plugins-bad
  chromium
  fonts-dejavu-core
  mosquitto
  postgresql
  redis-server
  libjemalloc2
)

installed() {
  # `dpkg -s` also succeeds for removed packages whose config files remain, so read the status itself.
  # (Not `dpkg -s | grep -q`: grep quitting early gives dpkg a SIGPIPE, which pipefail turns into a failure.)
  local status
  status=$(dpkg -s "$1" 2>/dev/null) || return 1
  [[ $status == *$'\nStatus: install ok installed\n'* || $status == 'Status: install ok installed'* ]]
}

missing=()
for pkg in "${PACKAGES[@]}"; do
  installed "$pkg" || missing+=("$pkg")
done
[ "${#missing[@]}" -eq 0 ] && exit 0

fail() {
  echo "setup-test-deps: $1" >&2
  echo "setup-test-deps: install them by hand: sudo apt-get install -y ${missing[*]}" >&2
  exit 1
}

command -v apt-get >/dev/null 2>&1 || fail "missing ${missing[*]} and apt-get is not available (not Debian/Ubuntu?)"

SUDO=()
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    SUDO=(sudo -n)
  else
    fail "missing ${missing[*]}, and installing needs root (run as root, or with password-less sudo)"
  fi
fi

echo "setup-test-deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
# Wait for another apt/dpkg run rather than failing at once on its lock.
APT_OPTS=(-o DPkg::Lock::Timeout=300 -o Acquire::Retries=3)
log=$(mktemp)
trap 'rm -f "$log"' EXIT
if ! "${SUDO[@]}" apt-get "${APT_OPTS[@]}" update -q >"$log" 2>&1; then
  tail -n 20 "$log" >&2
  fail "apt-get update failed"
fi
if ! "${SUDO[@]}" apt-get "${APT_OPTS[@]}" install -y -q --no-install-recommends "${missing[@]}" >"$log" 2>&1; then
  tail -n 20 "$log" >&2
  fail "apt-get install failed"
fi

still=()
for pkg in "${missing[@]}"; do
  installed "$pkg" || still+=("$pkg")
done
[ "${#still[@]}" -eq 0 ] || fail "still not installed after apt-get: ${still[*]}"
echo "setup-test-deps: installed ${missing[*]}" >&2
