#!/usr/bin/env bash
# Install everything hermitcore needs on Debian 12, then boot the built-in
# hello image as a smoke check. Run from the repository root:
#     bash scripts/setup.sh
set -euo pipefail
cd "$(dirname "$0")/.."

SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi

PACKAGES=(qemu-system-x86 qemu-system-arm clang lld device-tree-compiler wrk iproute2)
# Ordinary Linux compilers the tests build static programs with (glibc, musl,
# C++, Fortran, both architectures) and Debian's static busybox.
PACKAGES+=(gcc libc6-dev g++ gfortran musl-tools busybox-static libsqlite3-dev golang-go
           gcc-aarch64-linux-gnu g++-aarch64-linux-gnu gfortran-aarch64-linux-gnu libc6-dev-arm64-cross)
# Debian's own dynamic programs the dynamic-executable tests run unmodified
# (tests/integration/test_dynamic.py): python3 and its standard library, sqlite3, lua, gawk.
PACKAGES+=(python3 libpython3.11-stdlib sqlite3 lua5.4 gawk coreutils)
# Debugging (tests/integration/test_coredump.py, test_debug.py): gdb for both architectures, and socat,
# the way `run --monitor` says to reach QEMU's monitor.
PACKAGES+=(gdb-multiarch socat)
# Containers (tests/integration/test_oci.py, the oci benchmark): Debian's containerd and its ctr, runc (the
# baseline), the CNI plugins (bridge, host-local), skopeo and umoci to read and build images, podman, curl.
PACKAGES+=(containerd runc containernetworking-plugins skopeo umoci podman curl)
# Building LTP (../shared/ltp.tar.gz) at test time: tests/ltp/ltp.py APT_PACKAGES.
PACKAGES+=(make autoconf automake m4 pkg-config)
# Debian's arm64 packages the tests unpack for the aarch64 guest
# (busybox-static:arm64, fetched with apt-get download): the architecture in
# dpkg's list, so apt knows them.
if ! dpkg --print-foreign-architectures | grep -qx arm64; then
    echo "setup: adding arm64 to dpkg's architectures (apt-get download busybox-static:arm64)"
    $SUDO dpkg --add-architecture arm64
    $SUDO apt-get update -qq
fi
missing=()
for p in "${PACKAGES[@]}"; do
    dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "setup: installing Debian packages: ${missing[*]}"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# The kernel's TCP/IP stack is lwIP, built from Debian's source package
# (never copied into the repository): `apt-get source` needs a deb-src line.
if ! grep -rqs '^Types:.*deb-src\|^deb-src ' /etc/apt/sources.list /etc/apt/sources.list.d/; then
    echo "setup: adding a deb-src line for Debian 12 (apt-get source lwip)"
    printf 'Types: deb-src\nURIs: http://deb.debian.org/debian\nSuites: bookworm\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
        | $SUDO tee /etc/apt/sources.list.d/hermitcore-src.sources >/dev/null
    $SUDO apt-get update -qq
fi

echo "setup: installing hermitcore, test and benchmark tools (pip)"
python3 -m pip install -q --disable-pip-version-check -e '.[test,bench]'
# pyenv only exposes new console scripts (hermitcore, tox) after a rehash.
if command -v pyenv >/dev/null 2>&1; then pyenv rehash; fi
# An editable install leaves bytecode to the first import, which writes none
# under PYTHONDONTWRITEBYTECODE: every `hermitcore run` would recompile.
python3 -m compileall -q hermitcore plugins benchmarks >/dev/null

echo "setup: fetching lwIP's source for the network stack (once, into the hermitcore cache)"
python3 -m hermitcore_plugins.lwip.netstack

echo "setup: booting the built-in hello image on qemu-microvm"
python3 -m hermitcore run --board qemu-microvm --timeout 120
