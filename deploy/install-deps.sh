#!/usr/bin/env bash
# Installs the Debian 12 packages that cloudlink's build, tests and benchmarks need.
# Idempotent: when every package is already installed it does nothing (no apt-get call).
#   --packaging   also what deploy/package.sh and the package test need: dpkg-buildpackage,
#                 debhelper, lintian, and debootstrap + systemd-nspawn for a clean Debian tree
set -euo pipefail

packages=(
  # build
  build-essential cmake ninja-build pkg-config clang lld llvm libclang-rt-14-dev clang-format
  # libraries
  liburing-dev libbpf-dev liblmdb-dev libssl-dev libssh-dev libsimdjson-dev prometheus-cpp-dev
  libcli11-dev nlohmann-json3-dev libgtest-dev libgmock-dev libbenchmark-dev libcpp-httplib-dev libsodium-dev
  libyaml-cpp-dev libpsl-dev publicsuffix libsystemd-dev libarchive-dev
  # tools the tests and benchmarks drive: real peers, not mocks
  openssl curl python3 prometheus lmdb-utils haproxy nginx libnginx-mod-stream
  iproute2 libcap2-bin procps bpftool openssh-server pebble
)
if [ "${1:-}" = "--packaging" ]; then
  packages+=(dpkg-dev debhelper fakeroot lintian debootstrap systemd-container)
fi

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
  echo "install-deps: missing packages (${missing[*]}); run as root or install them" >&2
  exit 1
fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# policy-rc.d keeps nginx/haproxy from being started as system services on install:
# the tests and benchmarks start their own instances on loopback ports.
policy=/usr/sbin/policy-rc.d
had_policy=0; [ -e "$policy" ] && had_policy=1
if [ $had_policy -eq 0 ]; then printf '#!/bin/sh\nexit 101\n' > "$policy"; chmod +x "$policy"; fi
apt-get install -y -qq --no-install-recommends "${missing[@]}"
if [ $had_policy -eq 0 ]; then rm -f "$policy"; fi
