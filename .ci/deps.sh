#!/usr/bin/env bash
# Install everything rzup-extract needs to build and test on Debian 12.
# Used by .ci/run and by the README's set-up commands.
set -euo pipefail
SUDO=
[ "$(id -u)" = 0 ] || SUDO=sudo
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends \
    build-essential ninja-build pkg-config python3 ca-certificates \
    libcurl4-openssl-dev zlib1g-dev libssl-dev libyaml-dev libtar-dev \
    curl openssl nginx-light libarchive-tools tar gzip time >/dev/null
# tests/test_progress.py reads the progress bar back from a real terminal
$SUDO apt-get install -y -qq --no-install-recommends tmux >/dev/null
# The conformance corpus (tests/test_conformance.py) and tools/tarfuzz:
# every compressor, and Debian's own python3 for tarfile as an oracle.
$SUDO apt-get install -y -qq --no-install-recommends \
    xz-utils zstd bzip2 lz4 ncompress binutils python3 >/dev/null
# Decoder libraries (configure.py finds each; a missing one is "not built in")
# and the real compressors the decoder tests make their inputs with.
$SUDO apt-get install -y -qq --no-install-recommends \
    liblzma-dev libzstd-dev libbz2-dev liblz4-dev libisal-dev \
    xz-utils zstd bzip2 lz4 ncompress pigz >/dev/null
# tools/bench's decoder-alone anchor for .gz (`igzip -dc`); pigz is above
$SUDO apt-get install -y -qq --no-install-recommends isal >/dev/null
