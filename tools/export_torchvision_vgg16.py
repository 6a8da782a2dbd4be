#!/usr/bin/env python3
"""Export torchvision's VGG16 ImageNet weights as a safetensors file the engine reads.

Run this where PyTorch and torchvision are installed (the engine's machines do not need them):

    python3 tools/export_torchvision_vgg16.py --out vgg16_imagenet.safetensors
    python3 tools/export_torchvision_vgg16.py --pth vgg16-397923af.pth --out vgg16_imagenet.safetensors

Without --pth, torchvision downloads vgg16-397923af.pth (IMAGENET1K_V1) into its cache. Copy the
output next to the engine and either use it directly (it is already in the engine's naming) or
pass it through `convert_weights --from torchvision FILE` (which checks every shape).

What is written:
  * the 13 convolution layers, named as in the engine (block1_conv1.weight ... block5_conv3.bias)
    or, with --torchvision-names, as in torchvision (features.0.weight ... features.28.bias);
    weights O x I x 3 x 3, biases O, float32 little-endian. torchvision's classifier (the
    1000-class head) is left out: the engine's VGG16 has its own head.
  * "__metadata__": format, model, source, preprocessing ("imagenet-torch": RGB, x/255, then
    mean 0.485/0.456/0.406 and std 0.229/0.224/0.225), layers, layers_missing.

Only torch/torchvision and the Python standard library are used: the safetensors bytes (8-byte
little-endian header length, JSON header, raw data) are written here with struct and json, so
the `safetensors` package is not needed. `--write-test-file PATH` writes a small file with made-up
values and needs no torch at all (tests/test_convert.cpp uses it to check this writer).
"""

import argparse
import json
import os
import struct
import sys

# torchvision's features.N index of each conv layer (ReLUs and max-pools fill the gaps) and the
# engine's name for it; the same table as weights/vgg16_names.cpp.
VGG16_CONV_LAYERS = [
    (0, "block1_conv1"), (2, "block1_conv2"),
    (5, "block2_conv1"), (7, "block2_conv2"),
    (10, "block3_conv1"), (12, "block3_conv2"), (14, "block3_conv3"),
    (17, "block4_conv1"), (19, "block4_conv2"), (21, "block4_conv3"),
    (24, "block5_conv1"), (26, "block5_conv2"), (28, "block5_conv3"),
]

IMAGENET_TORCH = "imagenet-torch"
WEIGHTS_FORMAT = "busi-engine weights v1"
CHUNK = 1 << 20  # values packed per struct.pack call (keeps memory bounded)


def write_safetensors(path, tensors, metadata):
    """Write `tensors` = [(name, shape, values_fn)] as F32 with `metadata` (str -> str).

    values_fn() returns the tensor's values as a flat list of floats in row-major order. The
    file is written to path + ".tmp" and renamed, so a failure never leaves a partial file.
    """
    header = {}
    if metadata:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    offset = 0
    for name, shape, _ in tensors:
        numel = 1
        for d in shape:
            numel *= d
        header[name] = {"dtype": "F32", "shape": list(shape),
                        "data_offsets": [offset, offset + 4 * numel]}
        offset += 4 * numel
    header_bytes = json.dumps(header, separators=(",", ":")).encode("utf-8")
    # Pad with spaces so the data starts 8-byte aligned (allowed by the format).
    header_bytes += b" " * ((8 - len(header_bytes) % 8) % 8)

    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(header_bytes)))  # unsigned 64-bit little-endian
        f.write(header_bytes)
        for name, shape, values_fn in tensors:
            values = values_fn()
            expected = header[name]["data_offsets"][1] - header[name]["data_offsets"][0]
            if 4 * len(values) != expected:
                raise ValueError(f"{name}: {len(values)} values do not match shape {shape}")
            for start in range(0, len(values), CHUNK):
                chunk = values[start:start + CHUNK]
                f.write(struct.pack("<%df" % len(chunk), *chunk))  # float32 little-endian
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def vgg16_conv_tensors(get, engine_names):
    """[(name, shape, values_fn)] for the 13 conv layers found by `get(torchvision_name)`.

    `get` returns (shape, values_fn) or None when the state dict lacks the tensor.
    Returns (tensors, present_layers, missing_layers).
    """
    tensors, present, missing = [], [], []
    for index, layer in VGG16_CONV_LAYERS:
        found = [get(f"features.{index}.{kind}") for kind in ("weight", "bias")]
        if found[0] is None and found[1] is None:
            missing.append(layer)
            continue
        if None in found:
            raise ValueError(f"features.{index} ({layer}) has only one of weight and bias")
        for kind, (shape, values_fn) in zip(("weight", "bias"), found):
            name = f"{layer}.{kind}" if engine_names else f"features.{index}.{kind}"
            tensors.append((name, shape, values_fn))
        present.append(layer)
    return tensors, present, missing


def metadata_for(present, missing, engine_names, source):
    return {
        "format": WEIGHTS_FORMAT if engine_names else "pt",
        "model": "vgg16",
        "source": source,
        "preprocessing": IMAGENET_TORCH,
        "layers": ",".join(present),
        "layers_missing": ",".join(missing),
    }


def load_torchvision_state_dict(pth):
    import torch  # imported here so that --write-test-file works without torch

    if pth:
        try:
            return torch.load(pth, map_location="cpu", weights_only=True)
        except TypeError:  # torch < 1.13 has no weights_only
            return torch.load(pth, map_location="cpu")
    import torchvision

    return torchvision.models.vgg16(weights="IMAGENET1K_V1").state_dict()


def export(pth, out, engine_names):
    state = load_torchvision_state_dict(pth)

    def get(name):
        t = state.get(name)
        if t is None:
            return None
        t = t.detach().to("cpu").float().contiguous()
        return list(t.shape), lambda: t.flatten().tolist()

    tensors, present, missing = vgg16_conv_tensors(get, engine_names)
    if not present:
        sys.exit("export_torchvision_vgg16: no features.N conv tensors found: is this VGG16?")
    source = "torchvision vgg16 IMAGENET1K_V1 (%s)" % (
        os.path.basename(pth) if pth else "vgg16-397923af.pth")
    write_safetensors(out, tensors, metadata_for(present, missing, engine_names, source))
    print(f"wrote {out}: {len(present)} of 13 conv layers, {len(tensors)} tensors")
    if missing:
        print("missing layers: " + ", ".join(missing))


def write_test_file(path):
    """A small file through the same code path, with block1_conv1 only and known values:
    weight[o, i, h, w] = o + i / 10 + h / 100 + w / 1000, bias[o] = -o."""
    def get(name):
        if name == "features.0.weight":
            values = [o + i / 10 + h / 100 + w / 1000
                      for o in range(64) for i in range(3) for h in range(3) for w in range(3)]
            return [64, 3, 3, 3], lambda: values
        if name == "features.0.bias":
            return [64], lambda: [-float(o) for o in range(64)]
        return None

    tensors, present, missing = vgg16_conv_tensors(get, engine_names=True)
    write_safetensors(path, tensors, metadata_for(present, missing, True, "test file (made up)"))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pth", help="a torchvision VGG16 state dict (vgg16-397923af.pth); "
                        "default: let torchvision download IMAGENET1K_V1")
    parser.add_argument("--out", default="vgg16_imagenet.safetensors", help="output file")
    parser.add_argument("--torchvision-names", action="store_true",
                        help="keep torchvision's names features.N.* instead of the engine's")
    parser.add_argument("--write-test-file", metavar="PATH",
                        help="write a small made-up file without torch (for tests) and exit")
    args = parser.parse_args()
    if args.write_test_file:
        write_test_file(args.write_test_file)
        return
    export(args.pth, args.out, engine_names=not args.torchvision_names)


if __name__ == "__main__":
    main()
