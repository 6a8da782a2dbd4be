#!/usr/bin/env python3
"""PyTorch reference timings for docs/benchmarks.md, beside the engine's own benchmarks.

On the GPU (the default; tools/bench/gpu_session.sh runs it with the engine's GPU benchmarks) it times,
with the same shapes as build/tools/bench_train_step and bench_kernels:
  - one training step (forward, class-weighted cross-entropy, backward, AdamW) of SimpleCNN and
    of VGG16 (torchvision's layers, with the engine's head: global average pooling, dropout,
    linear to 3 classes), batch 32 at 224 px, in plain FP32 and with TF32;
  - the SGEMMs and the VGG16 convolutions (forward) that bench_kernels times, in FP32.
With --device cpu it times the same training steps as `bench_train_step --device cpu`: batch 32
at 96 px, on --threads threads (default: OMP_NUM_THREADS, else 2), the models chosen with
--model, in FP32 or (--precision bf16) under bf16 autocast, `torch.autocast("cpu",
dtype=torch.bfloat16)`: convolutions and matrix products in bf16 through oneDNN, the loss and
reductions in FP32, FP32 weights and AdamW state, as PyTorch's own mixed-precision guide does it.
It prints which allocator the process runs on (tcmalloc when preloaded, as PyTorch's CPU
performance guide recommends) and which BLAS PyTorch was built with; tools/bench/bench_vs_torch.sh
runs both in turn, prints oneDNN's ISA and the ratios.

Needs PyTorch and torchvision (present on the GPU machines; on a Debian CPU machine the packages
python3-torch and python3-torchvision, which tools/bench/bench_vs_torch.sh installs when missing).
Usage: python3 tools/bench/bench_torch_reference.py [--device cuda|cpu] [--model simple|vgg16|both]
                                              [--steps N] [--batch N] [--img-size PX] [--threads N]
                                              [--tf32 off|on|both] [--only steps|ops|all]
                                              [--precision fp32|bf16]  (cpu)
On the GPU, --tf32 picks the math of the training steps and --only what is timed, so that
tools/bench/gpu_session.sh can give each part its own process and time limit.
"""
import argparse
import os
import statistics
import time

import torch
import torch.nn as nn
import torchvision


def simple_cnn(width=32, blocks=4, classes=3):
    """The engine's SimpleCNN (models/simple_cnn.cpp): conv3x3 (no bias) -> BN -> ReLU -> pool."""
    layers, channels = [], 1
    for b in range(blocks):
        out = width * 2**b
        layers += [nn.Conv2d(channels, out, 3, padding=1, bias=False), nn.BatchNorm2d(out),
                   nn.ReLU(inplace=True), nn.MaxPool2d(2)]
        channels = out
    return nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(0.3),
                         nn.Linear(channels, classes))


def vgg16(classes=3):
    """torchvision's VGG16 conv layers with the engine's head (models/vgg16.cpp)."""
    features = torchvision.models.vgg16(weights=None).features
    return nn.Sequential(features, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(0.5),
                         nn.Linear(512, classes))


def synchronize(device):
    if device == "cuda":
        torch.cuda.synchronize()


def time_ms(fn, steps, warmup=2, device="cuda"):
    """Median wall time of fn() in milliseconds, synchronising after each call."""
    for _ in range(warmup):
        fn()
    synchronize(device)
    times = []
    for _ in range(steps):
        start = time.perf_counter()
        fn()
        synchronize(device)
        times.append(1e3 * (time.perf_counter() - start))
    return statistics.median(times)


def bench_step(name, model, channels, args, tf32, device="cuda", precision="fp32"):
    if device == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = tf32
        torch.backends.cudnn.allow_tf32 = tf32
    model = model.to(device).train()
    images = torch.randn(args.batch, channels, args.img_size, args.img_size, device=device)
    labels = (torch.arange(args.batch, device=device) % 3)
    loss_fn = nn.CrossEntropyLoss(weight=torch.tensor([0.6, 1.2, 2.0], device=device))
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4, weight_decay=0.01)

    def step():
        # bf16 autocast: the ops on autocast's lower-precision list (conv, linear, matmul) run
        # in bf16, the rest in FP32; the backward follows the forward's types. No loss scaling:
        # bf16 has FP32's exponent range, so gradients do not underflow as fp16's would.
        with torch.autocast(device, dtype=torch.bfloat16, enabled=precision == "bf16"):
            loss = loss_fn(model(images), labels)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        return loss.item()

    ms = time_ms(step, args.steps, device=device)
    shape = f"{args.batch} x {channels} x {args.img_size} x {args.img_size}"
    where = "" if device == "cuda" else " cpu"
    math = "bf16 autocast" if precision == "bf16" else "TF32" if tf32 else "FP32"
    print(f"| {name} | PyTorch{where} {math} | {shape} | {ms:.2f} | "
          f"{args.batch / ms * 1e3:.1f} |", flush=True)


def allocator():
    """The malloc this process runs on: a preloaded tcmalloc or jemalloc shows in its maps."""
    with open("/proc/self/maps") as maps:
        text = maps.read()
    for name in ("tcmalloc", "jemalloc"):
        if name in text:
            return name
    return "glibc malloc"


def blas():
    """The BLAS PyTorch was built with, from its build configuration."""
    for line in torch.__config__.show().splitlines():
        if "BLAS_INFO" in line:
            return line.split("BLAS_INFO=")[1].split(",")[0]
    return "unknown"


def main_cpu(args):
    """The CPU training steps of `bench_train_step --device cpu`: the same thread count."""
    torch.set_num_threads(args.threads)
    print(f"bench_torch_reference: torch {torch.__version__}, cpu, {torch.get_num_threads()} "
          f"threads, oneDNN (mkldnn) {torch.backends.mkldnn.is_available()}, allocator "
          f"{allocator()}, BLAS {blas()}, precision {args.precision}")
    print(f"\n| model | framework | input (N x C x H x W) | ms / step (median of {args.steps}) | "
          "img/s |\n|---|---|---|---:|---:|")
    torch.manual_seed(0)
    if args.model != "vgg16":
        bench_step("SimpleCNN", simple_cnn(), 1, args, False, "cpu", args.precision)
    if args.model != "simple":
        bench_step("VGG16 (all layers trained)", vgg16(), 3, args, False, "cpu", args.precision)


def bench_ops(args):
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    torch.backends.cudnn.benchmark = True
    print("\n| op (PyTorch FP32, TF32 off) | shape | ms | TFLOP/s |\n|---|---|---:|---:|")
    for m, n, k in [(1024, 1024, 1024), (4096, 4096, 4096), (32, 4096, 25088), (32, 3, 512)]:
        a = torch.randn(m, k, device="cuda")
        b = torch.randn(k, n, device="cuda")
        ms = time_ms(lambda: a @ b, 10)
        print(f"| sgemm | {m} x {n} x {k} | {ms:.3f} | {2 * m * n * k / ms / 1e9:.1f} |")
    for c_in, c_out, hw in [(3, 64, 224), (64, 64, 224), (128, 128, 112), (256, 256, 56),
                            (512, 512, 28), (512, 512, 14)]:
        x = torch.randn(32, c_in, hw, hw, device="cuda")
        conv = nn.Conv2d(c_in, c_out, 3, padding=1).cuda()
        with torch.no_grad():
            ms = time_ms(lambda: conv(x), 10)
        flops = 2 * 32 * c_out * c_in * 9 * hw * hw
        print(f"| conv3x3 forward | 32 x {c_in} x {hw} x {hw} -> {c_out} | {ms:.3f} | "
              f"{flops / ms / 1e9:.1f} |")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--img-size", type=int, default=0, help="0: 224 on the GPU, 96 on the CPU")
    parser.add_argument("--device", choices=["cuda", "cpu"], default="cuda")
    parser.add_argument("--model", choices=["simple", "vgg16", "both"], default="both")
    parser.add_argument("--threads", type=int, default=int(os.environ.get("OMP_NUM_THREADS", 2)))
    parser.add_argument("--tf32", choices=["off", "on", "both"], default="both",
                        help="GPU training steps: plain FP32, TF32, or both")
    parser.add_argument("--only", choices=["steps", "ops", "all"], default="all",
                        help="GPU: the training steps, the SGEMM and convolution timings, or all")
    parser.add_argument("--precision", choices=["fp32", "bf16"], default="fp32",
                        help="cpu: FP32, or bf16 autocast (torch.autocast('cpu', bfloat16))")
    args = parser.parse_args()
    if args.img_size == 0:
        args.img_size = 224 if args.device == "cuda" else 96
    if args.device == "cpu":
        main_cpu(args)
        return
    if not torch.cuda.is_available():
        print("bench_torch_reference: no GPU visible to PyTorch; nothing measured")
        return
    print(f"bench_torch_reference: torch {torch.__version__}, {torch.cuda.get_device_name(0)}, "
          f"cuDNN {torch.backends.cudnn.version()}")
    print("\n| model | framework | input (N x C x H x W) | ms / step (median) | img/s |\n"
          "|---|---|---|---:|---:|")
    if args.only in ("steps", "all"):
        for tf32 in {"off": (False,), "on": (True,), "both": (False, True)}[args.tf32]:
            torch.manual_seed(0)
            if args.model != "vgg16":
                bench_step("SimpleCNN", simple_cnn(), 1, args, tf32)
            if args.model != "simple":
                bench_step("VGG16 (all layers trained)", vgg16(), 3, args, tf32)
    if args.only in ("ops", "all"):
        bench_ops(args)


if __name__ == "__main__":
    main()
