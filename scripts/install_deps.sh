#!/usr/bin/env bash
# Installs what the build and the tests need, if anything is missing: Debian's packages (as root,
# or through sudo), then the JavaScript test packages of tests/js (ONNX Runtime for the exported
# models, playwright-core for the browser test) from the npm registry, at the versions its
# package-lock.json pins. npm's install scripts are not run: onnxruntime-node's only fetches GPU
# add-ons from a site CI cannot reach; its CPU runtime is inside the package.
set -euo pipefail
cd "$(dirname "$0")/.."
# build: cmake g++ make libstb-dev libhdf5-dev libjpeg62-turbo-dev libomp-dev
# export_onnx: libprotobuf-dev protobuf-compiler (ONNX's schema compiled with protoc)
#              python3-onnx (onnx.proto, and the ONNX checker the tests run)
# serve: libcpp-httplib-dev; its tests: chromium (headless browser), nodejs npm, wrk (load)
need=()
for pkg in cmake g++ make doctest-dev libstb-dev libhdf5-dev libjpeg62-turbo-dev libomp-dev python3 \
           libprotobuf-dev protobuf-compiler python3-onnx libcpp-httplib-dev chromium nodejs npm wrk; do
  dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
done
# Node.js and npm may come from elsewhere than Debian (the machines here have them in /usr/bin).
if command -v node >/dev/null && command -v npm >/dev/null; then
  filtered=()
  for pkg in "${need[@]}"; do [ "$pkg" = nodejs ] || [ "$pkg" = npm ] || filtered+=("$pkg"); done
  need=("${filtered[@]}")
fi
if [ ${#need[@]} -gt 0 ]; then
  echo "install_deps: installing ${need[*]}"
  sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq "${need[@]}" >/dev/null
fi
if [ ! -d tests/js/node_modules ] || [ tests/js/package-lock.json -nt tests/js/node_modules ]; then
  echo "install_deps: npm ci --ignore-scripts in tests/js"
  (cd tests/js && npm ci --ignore-scripts --no-audit --no-fund >/dev/null)
fi
