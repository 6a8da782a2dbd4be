#!/usr/bin/env python3
"""An independent check of split.csv files for near-duplicate leaks, by the plain measure of
issues 13 and 24: 32 x 32 grey thumbnails made by PIL with each of several resampling filters
(default BOX, BILINEAR and LANCZOS), compared by Pearson correlation, every pair; a pair counts
at THRESHOLD (default 0.93) under any filter.

  /usr/bin/python3 scripts/check_split_leaks.py SPLIT_CSV [SPLIT_CSV ...]
      [--data DIR] [--threshold T] [--filters box,bilinear,lanczos] [--near LOW] [--sheet PNG]

For each split.csv (one of compare's folds, or a single split) it prints how many validation and
test images have a training image correlating at THRESHOLD or more, and lists them. With the
first file's group column (the engine's near-duplicate groups) it also measures the grouping's
recall: of the pairs this check finds at THRESHOLD, how many the engine put in one group. --near
lists the pairs between LOW and THRESHOLD, the ones to look at by eye, and --sheet draws them side
by side into a PNG. It shares no code with the engine's grouping (data/near_duplicates), so it can
disagree with it. Needs numpy and PIL (Debian: python3-numpy, python3-pil); neither the build nor
the tests use it. Exit status: 0 no leak, 1 leaks, 2 usage.
"""
import argparse
import csv
import os
import sys

import numpy as np
from PIL import Image, ImageDraw

FILTERS = {"box": Image.BOX, "bilinear": Image.BILINEAR, "lanczos": Image.LANCZOS,
           "bicubic": Image.BICUBIC, "hamming": Image.HAMMING, "nearest": Image.NEAREST}


def thumbnails(data, paths, resample):
    """(N, 1024): each image's 32 x 32 grey thumbnail, zero mean and unit norm."""
    out = []
    for path in paths:
        image = Image.open(os.path.join(data, path)).convert("L").resize((32, 32), resample)
        v = np.asarray(image, dtype=np.float64).ravel()
        v -= v.mean()
        n = np.linalg.norm(v)
        out.append(v / n if n > 0 else v)
    return np.stack(out)


def main():
    default_data = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "shared",
                                "busi")
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("splits", nargs="+", metavar="SPLIT_CSV")
    parser.add_argument("--data", default=default_data)
    parser.add_argument("--threshold", type=float, default=0.93)
    parser.add_argument("--filters", default="box,bilinear,lanczos")
    parser.add_argument("--near", type=float, default=None,
                        help="also list the pairs between this and the threshold")
    parser.add_argument("--sheet", default=None, help="draw the --near pairs into this PNG")
    args = parser.parse_args()
    names = args.filters.split(",")
    if any(name not in FILTERS for name in names):
        parser.error(f"--filters: choose from {', '.join(FILTERS)}")

    with open(args.splits[0], newline="") as f:
        rows = list(csv.DictReader(f))
    paths = [r["path"] for r in rows]
    # The highest correlation of each pair over the filters.
    corr = None
    for name in names:
        t = thumbnails(args.data, paths, FILTERS[name])
        c = t @ t.T
        corr = c if corr is None else np.maximum(corr, c)
    np.fill_diagonal(corr, -2.0)
    n = len(paths)
    upper = np.triu(np.ones((n, n), dtype=bool), 1)
    found = np.argwhere(upper & (corr >= args.threshold))
    print(f"{n} images; {len(found)} pairs at correlation >= {args.threshold} under any of "
          f"{', '.join(names)}")

    if "group" in rows[0]:
        group = [r["group"] for r in rows]
        together = sum(group[a] == group[b] for a, b in found)
        print(f"grouping recall: {together} of {len(found)} such pairs are in one engine group")
        for a, b in found:
            if group[a] != group[b]:
                print(f"  not grouped: '{paths[a]}' ~ '{paths[b]}' ({corr[a, b]:.3f})")

    any_leak = False
    for split_csv in args.splits:
        with open(split_csv, newline="") as f:
            these = {r["path"]: r["subset"] for r in csv.DictReader(f)}
        subsets = [these.get(p, "missing") for p in paths]
        train = np.array([s == "train" for s in subsets])
        leaks = []
        for i, s in enumerate(subsets):
            if s in ("val", "test"):
                j = int(np.argmax(np.where(train, corr[i], -2.0)))
                if corr[i, j] >= args.threshold:
                    leaks.append((s, paths[i], paths[j], corr[i, j]))
        held_out = sum(s in ("val", "test") for s in subsets)
        print(f"{split_csv}: {held_out} validation/test images; {len(leaks)} of them have a "
              f"training image at correlation >= {args.threshold}")
        for s, a, b, c in leaks:
            print(f"  {s}: '{a}' ~ train '{b}' ({c:.3f})")
        any_leak = any_leak or bool(leaks)

    if args.near is not None:
        near = np.argwhere(upper & (corr >= args.near) & (corr < args.threshold))
        near = sorted(near, key=lambda ab: -corr[ab[0], ab[1]])
        print(f"{len(near)} pairs between {args.near} and {args.threshold}:")
        for a, b in near:
            print(f"  '{paths[a]}' ~ '{paths[b]}' ({corr[a, b]:.3f})")
        if args.sheet and near:
            side = 160
            sheet = Image.new("L", (2 * side + 8, len(near) * (side + 16)), 255)
            draw = ImageDraw.Draw(sheet)
            for r, (a, b) in enumerate(near):
                for c, i in enumerate((a, b)):
                    image = Image.open(os.path.join(args.data, paths[i])).convert("L")
                    sheet.paste(image.resize((side, side)), (c * (side + 8), r * (side + 16) + 14))
                    draw.text((c * (side + 8) + 2, r * (side + 16) + 1),
                              f"{os.path.basename(paths[i])} {corr[a, b]:.3f}", fill=0)
            sheet.save(args.sheet)
            print(f"drew them into {args.sheet}")
    sys.exit(1 if any_leak else 0)


if __name__ == "__main__":
    main()
