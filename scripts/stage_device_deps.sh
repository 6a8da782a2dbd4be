#!/usr/bin/env bash
# Copies the headers of the Debian packages the build needs (doctest, stb) into .deps/include,
# for a machine that cannot install them: the GPU machines, which reach no package registry.
# CMake picks .deps/include up by itself; carry the folder with the working tree (device tool:
# carry [".deps"]). HDF5 is not copied: without it the build leaves out the Keras converter.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install_deps.sh
mkdir -p .deps/include
for dir in /usr/include/doctest /usr/include/stb; do
  [ -d "$dir" ] || { echo "stage_device_deps: $dir missing" >&2; exit 1; }
  cp -r "$dir" .deps/include/
done
du -sh .deps
