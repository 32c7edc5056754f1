"""Conversion figures on this machine, in one run: fairway-converter against tifffile.

Usage: convert_bench.py CONVERTER WORKDIR [--gib G] [--big-gib B] [--codecs none,zstd,deflate]

1. A G GiB uint16 stack (2048 x 2048 planes, 12-bit fluorescence-like noise, uncompressed) becomes a
   tiled (512), pyramidal (SubIFDs down to <= 256 px) OME-TIFF, for each codec at the same level and
   predictor: once with tifffile (imagecodecs codecs, 2 workers, the levels from its documented
   `data[..., ::2, ::2]` recipe) and once with `fairway-converter convert`. Both are timed from the
   first read to the output synced to disk (`sync` before each run, fsync after), so page-cache
   writeback of one run does not land on the next.
2. A B GiB stack converted by fairway-converter: its peak RSS (ru_maxrss of the child).
Figures, not a test: exits 0 whatever they are."""
import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import tifffile

LEVELS = {"none": None, "zstd": 3, "deflate": 6}
TIFFFILE_CODEC = {"none": None, "zstd": "zstd", "deflate": "adobe_deflate"}


def make_stack(path, gib):
    planes = int(gib * 1024 * 1024 * 1024 / (2048 * 2048 * 2))
    if path.exists() and path.stat().st_size >= planes * 2048 * 2048 * 2:
        return planes
    print(f"== writing a {gib} GiB input ({planes} planes of 2048 x 2048 uint16) to {path}", file=sys.stderr)
    rng = np.random.default_rng(11)
    y, x = np.mgrid[0:2048, 0:2048]
    base = 900 + 700 * np.sin(x / 140.0) * np.cos(y / 170.0)
    with tifffile.TiffWriter(path, bigtiff=True) as tif:
        for z in range(planes):
            plane = np.clip(base + 300 * np.sin(z / 9.0) + rng.normal(0, 25, (2048, 2048)), 0, 4095).astype(np.uint16)
            tif.write(plane, contiguous=True, photometric="minisblack")
    return planes


def fsync(path):
    fd = os.open(path, os.O_RDONLY)
    os.fsync(fd)
    os.close(fd)


TIFFFILE_RUN = r"""
import sys, time, os, numpy as np, tifffile
source, output, codec, level = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
codec = None if codec == "None" else codec
args = None if codec is None else {"level": int(level)}
data = tifffile.imread(source)
levels = [data]
while max(levels[-1].shape[-2:]) > 256:
    levels.append(levels[-1][..., ::2, ::2])
options = dict(tile=(512, 512), compression=codec, compressionargs=args, predictor=codec is not None, maxworkers=2)
with tifffile.TiffWriter(output, bigtiff=True, ome=True) as tif:
    tif.write(data, subifds=len(levels) - 1, metadata={"axes": "ZYX"}, **options)
    for reduced in levels[1:]:
        tif.write(reduced, subfiletype=1, **options)
fd = os.open(output, os.O_RDONLY); os.fsync(fd); os.close(fd)
"""


def timed(argv):
    """Wall time of a child; its peak RSS when it reports one (`--json`: VmHWM read by the converter
    itself, since a forked child's ru_maxrss also counts this Python process before exec)."""
    os.sync()
    time.sleep(1)
    started = time.perf_counter()
    child = subprocess.run(argv, capture_output=True)
    seconds = time.perf_counter() - started
    if child.returncode != 0:
        raise SystemExit(f"{argv[0]} failed ({child.returncode}): {child.stderr.decode(errors='replace')[-2000:]}")
    try:
        rss = json.loads(child.stdout.decode().strip().splitlines()[-1]).get("peakRSSBytes", 0)
    except (ValueError, IndexError):
        rss = 0
    return seconds, rss


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("converter")
    parser.add_argument("workdir")
    parser.add_argument("--gib", type=float, default=1)
    parser.add_argument("--big-gib", type=float, default=4)
    parser.add_argument("--codecs", default="none,zstd,deflate")
    options = parser.parse_args()
    work = Path(options.workdir)
    work.mkdir(parents=True, exist_ok=True)
    source = work / f"stack-{options.gib:g}gib.tif"
    make_stack(source, options.gib)
    pixels = source.stat().st_size
    print(f"input: {source} ({pixels / 1e9:.2f} GB of pixels, uncompressed, {os.cpu_count()} cores)")
    print(f"{'codec':<9} {'tifffile':>12} {'fairway':>12} {'ratio':>7} {'fairway out':>14} {'fairway RSS':>12}")
    for codec in options.codecs.split(","):
        level = LEVELS[codec]
        theirs = work / f"tifffile-{codec}.ome.tif"
        ours = work / f"fairway-{codec}.ome.tif"
        for old in (theirs, ours):
            old.unlink(missing_ok=True)
        their_seconds, _ = timed([sys.executable, "-c", TIFFFILE_RUN, str(source), str(theirs), str(TIFFFILE_CODEC[codec]), str(level or 0)])
        theirs.unlink(missing_ok=True)
        argv = [options.converter, "convert", str(source), str(ours), "--json", "--compression", codec, "--source-sha2", "sha2:" + "A" * 43 + "="]
        if level is not None:
            argv += ["--level", str(level)]
        our_seconds, rss = timed(argv)
        their_rate, our_rate = pixels / their_seconds / 1e6, pixels / our_seconds / 1e6
        our_size = ours.stat().st_size
        ours.unlink(missing_ok=True)
        print(f"{codec + (f' {level}' if level else ''):<9} {their_rate:>7.0f} MB/s {our_rate:>7.0f} MB/s {our_rate / their_rate:>6.2f}x "
              f"{our_size / 1e6:>11.0f} MB {rss / 1e6:>9.0f} MB", flush=True)
    if options.big_gib > 0:
        big = work / f"stack-{options.big_gib:g}gib.tif"
        make_stack(big, options.big_gib)
        out = work / "fairway-big.ome.tif"
        seconds, rss = timed([options.converter, "convert", str(big), str(out), "--json", "--compression", "zstd", "--source-sha2", "sha2:" + "A" * 43 + "="])
        out.unlink(missing_ok=True)
        print(f"{big.stat().st_size / 2**30:.1f} GiB input, zstd: {big.stat().st_size / seconds / 1e6:.0f} MB/s, fairway-converter peak RSS {rss / 2**20:.0f} MiB (bound: 512 MB)")


if __name__ == "__main__":
    main()
