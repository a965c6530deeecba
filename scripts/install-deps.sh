#!/usr/bin/env bash
# Installs the Debian packages Kestrel builds against, when any is missing.
# Needs only the Swift toolchain beforehand. Uses sudo when not root.
set -euo pipefail

packages=(libopenblas-dev libdnnl-dev libfaiss-dev libjpeg-dev liblmdb-dev libpng-dev zlib1g-dev pkg-config
          dataset-fashion-mnist openclipart-png fonts-noto-color-emoji
          # the web page test drives headless Chromium (Tests/KestrelServerTests/WebPageTests.swift)
          chromium)

missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
    echo "install-deps: all system packages present"
    exit 0
fi

sudo=""
if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || { echo "error: need root or sudo to install: ${missing[*]}" >&2; exit 1; }
    sudo="sudo"
fi
echo "install-deps: installing ${missing[*]}"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
