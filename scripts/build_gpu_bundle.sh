#!/usr/bin/env bash
# Builds the GPU bundle on a machine without a GPU: the programs a GPU run needs
# (tools/bench/gpu_session.sh), compiled with nvcc for sm_90 against CUDA, cuBLAS and cuDNN, so that the
# GPU machine spends its scarce minutes running them rather than compiling them.
#   - portable CPU code (no -march=native: the GPU machine's processor may differ), no optional
#     host library (HDF5, libjpeg), -lineinfo in the device code; the engine one shared library
#     (its device code once, not in each program), with the CUDA runtime and OpenMP's runtime
#     beside it in lib/ (-DBUSI_GPU_BUNDLE=ON);
#   - what each file needs (its NEEDED entries) must be the C and C++ libraries, cuBLAS, cuDNN
#     or the bundle's own lib/; ldd must find the bundle's own libraries there;
#   - packed into .gpu-bundle/ (bin/, lib/, include/ with the doctest and stb headers for a build
#     from source on the GPU machine, MANIFEST.txt), under 30 MB.
# The device tool carries it with the working tree: run(..., carry=[".gpu-bundle"]). CI builds it
# on every change, so it cannot rot.
#
#   scripts/build_gpu_bundle.sh [BUILD_DIR]    (default: build-gpu-bundle)
# Exit status: 0 built and checked; 1 a check failed; 3 no nvcc or cuDNN here (nothing built).
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build-gpu-bundle}
bundle=.gpu-bundle
max_bytes=$((30 * 1000 * 1000))
tests=(test_cuda_runtime test_cuda_kernels test_cuda_ops test_cuda_train_step test_gpu_self_check
       test_device)
tools=(gpu_preflight bench_kernels bench_train_step)
start=$(date +%s)

nvcc=$(command -v nvcc || true)
[ -z "$nvcc" ] && [ -x /usr/local/cuda/bin/nvcc ] && nvcc=/usr/local/cuda/bin/nvcc
if [ -z "$nvcc" ]; then
  echo "build_gpu_bundle: nvcc is not installed here: no bundle built" >&2
  exit 3
fi
scripts/install_deps.sh
mkdir -p "$build"
if ! cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DCMAKE_CUDA_COMPILER="$nvcc" \
     -DBUSI_CUDA=ON -DBUSI_GPU_BUNDLE=ON -DBUSI_NATIVE=OFF -DBUSI_WERROR=ON \
     -DCMAKE_DISABLE_FIND_PACKAGE_HDF5=ON -DCMAKE_DISABLE_FIND_PACKAGE_JPEG=ON \
     >"$build/configure.log" 2>&1; then
  if grep -q "cuDNN 9 was not found" "$build/configure.log"; then
    echo "build_gpu_bundle: cuDNN is not installed here: no bundle built" >&2
    exit 3
  fi
  cat "$build/configure.log" >&2
  exit 1
fi
cmake --build "$build" -j"$(nproc)" --target "${tests[@]}" "${tools[@]}" >"$build/build.log" 2>&1 ||
  { tail -40 "$build/build.log" >&2; exit 1; }

rm -rf "$bundle"
mkdir -p "$bundle/bin" "$bundle/lib" "$bundle/include"
for t in "${tests[@]}"; do cp "$build/tests/$t" "$bundle/bin/"; done
for t in "${tools[@]}"; do cp "$build/tools/$t" "$bundle/bin/"; done
cp "$build/lib/libbusi_engine.so" "$bundle/lib/"
cp -L "$(g++ -print-file-name=libgomp.so.1)" "$bundle/lib/"
cudart=$(ldd "$build/lib/libbusi_engine.so" | awk '$1 ~ /^libcudart\.so/ {print $3}')
[ -n "$cudart" ] || { echo "build_gpu_bundle: the CUDA runtime was not found" >&2; exit 1; }
cp -L "$cudart" "$bundle/lib/"
# Host symbol tables are most of a program's size and no backtrace on the GPU machine needs
# them; the device code keeps its line information (-lineinfo) for compute-sanitizer and ncu.
strip --strip-unneeded "$bundle"/bin/* "$bundle/lib/libbusi_engine.so"
cp -r /usr/include/doctest /usr/include/stb "$bundle/include/"

# What each file asks the dynamic loader for (NEEDED; what those need in turn is theirs: cuDNN
# itself needs the C++ library) must be on this list or in the bundle's lib/.
allowed='^(ld-linux-x86-64\.so|libc\.so|libm\.so|libdl\.so|libpthread\.so|librt\.so|libstdc\+\+\.so|libgcc_s\.so|libcublas\.so|libcublasLt\.so|libcudnn\.so)'
failures=0
for f in "$bundle"/bin/* "$bundle"/lib/*.so*; do
  for name in $(readelf -d "$f" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'); do
    if [ -e "$bundle/lib/$name" ]; then
      # ldd must find it there, through the RPATH $ORIGIN/../lib (or, for lib/, $ORIGIN).
      found=$(ldd "$f" | awk -v n="$name" '$1 == n {print $3}')
      if [ "$(realpath "$found" 2>/dev/null)" != "$(realpath "$bundle/lib/$name")" ]; then
        echo "build_gpu_bundle: $(basename "$f") finds $name at '$found', not in $bundle/lib" >&2
        failures=$((failures + 1))
      fi
    elif [[ ! "$name" =~ $allowed ]]; then
      echo "build_gpu_bundle: $(basename "$f") needs $name: neither allowed nor in the bundle" >&2
      failures=$((failures + 1))
    fi
  done
done
# The newest C and C++ library versions any file asks for: the GPU machine's must be as new.
glibc=$(objdump -T "$bundle"/bin/* "$bundle"/lib/libbusi_engine.so | grep -o 'GLIBC_[0-9.]*' |
  sort -Vu | tail -1)
glibcxx=$(objdump -T "$bundle"/bin/* "$bundle"/lib/libbusi_engine.so |
  grep -o 'GLIBCXX_[0-9.]*' | sort -Vu | tail -1)

cudnn_header=$(grep -l "define CUDNN_MAJOR" /usr/local/cuda/include/cudnn_version.h \
  /usr/include/cudnn_version.h /usr/include/*/cudnn_version.h 2>/dev/null | head -1 || true)
cudnn=unknown
if [ -n "$cudnn_header" ]; then
  cudnn=$(awk '/define CUDNN_(MAJOR|MINOR|PATCHLEVEL) /{v = v (v ? "." : "") $3} END {print v}' \
    "$cudnn_header")
fi
{
  echo "busi-engine GPU bundle (scripts/build_gpu_bundle.sh)"
  echo "built: $(date -u '+%Y-%m-%d %H:%M UTC') on $(uname -m), $(. /etc/os-release && echo "$PRETTY_NAME")"
  echo "commit: $(git rev-parse HEAD 2>/dev/null || echo unknown)$(git diff --quiet HEAD 2>/dev/null || echo ' (with uncommitted changes)')"
  echo "nvcc: $("$nvcc" --version | tail -1)"
  echo "cuDNN built for: $cudnn"
  echo "device code: $(grep -o 'code=\[[a-z_0-9]*\]' "$build/CMakeFiles/busi_engine.dir/flags.make" |
    tr -d '[]' | cut -d= -f2 | sort -u | tr '\n' ' ')(sm_ is machine code, compute_ PTX)"
  echo "needs at run time: libcublas.so.13, libcublasLt.so.13, libcudnn*.so.9 (LD_LIBRARY_PATH);"
  echo "  $glibc and $glibcxx or newer (the C and C++ libraries)"
  echo
  (cd "$bundle" && sha256sum bin/* lib/*)
} >"$bundle/MANIFEST.txt"

bytes=$(du -sb "$bundle" | cut -f1)
echo "build_gpu_bundle: $bundle: $((bytes / 1000000)) MB, ${#tests[@]} tests and ${#tools[@]} tools," \
     "built in $(( $(date +%s) - start )) s"
if [ "$bytes" -gt "$max_bytes" ]; then
  echo "build_gpu_bundle: the bundle is $bytes bytes, over the $max_bytes allowed" >&2
  failures=$((failures + 1))
fi
[ "$failures" -eq 0 ] || { echo "build_gpu_bundle: $failures check(s) failed" >&2; exit 1; }
echo "build_gpu_bundle: checked: each file needs only the C and C++ libraries, cuBLAS, cuDNN" \
     "and $bundle/lib ($glibc, $glibcxx)"
