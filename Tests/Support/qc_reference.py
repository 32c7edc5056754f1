#!/usr/bin/env python3
"""An independent numpy implementation of Fairway's QC metrics (method version 1).

Written from the definitions in the README, not from the Swift code, so tests can compare the
two on the fixtures and on generated images with a known ground truth, and benchmarks can time
numpy doing the same work.

Usage: qc_reference.py FILE [--significant-bits N] [--gain G --offset O] [--flat-field]
Prints one JSON object shaped like `fairway-qc score --json` (channels only).
Reads the file with tifffile (planes as tifffile's series gives them).
"""
import argparse
import json
import math
import sys

import numpy as np

BLOCK = 16


def percentile(values, per_mille):
    """Nearest rank: the smallest value whose cumulative count reaches ceil(q*N), in integers."""
    ordered = np.sort(np.ravel(values))
    rank = max(1, -(-per_mille * ordered.size // 1000))
    return float(ordered[rank - 1])


def percentile_of_counts(counts, per_mille):
    """The same nearest rank, read from counts per integer value (index = value - origin)."""
    total = int(counts.sum())
    rank = max(1, -(-per_mille * total // 1000))
    return int(np.searchsorted(np.cumsum(counts), rank))


def grouped_mad(diff_counts):
    """MAD of integer-valued differences (counts per difference, index = d + origin) about
    their nearest-rank median, interpolated in the bin of the median: distance k stands for
    [k-1/2, k+1/2), and 0 for [0, 1/2)."""
    total = int(diff_counts.sum())
    if total == 0:
        return None
    med = percentile_of_counts(diff_counts, 500)
    if diff_counts[med] == total:
        return 0.0
    reach = max(med, diff_counts.size - 1 - med)
    by_distance = np.zeros(reach + 1)
    by_distance[0] = diff_counts[med]
    right = diff_counts[med + 1:]
    by_distance[1:1 + right.size] += right
    left = diff_counts[:med][::-1]
    by_distance[1:1 + left.size] += left
    half = total / 2
    cum_before = np.concatenate(([0], np.cumsum(by_distance)[:-1]))
    k = int(np.nonzero(cum_before + by_distance >= half)[0][0])
    lower, width = (0.0, 0.5) if k == 0 else (k - 0.5, 1.0)
    return lower + width * (half - cum_before[k]) / by_distance[k]


def degrees_of_freedom():
    """Of a 16x16 block's second-difference variance: 8 (even) rows of 14 correlated squares."""
    rows, n = BLOCK // 2, BLOCK - 2
    mean = rows * n * 6
    variance = rows * 2 * (n * 36 + 2 * (n - 1) * 16 + 2 * (n - 2) * 1)
    return 2 * mean * mean / variance


def quartile_correction():
    a = 2 / (9 * degrees_of_freedom())
    return (1 - a - 0.67448975 * math.sqrt(a)) ** 3


def photon_transfer(means, variances):
    n = len(means)
    groups = min(64, n // 16)
    if groups < 1:
        return None
    order = np.lexsort((np.arange(n), means))
    levels, spreads = [], []
    for g in range(groups):
        members = order[g * n // groups:(g + 1) * n // groups]
        m = np.sort(means[members])
        v = np.sort(variances[members])
        levels.append(m[(len(m) - 1) // 2])
        spreads.append(v[math.ceil(0.25 * len(v)) - 1] / quartile_correction())
    levels, spreads = np.array(levels), np.array(spreads)
    typical = float(np.median(spreads))
    span = levels.max() - levels.min()
    if groups < 3 or span < 4 * math.sqrt(typical):
        return None
    i, j = np.triu_indices(groups, 1)
    keep = (np.abs(levels[j] - levels[i]) >= span / 8) & (levels[j] != levels[i])
    slopes = (spreads[j] - spreads[i])[keep] / (levels[j] - levels[i])[keep]
    gain = float(np.median(slopes))
    if not gain > 0:
        return None
    intercept = float(np.median(spreads - gain * levels))
    return gain, -intercept / gain


def laplacian_variance(plane, binning=4):
    """Variance of the 4-neighbour Laplacian of the plane's 4x4 means."""
    h, w = (plane.shape[0] // binning) * binning, (plane.shape[1] // binning) * binning
    p = plane[:h, :w].astype(np.float64).reshape(h // binning, binning, w // binning, binning).mean(axis=(1, 3))
    if p.shape[0] < 3 or p.shape[1] < 3:
        return None
    lap = p[:-2, 1:-1] + p[2:, 1:-1] + p[1:-1, :-2] + p[1:-1, 2:] - 4 * p[1:-1, 1:-1]
    return float(lap.var())


def blocks_of(plane):
    h, w = (plane.shape[0] // BLOCK) * BLOCK, (plane.shape[1] // BLOCK) * BLOCK
    b = plane[:h, :w].astype(np.float64).reshape(h // BLOCK, BLOCK, w // BLOCK, BLOCK).swapaxes(1, 2)
    even = b[:, :, ::2, :]
    curvature = even[:, :, :, :-2] - 2 * even[:, :, :, 1:-1] + even[:, :, :, 2:]
    noise = (curvature ** 2).sum(axis=(2, 3)) / (6 * (BLOCK - 2) * (BLOCK // 2))
    return b.mean(axis=(2, 3)).ravel(), noise.ravel(), b.min(axis=(2, 3)).ravel(), b.max(axis=(2, 3)).ravel()


def score_channel(planes, sizes, dtype, bits, gain=None, offset=None, flat_field=False):
    """planes: list of 2-D arrays of one channel, t-major then z. sizes: (Z, T)."""
    z_count, t_count = sizes
    info = np.iinfo(dtype)
    signed = info.min < 0
    level = (2 ** (bits - 1) - 1) if signed else (2 ** bits - 1)
    detector_range = 2 * level + 1 if signed else level
    span = int(info.max) - int(info.min) + 1
    counts = np.zeros(span, dtype=np.int64)
    diff_counts = np.zeros(2 * span - 1, dtype=np.int64)
    for p in planes:
        counts += np.bincount((p.ravel().astype(np.int64) - int(info.min)), minlength=span)
    total = int(counts.sum())
    saturated = float(counts[level - int(info.min):].sum()) / total
    zeros = float(counts[-int(info.min)]) / total
    means, variances, keep_means, keep_vars, uniformity = [], [], [], [], []
    focus = []
    for p in planes:
        m, v, lo, hi = blocks_of(p)
        means.append(m)
        clean = ~((lo <= 0) if not signed else np.zeros_like(lo, dtype=bool)) & (hi < level)
        keep_means.append(m[clean])
        keep_vars.append(np.maximum(v[clean], 0))
        if m.size and m.max() > 0:
            uniformity.append(100 * m.min() / m.max())
        rows = p[::4].astype(np.int64)
        diff_counts += np.bincount(np.diff(rows, axis=1).ravel() + span - 1, minlength=2 * span - 1)
        focus.append(laplacian_variance(p))
    means = np.concatenate(means)
    levels = np.floor(means + 0.5)
    median_level = percentile(levels, 500)
    low = levels[levels <= median_level]
    uniq, occurrences = np.unique(low, return_counts=True)
    background = float(uniq[np.argmax(occurrences)])
    bright = percentile(levels, 990)
    mad = grouped_mad(diff_counts)
    noise = None if mad is None else 1.4826 * mad / math.sqrt(2)

    sample_means, sample_vars = np.concatenate(keep_means), np.concatenate(keep_vars)
    stride = 1
    while math.ceil(sample_means.size / stride) > (1 << 15):
        stride *= 2
    sample_means, sample_vars = sample_means[::stride], sample_vars[::stride]
    if gain is None:
        estimate = photon_transfer(sample_means, sample_vars)
        if estimate is not None:
            low = percentile_of_counts(counts, 1) + int(info.min)
            if low - 3 * (bright - low) <= estimate[1] < bright:
                gain, offset = estimate[0], estimate[1]
    snr = None if gain is None else math.sqrt(max(0.0, (bright - offset) / gain))

    usage = (percentile_of_counts(counts, 999) - percentile_of_counts(counts, 1)) / detector_range
    by_plane = []
    for z in range(z_count):
        vals = [focus[t * z_count + z] for t in range(t_count) if focus[t * z_count + z] is not None]
        by_plane.append(sum(vals) / len(vals) if vals else None)
    best = None
    for z, v in enumerate(by_plane):
        if v is not None and (best is None or v > by_plane[best]):
            best = z
    f = by_plane[best] if best is not None else None
    return {
        "pixels": int(total), "saturationLevel": float(level), "saturationFraction": saturated, "zeroFraction": zeros,
        "snr": snr, "gain": gain, "offset": offset, "brightLevel": bright, "background": background,
        "noiseSigma": noise, "signalToBackground": bright / background if background > 0 else None,
        "dynamicRangeUsage": usage, "focus": f,
        "focusToNoise": (f / (20 / 16 * noise * noise)) if f is not None and noise else None,
        "bestFocusPlane": best if z_count > 1 else None, "focusByPlane": by_plane,
        "uniformity": min(uniformity) if flat_field and uniformity else None,
    }


def channel_planes(path):
    """(planes per channel, Z, T, dtype, OME significant bits or None) from tifffile."""
    import tifffile
    with tifffile.TiffFile(path) as tif:
        series = tif.series[0]
        data = series.asarray()
        axes = series.axes
        bits = None
        if tif.is_ome:
            import re
            found = re.search(r'SignificantBits="(\d+)"', tif.ome_metadata or "")
            bits = int(found.group(1)) if found else None
    # Samples of RGB pixels are channels; then normalise to T, Z, C, Y, X.
    if "S" in axes:
        if "C" in axes:
            raise SystemExit("qc_reference: channels of multi-sample pixels are not supported")
        axes = axes.replace("S", "C")
    # A plain multi-page file is a Z stack.
    for other in "IQ":
        if other in axes and "Z" not in axes:
            axes = axes.replace(other, "Z")
    for axis in "TZC":
        if axis not in axes:
            data = data[np.newaxis]
            axes = axis + axes
    order = [axes.index(a) for a in "TZCYX"]
    rest = [i for i in range(data.ndim) if i not in order]
    data = np.transpose(data, rest + order).reshape((-1,) + tuple(data.shape[i] for i in order))[0]
    t_count, z_count, c_count = data.shape[:3]
    planes = [[data[t, z, c] for t in range(t_count) for z in range(z_count)] for c in range(c_count)]
    return planes, z_count, t_count, data.dtype, bits


def main(argv):
    parser = argparse.ArgumentParser()
    parser.add_argument("file")
    parser.add_argument("--significant-bits", type=int)
    parser.add_argument("--gain", type=float)
    parser.add_argument("--offset", type=float)
    parser.add_argument("--flat-field", action="store_true")
    args = parser.parse_args(argv)
    planes, z_count, t_count, dtype, ome_bits = channel_planes(args.file)
    bits = args.significant_bits or ome_bits or np.iinfo(dtype).bits
    channels = []
    for index, channel in enumerate(planes):
        result = score_channel(channel, (z_count, t_count), dtype, bits, args.gain, args.offset, args.flat_field)
        result["index"] = index
        channels.append(result)
    print(json.dumps({"channels": channels, "significantBits": bits}))


if __name__ == "__main__":
    main(sys.argv[1:])
