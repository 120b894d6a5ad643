#!/usr/bin/env bash
# Installs what Tally needs to build and test on Debian: system libraries (liblz4, libsqlite3,
# libcrypto), nginx and wrk (gateway benchmark), and the pinned pip packages for the end-to-end
# tests (pytest, boto3, the AWS CLI, moto's server).
set -euo pipefail
cd "$(dirname "$0")/.."
export DEBIAN_FRONTEND=noninteractive
SUDO=""
if [ "$(id -u)" != "0" ]; then SUDO="sudo"; fi
$SUDO apt-get update -q
$SUDO apt-get install -y -q liblz4-dev lz4 libsqlite3-dev libssl-dev openssl nginx wrk
python3 -m pip install -q --disable-pip-version-check -r Tests/e2e/requirements.txt
