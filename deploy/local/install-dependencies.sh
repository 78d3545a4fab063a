#!/usr/bin/env bash
# Installs the system packages Kappa builds and tests against (Debian/Ubuntu), if any are missing.
set -euo pipefail

packages=(mosquitto mosquitto-clients libmosquitto-dev nats-server libnats-dev libpq-dev postgresql postgresql-contrib openssl pkg-config curl git tzdata)
missing=()
for package in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if [ ${#missing[@]} -eq 0 ]; then
    exit 0
fi
echo "Installing: ${missing[*]}" >&2
sudo_cmd=()
if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || { echo "need root (or sudo) to install: ${missing[*]}" >&2; exit 1; }
    sudo_cmd=(sudo)
fi
export DEBIAN_FRONTEND=noninteractive
"${sudo_cmd[@]}" apt-get update -qq
"${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# The packages enable system-wide services; Kappa runs its own on private ports, so leave those alone.
