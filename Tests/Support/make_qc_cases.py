#!/usr/bin/env python3
"""Images with a known quality ground truth for the QC tests.

Usage: make_qc_cases.py OUTDIR   (prints a JSON manifest of what each file should score)
Deterministic (fixed seeds). Needs numpy and tifffile.
"""
import json
import pathlib
import sys

import numpy as np
import tifffile


def poisson_patches(rng, gain, offset, brightest, side=512, patch=64):
    """Uniform patches of known photon counts (the brightest `brightest`), each pixel
    offset + gain * Poisson(photons): shot-noise-limited camera data."""
    n = side // patch
    levels = np.geomspace(2, brightest, n * n)
    rng.shuffle(levels)
    photons = np.kron(levels.reshape(n, n), np.ones((patch, patch)))
    return np.clip(np.rint(offset + gain * rng.poisson(photons)), 0, 65535).astype(np.uint16)


def main(out):
    out = pathlib.Path(out)
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(20261129)
    manifest = {}

    gain, offset, photons = 2.5, 100.0, 400.0
    tifffile.imwrite(out / "poisson_patches.tif", poisson_patches(rng, gain, offset, photons))
    manifest["poisson_patches.tif"] = dict(gain=gain, offset=offset, photons=photons, snr=photons ** 0.5)

    # A camera with a gain under one ADU per photon, no offset, dimmer.
    tifffile.imwrite(out / "poisson_low_gain.tif", poisson_patches(rng, 0.8, 0.0, 150.0))
    manifest["poisson_low_gain.tif"] = dict(gain=0.8, offset=0.0, photons=150.0, snr=150.0 ** 0.5)

    # Smooth structure plus Gaussian noise of a known sigma.
    sigma = 12.0
    yy, xx = np.mgrid[0:512, 0:512]
    smooth = 1000 + 300 * np.sin(xx / 40.0) * np.cos(yy / 50.0)
    noisy = np.clip(np.rint(smooth + rng.normal(0, sigma, smooth.shape)), 0, 65535).astype(np.uint16)
    tifffile.imwrite(out / "gaussian_noise.tif", noisy)
    manifest["gaussian_noise.tif"] = dict(noise_sigma=sigma)

    # A flat field with vignetting: its uniformity is that of the noiseless field's block means.
    r2 = ((yy - 255.5) ** 2 + (xx - 255.5) ** 2) / (2 * 255.5 ** 2)
    field = 3000 * (1 - 0.35 * r2)
    flat = np.clip(rng.poisson(field), 0, 65535).astype(np.uint16)
    tifffile.imwrite(out / "flat_field.tif", flat)
    blocks = field.reshape(32, 16, 32, 16).mean(axis=(1, 3))
    manifest["flat_field.tif"] = dict(uniformity=float(100 * blocks.min() / blocks.max()))

    # 12-bit camera data in 16 bits, bright blobs clipped at 4095.
    blobs = blob_field(rng, (256, 256), count=45, sigma=5.0, peak=6000.0, background=120.0)
    saturated = np.clip(2 * rng.poisson(blobs / 2), 0, 4095).astype(np.uint16)
    tifffile.imwrite(out / "saturated_12bit.tif", saturated)
    manifest["saturated_12bit.tif"] = dict(significant_bits=12, saturated_fraction=float((saturated == 4095).mean()))

    # A Z stack of the same blobs through focus: sharpest at plane 5 of 12.
    centres = rng.uniform(0, 256, size=(40, 2)), rng.uniform(0.5, 1.0, size=40)
    planes = []
    for z in range(12):
        blur = 0.9 * abs(z - 5)
        field = blob_field(rng, (256, 256), sigma=(3.0 ** 2 + blur ** 2) ** 0.5, peak=1500.0, background=100.0,
                           centres=centres, flux_sigma=3.0)
        planes.append(np.clip(rng.poisson(field / 2) * 2 / 16, 0, 255).astype(np.uint8))
    tifffile.imwrite(out / "zstack_u8.tif", np.stack(planes))
    manifest["zstack_u8.tif"] = dict(sharpest_plane=5)

    manifest[corrupt_ome(out)] = dict(corrupt=True)
    print(json.dumps(manifest))


def blob_field(rng, shape, count=40, sigma=5.0, peak=1000.0, background=100.0, centres=None, flux_sigma=None):
    """Gaussian blobs on a flat background. With `flux_sigma`, a blob blurred to `sigma` keeps
    the flux it had at `flux_sigma` (defocus spreads light, it does not add any)."""
    if centres is None:
        centres = rng.uniform(0, shape[0], size=(count, 2)), rng.uniform(0.4, 1.0, size=count)
    positions, amplitudes = centres
    yy, xx = np.mgrid[0:shape[0], 0:shape[1]]
    field = np.full(shape, background, dtype=np.float64)
    scale = (flux_sigma / sigma) ** 2 if flux_sigma else 1.0
    for (cy, cx), a in zip(positions, amplitudes):
        field += a * peak * scale * np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * sigma ** 2))
    return field



def corrupt_ome(out):
    """An OME-TIFF whose metadata is sound and whose second deflate strip is garbage: described
    by the metadata step, refused when its pixels are read."""
    import tifffile as tf
    data = (np.arange(128 * 128, dtype=np.uint32).reshape(128, 128) % 4000).astype(np.uint16)
    path = pathlib.Path(out) / "corrupt_pixels.ome.tif"
    tf.imwrite(path, data, ome=True, compression="zlib", rowsperstrip=32, metadata={"axes": "YX"})
    with tf.TiffFile(path) as tif:
        page = tif.pages[0]
        offset, count = page.dataoffsets[1], page.databytecounts[1]
    with open(path, "r+b") as f:
        f.seek(offset)
        f.write(bytes((i * 37 + 11) % 256 for i in range(count)))
    return path.name


if __name__ == "__main__":
    main(sys.argv[1])
