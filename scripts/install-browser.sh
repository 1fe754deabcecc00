#!/usr/bin/env bash
# Debian's Chromium and a Chinese font for the browser tests (Playwright drives this Chromium;
# no browser is downloaded). Installs only what is missing.
set -euo pipefail
packages=()
command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || packages+=(chromium)
# Without a CJK font the screenshots show boxes instead of Chinese.
if ! command -v fc-list >/dev/null 2>&1 || [ -z "$(fc-list :lang=zh 2>/dev/null)" ]; then
  packages+=(fonts-wqy-microhei)
fi
[ ${#packages[@]} -eq 0 ] && exit 0
echo "browser: installing ${packages[*]} (apt-get) for the browser tests ..."
if [ "$(id -u)" -eq 0 ]; then SUDO=""; elif command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
  echo "browser: apt-get needs root; install these Debian packages: ${packages[*]}" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get install -y -q "${packages[@]}" >/dev/null 2>&1 || {
  $SUDO apt-get update -q >/dev/null
  $SUDO apt-get install -y -q "${packages[@]}" >/dev/null
}
command -v chromium >/dev/null 2>&1 || { echo "browser: chromium did not install" >&2; exit 1; }
