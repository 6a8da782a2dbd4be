#!/usr/bin/env python3
"""An independent check of a split.csv for near-duplicate leaks, by the plain measure of issue 13:
32 x 32 grey thumbnails (PIL, area resampling) compared by Pearson correlation, every pair.

  /usr/bin/python3 scripts/check_split_leaks.py SPLIT_CSV [DATA_DIR] [THRESHOLD]

prints how many validation and test images have a training image correlating at THRESHOLD
(default 0.93) or more, and lists them. It shares no code with the engine's grouping
(data/near_duplicates), so it can disagree with it. Needs numpy and PIL (Debian: python3-numpy,
python3-pil); neither the build nor the tests use it. Exit status: 0 no leak, 1 leaks, 2 usage.
"""
import csv
import os
import sys

import numpy as np
from PIL import Image

if len(sys.argv) < 2:
    print(__doc__, file=sys.stderr)
    sys.exit(2)
split_csv = sys.argv[1]
data = sys.argv[2] if len(sys.argv) > 2 else os.path.join(os.path.dirname(__file__), "..", "..",
                                                          "shared", "busi")
threshold = float(sys.argv[3]) if len(sys.argv) > 3 else 0.93

with open(split_csv, newline="") as f:
    rows = list(csv.DictReader(f))
paths = [r["path"] for r in rows]
subsets = [r["subset"] for r in rows]


def thumbnail(path):
    image = Image.open(os.path.join(data, path)).convert("L").resize((32, 32), Image.BOX)
    v = np.asarray(image, dtype=np.float64).ravel()
    v -= v.mean()
    n = np.linalg.norm(v)
    return v / n if n > 0 else v


t = np.stack([thumbnail(p) for p in paths])  # (N, 1024), each zero-mean, unit norm
corr = t @ t.T                                # Pearson correlation of every pair
train = np.array([s == "train" for s in subsets])
leaks = []
for i, s in enumerate(subsets):
    if s in ("val", "test"):
        j = int(np.argmax(np.where(train, corr[i], -2.0)))
        if corr[i, j] >= threshold:
            leaks.append((s, paths[i], paths[j], corr[i, j]))
held_out = sum(s in ("val", "test") for s in subsets)
print(f"{split_csv}: {len(rows)} images, {held_out} validation/test; "
      f"{len(leaks)} of them have a training image at correlation >= {threshold}")
for s, a, b, c in leaks:
    print(f"  {s}: '{a}' ~ train '{b}' ({c:.3f})")
sys.exit(1 if leaks else 0)
