#!/usr/bin/env bash
# Browser test of the web studio: starts `tgdm serve` on a free loopback port with a fresh data folder, drives the
# page in Debian's headless Chromium over the DevTools protocol (scripts/browser/drive_page.py: image job, text job
# with emotion and intensity, cancel, a refused upload, the job list) and writes a screenshot.
#
#   bash scripts/browser_test.sh [SCREENSHOT.png]      (default: docs/images/serve_studio.png)
#
# Needs: chromium (apt-get install --no-install-recommends chromium), python3, the bundled models
# (scripts/setup.sh). TGDM_BROWSER_MODEL=FILE uses another TGDM model; TGDM_BROWSER_STEPS sets the sampling steps
# (default 10). Exits non-zero, with a one-line reason, when any step fails.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH=/opt/swift/usr/bin:$PATH OMP_WAIT_POLICY=PASSIVE
shot="${1:-docs/images/serve_studio.png}"

chromium=$(command -v chromium || command -v chromium-browser || true)
[ -n "$chromium" ] || { echo "browser test: chromium is not installed (apt-get install --no-install-recommends chromium)" >&2; exit 1; }

swift build --product tgdm >/dev/null
tgdm="$(swift build --show-bin-path)/tgdm"

work=$(mktemp -d /tmp/tgdm-browser.XXXXXX)
server_pid=""; chrome_pid=""
cleanup() {
  [ -n "$chrome_pid" ] && kill "$chrome_pid" 2>/dev/null || true
  [ -n "$server_pid" ] && kill -INT "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

model_args=()
[ -n "${TGDM_BROWSER_MODEL:-}" ] && model_args=(--model "$TGDM_BROWSER_MODEL")
"$tgdm" serve --port 0 --data "$work/data" "${model_args[@]}" >"$work/server.out" 2>"$work/server.log" &
server_pid=$!
for _ in $(seq 1 300); do
  grep -q "^tgdm serve: http" "$work/server.out" 2>/dev/null && break
  kill -0 "$server_pid" 2>/dev/null || { echo "browser test: the server did not start: $(tail -n 3 "$work/server.log")" >&2; exit 1; }
  sleep 0.2
done
url=$(grep -o 'http://[^ ]*/' "$work/server.out" | head -n 1)
[ -n "$url" ] || { echo "browser test: no server URL after 60 s" >&2; exit 1; }
echo "browser test: server at $url"

"$chromium" --headless=new --no-sandbox --disable-gpu --disable-dev-shm-usage --no-first-run --mute-audio \
  --autoplay-policy=no-user-gesture-required --user-data-dir="$work/chrome" --remote-debugging-port=0 \
  --window-size=1360,820 about:blank >"$work/chrome.log" 2>&1 &
chrome_pid=$!
for _ in $(seq 1 100); do
  [ -s "$work/chrome/DevToolsActivePort" ] && break
  sleep 0.2
done
[ -s "$work/chrome/DevToolsActivePort" ] || { echo "browser test: chromium did not start: $(tail -n 3 "$work/chrome.log")" >&2; exit 1; }
devtools_port=$(head -n 1 "$work/chrome/DevToolsActivePort")

printf 'this is not an image' >"$work/junk.png"
mkdir -p "$(dirname "$shot")"
python3 scripts/browser/drive_page.py "$devtools_port" "$url" "$shot" "$work/junk.png"
echo "browser test: passed"
