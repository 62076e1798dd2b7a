#!/usr/bin/env bash
# Installs the Debian/Ubuntu packages aelib needs (speech synthesis for the embedded corpus,
# Chromium for the demo page check). Idempotent: does nothing when everything is present.
set -euo pipefail
PKGS=(espeak-ng flite festival festvox-kdlpc16k festvox-us-slt-hts sox chromium chromium-driver)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# the corpus builder fetches audio-only packages with `apt-get download`, which needs package lists
lists=$(ls /var/lib/apt/lists/ 2>/dev/null | grep -c _Packages || true)
if [ ${#missing[@]} -eq 0 ] && [ "$lists" -gt 0 ]; then exit 0; fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null; then SUDO="sudo"; else
    echo "aelib: need root to install: ${missing[*]}. Run: apt-get update && apt-get install -y ${missing[*]}" >&2
    exit 1
  fi
fi
echo "aelib: installing system packages: ${missing[*]:-(package lists only)}"
$SUDO apt-get update -qq
if [ ${#missing[@]} -gt 0 ]; then
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
