"""QC figures: fairway-qc against the numpy implementation of the same metrics, same run.

Usage: qc_bench.py FAIRWAY_QC WORKDIR SIZE_MIB NUMPY_SIZE_MIB LARGE_GIB"""
import json
import math
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import tifffile

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "Tests" / "Support"))
import qc_reference  # noqa: E402

binary, work = sys.argv[1], Path(sys.argv[2])
size_mib, numpy_mib, large_gib = int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5])


def make(path, mib):
    """A width-8192 uint16 plane of `mib` MiB written band by band (numpy never holds it whole)."""
    width = 8192
    height = max(16, (mib << 20) // (2 * width) // 16 * 16)
    image = tifffile.memmap(path, shape=(height, width), dtype=np.uint16, bigtiff=True)
    rng = np.random.default_rng(7)
    xx = np.arange(width)[None, :]
    for y0 in range(0, height, 1024):
        rows = min(1024, height - y0)
        yy = np.arange(y0, y0 + rows)[:, None]
        photons = 300 + 250 * np.sin(xx / 37.0) * np.cos(yy / 53.0) + 200 * (((xx // 64) + (yy // 64)) % 2)
        image[y0:y0 + rows] = np.clip(100 + 2 * rng.poisson(photons), 0, 65535)
    image.flush()
    del image
    return height * width * 2


def run_qc(path):
    """Wall seconds, CPU seconds and peak RSS (MB) of one `fairway-qc score`, measured by GNU
    time around the process itself (a forked Python child would report the parent's RSS)."""
    started = time.perf_counter()
    result = subprocess.run(["/usr/bin/time", "-f", "%U %S %M", binary, "score", "--json", "--timing", str(path)],
                            capture_output=True, text=True)
    wall = time.perf_counter() - started
    if result.returncode != 0:
        sys.exit(f"fairway-qc failed: {result.stderr}")
    lines = result.stderr.strip().splitlines()
    user, system, rss_kb = lines[-1].split()
    scoring = float(next(line for line in lines if line.startswith("scored ")).split()[-2])
    return scoring, wall, float(user) + float(system), int(rss_kb) / 1024, json.loads(result.stdout)


def best_of(path, runs=3):
    results = [run_qc(path) for _ in range(runs)]
    return min(results, key=lambda r: r[0])


def report(label, nbytes, scoring, wall, cpu, rss):
    print(f"{label}: {nbytes / 2**20:.0f} MiB scored in {scoring:.3f} s ({nbytes / scoring / 1e9:.2f} GB/s on one core); "
          f"the process {wall:.3f} s wall, {cpu:.3f} s CPU ({nbytes / wall / 1e9:.2f} GB/s); peak RSS {rss:.0f} MB")


print(f"machine: {os.cpu_count()} cores; fairway-qc {binary}")
main = work / "main.tif"
nbytes = make(main, size_mib)
run_qc(main)  # the file into the page cache
scoring, wall, cpu, rss, _ = best_of(main)
report("fairway-qc score, 16-bit", nbytes, scoring, wall, cpu, rss)

small = work / "numpy.tif"
small_bytes = make(small, numpy_mib)
run_qc(small)
swift_scoring, swift_wall, swift_cpu, _, swift_report = best_of(small)
array = tifffile.imread(small)
started = time.perf_counter()
reference = qc_reference.score_channel([array], (1, 1), array.dtype, 16)
numpy_seconds = time.perf_counter() - started
ours = swift_report["channels"][0]
agree = all(abs(ours[k] - reference[k]) <= 1e-6 * max(abs(reference[k]), 1e-3)
            for k in ("saturationFraction", "snr", "background", "noiseSigma", "focus", "dynamicRangeUsage"))
print(f"numpy, same metrics, {small_bytes / 2**20:.0f} MiB already in memory: {numpy_seconds:.3f} s "
      f"({small_bytes / numpy_seconds / 1e9:.3f} GB/s); fairway-qc reading and scoring the file: {swift_scoring:.3f} s "
      f"({small_bytes / swift_scoring / 1e9:.2f} GB/s; {swift_wall:.3f} s with the process's start): "
      f"{numpy_seconds / swift_scoring:.1f}x numpy; results agree: {agree}")
del array
small.unlink()

if large_gib > 0:
    big = work / "large.tif"
    big_bytes = make(big, int(large_gib * 1024))
    run_qc(big)
    scoring, wall, cpu, rss, _ = run_qc(big)
    report(f"fairway-qc score, {large_gib:g} GiB image", big_bytes, scoring, wall, cpu, rss)
