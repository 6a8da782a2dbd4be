#!/usr/bin/env bash
# Installs the Debian packages the build needs, if any is missing (as root, or through sudo).
set -euo pipefail
need=()
for pkg in cmake g++ make doctest-dev libstb-dev libhdf5-dev libjpeg62-turbo-dev libomp-dev python3; do
  dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
done
[ ${#need[@]} -eq 0 ] && exit 0
echo "install_deps: installing ${need[*]}"
sudo=""
[ "$(id -u)" -ne 0 ] && sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq "${need[@]}" >/dev/null
