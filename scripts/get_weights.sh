#!/usr/bin/env bash
# Gets the complete VGG16 ImageNet weights in one command, with no Python packages:
#   scripts/get_weights.sh torchvision|keras [--file PATH] [--out PATH] [--manifest PATH]
# downloads the official file (its URL is in weights/manifest.json) into weights/downloads/,
# checks it against the manifest (the checks its publisher makes: torch.hub's sha256 prefix for
# torchvision, Keras's md5 and size), converts it with convert_weights and prints the path of the
# result (default weights/vgg16_imagenet.safetensors, where the tools look for it).
#   --file PATH      a file you already have: checked and converted, nothing downloaded
#   --out PATH       where the converted weights go
#   --manifest PATH  another manifest (the tests use one that lists their fixture)
# BUSI_CONVERT_WEIGHTS=/path/to/convert_weights uses that tool instead of building it with ./run.
# Exit status: 0 converted, 1 a failed download, check or conversion, 2 wrong usage.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

usage() { sed -n '2,12p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2; exit 2; }
[ $# -ge 1 ] || usage
source_name=$1
shift
file="" out="" manifest="$repo/weights/manifest.json"
while [ $# -gt 0 ]; do
  case "$1" in
    --file) [ $# -ge 2 ] || usage; file=$2; shift 2 ;;
    --out) [ $# -ge 2 ] || usage; out=$2; shift 2 ;;
    --manifest) [ $# -ge 2 ] || usage; manifest=$2; shift 2 ;;
    *) usage ;;
  esac
done
case "$source_name" in torchvision | keras) ;; *) echo "get_weights: the source is torchvision or keras, not '$source_name'" >&2; usage ;; esac

# name, url, sha256, sha256_prefix, md5, size_bytes, convert_from of the source's file (python3
# is one of the build's dependencies; only its standard library is used).
IFS=$'\t' read -r name url sha256 prefix md5 size from < <(python3 - "$manifest" "$source_name" <<'EOF'
import json, sys
manifest = json.load(open(sys.argv[1]))
download = manifest["downloads"][sys.argv[2]]
entry = next(f for f in manifest["files"] if f["name"] == download["file"])
print("\t".join(str(entry.get(k, "-")) for k in ("name", "url", "sha256", "sha256_prefix", "md5", "size_bytes"))
      + "\t" + download["convert_from"])
EOF
)

if [ -z "$file" ]; then
  file="$repo/weights/downloads/$name"
  if [ -f "$file" ]; then
    echo "get_weights: $file is already here; checking it"
  else
    command -v curl >/dev/null || { echo "get_weights: curl is not installed (apt-get install curl)" >&2; exit 1; }
    mkdir -p "$(dirname "$file")"
    echo "get_weights: downloading $url"
    if ! curl -fL --progress-bar --retry 2 --connect-timeout 20 -o "$file.part" "$url"; then
      rm -f "$file.part"
      echo "get_weights: could not download $url (no network here?)." >&2
      echo "  Download it on a machine that has network, copy it here, then run:" >&2
      echo "  scripts/get_weights.sh $source_name --file PATH/$name" >&2
      exit 1
    fi
    mv "$file.part" "$file"
  fi
fi
[ -f "$file" ] || { echo "get_weights: $file: no such file" >&2; exit 1; }

# The checks the manifest holds for this file; at least one must be there.
checked=0
refuse() { echo "get_weights: $file is not the expected $name: $1. Refused." >&2; exit 1; }
if [ "$size" != "-" ]; then
  got=$(stat -c %s "$file")
  [ "$got" = "$size" ] || refuse "it has $got bytes, the manifest says $size"
  checked=1
fi
if [ "$sha256" != "-" ] || [ "$prefix" != "-" ]; then
  got=$(sha256sum "$file" | cut -d' ' -f1)
  if [ "$sha256" != "-" ]; then
    [ "$got" = "$sha256" ] || refuse "its sha256 is $got, the manifest says $sha256"
  else
    [ "${got#"$prefix"}" != "$got" ] || refuse "its sha256 $got does not start with $prefix"
  fi
  checked=1
fi
if [ "$md5" != "-" ]; then
  got=$(md5sum "$file" | cut -d' ' -f1)
  [ "$got" = "$md5" ] || refuse "its md5 is $got, the manifest says $md5"
  checked=1
fi
[ $checked -eq 1 ] || { echo "get_weights: the manifest has no checksum for $name" >&2; exit 1; }
echo "get_weights: $file matches the manifest"

args=(--from "$from" "$file")
[ -n "$out" ] && args+=(--out "$out")
if [ -n "${BUSI_CONVERT_WEIGHTS:-}" ]; then
  "$BUSI_CONVERT_WEIGHTS" "${args[@]}"
else
  "$repo/run" convert_weights "${args[@]}"
fi
echo "${out:-$repo/weights/vgg16_imagenet.safetensors}"
