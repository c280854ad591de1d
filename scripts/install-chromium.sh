#!/usr/bin/env bash
# Installs Debian's Chromium for the browser tests (test/report, test/playground) when no Chromium is there yet.
# Idempotent, and never fails its caller: without a browser those tests skip and say why. playwright-core drives it;
# no browser is downloaded from anywhere but Debian's package archive.
set -u
for b in "${CHROMIUM_PATH:-}" /usr/bin/chromium /usr/bin/chromium-browser; do
  if [ -n "$b" ] && [ -x "$b" ]; then
    echo "install-chromium: found $b"
    exit 0
  fi
done
if [ "$(id -u)" != 0 ] || ! command -v apt-get > /dev/null; then
  echo "install-chromium: no Chromium and no root apt-get to install it; the browser tests will skip"
  exit 0
fi
echo "install-chromium: apt-get install chromium"
export DEBIAN_FRONTEND=noninteractive
if timeout 900 apt-get update -qq > /tmp/install-chromium.log 2>&1 \
  && timeout 1200 apt-get install -y -qq chromium >> /tmp/install-chromium.log 2>&1; then
  echo "install-chromium: installed $(/usr/bin/chromium --version 2> /dev/null || echo chromium)"
else
  echo "install-chromium: apt-get failed (log: /tmp/install-chromium.log); the browser tests will skip"
  tail -n 5 /tmp/install-chromium.log || true
fi
exit 0
