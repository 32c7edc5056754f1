"""Reads a converted OME-TIFF with independent tools and prints what they found as JSON.

Usage: check_ome_tiff.py OUTPUT SOURCE
- tifffile: is_ome, the series, every pyramid level, every tile size, the pixels;
- ome-types: the OME-XML validated against the 2016-06 schema it bundles.
The source is read by tifffile too and both are compared plane by plane in TCZYX order.
Exits 1 with a message on the first violation."""
import json
import sys

import numpy as np
import ome_types
import tifffile


def canonical(array, axes):
    """The array in T, C, Z, Y, X order whatever tifffile named its axes."""
    axes = axes.replace("I", "Z").replace("Q", "Z")
    if "S" in axes:
        if "C" in axes:
            raise SystemExit(f"source axes {axes} have both samples and channels")
        axes = axes.replace("S", "C")
    for axis in "TCZYX":
        if axis not in axes:
            array = array[np.newaxis]
            axes = axis + axes
    return np.transpose(array, [axes.index(axis) for axis in "TCZYX"])


def fail(message):
    print(message, file=sys.stderr)
    sys.exit(1)


def main(output, source):
    report = {}
    with tifffile.TiffFile(output) as tif:
        if not tif.is_ome:
            fail("tifffile: not OME-TIFF")
        report["bigtiff"] = tif.is_bigtiff
        xml = tif.ome_metadata
        ome_types.validate_xml(xml)
        ome = ome_types.from_xml(xml)
        pixels = ome.images[0].pixels
        report["ome"] = {
            "sizes": [pixels.size_t, pixels.size_c, pixels.size_z, pixels.size_y, pixels.size_x],
            "type": pixels.type.value,
            "dimension_order": pixels.dimension_order.value,
            "significant_bits": pixels.significant_bits,
            "physical": [pixels.physical_size_x, pixels.physical_size_y, pixels.physical_size_z],
            "channels": [c.name for c in pixels.channels],
            "samples_per_pixel": sum(c.samples_per_pixel or 1 for c in pixels.channels),
            "tiffdata_planes": sum(t.plane_count or 1 for t in pixels.tiff_data_blocks),
            "acquisition_date": ome.images[0].acquisition_date.isoformat() if ome.images[0].acquisition_date else None,
            "instrument": [(m.manufacturer, m.model) for i in ome.instruments for m in [i.microscope] if m],
            "provenance": {
                m.k: m.value
                for a in ome.structured_annotations.map_annotations
                for m in a.value.ms
            },
            "uuid": ome.uuid,
        }
        if report["ome"]["samples_per_pixel"] != pixels.size_c:
            fail(f"channels carry {report['ome']['samples_per_pixel']} samples, SizeC is {pixels.size_c}")
        planes = pixels.size_z * pixels.size_c * pixels.size_t
        if report["ome"]["tiffdata_planes"] != planes:
            fail(f"TiffData maps {report['ome']['tiffdata_planes']} planes, SizeZ*SizeC*SizeT is {planes}")
        series = tif.series[0]
        image = canonical(series.asarray(), series.axes)
        levels = []
        previous = None
        for number, level in enumerate(series.levels):
            shape = level.shape
            y, x = shape[level.axes.index("Y")], shape[level.axes.index("X")]
            if level.dtype != series.dtype:
                fail(f"level {number} is {level.dtype}, full resolution is {series.dtype}")
            if previous is not None and (y, x) != ((previous[0] + 1) // 2, (previous[1] + 1) // 2):
                fail(f"level {number} is {y}x{x}, not half of {previous[0]}x{previous[1]}")
            for page in level.pages:
                page = page.aspage() if hasattr(page, "aspage") else page
                if not page.is_tiled or page.tilewidth % 16 or page.tilelength % 16:
                    fail(f"level {number}: tiles {page.tilewidth}x{page.tilelength} are not multiples of 16")
                if number > 0 and not (page.subfiletype & 1):
                    fail(f"level {number}: NewSubfileType is {page.subfiletype}, not reduced-resolution")
            levels.append([y, x])
            previous = (y, x)
        if max(levels[-1]) > 256 and len(levels) > 0 and max(levels[0]) > 256:
            fail(f"smallest level {levels[-1]} is larger than 256 pixels")
        report["levels"] = levels
        report["tile"] = [tif.pages[0].tilelength, tif.pages[0].tilewidth]
        report["compression"] = tif.pages[0].compression.name
        report["dtype"] = str(series.dtype)
        report["shape_tczyx"] = list(image.shape)
        # A reduced level is the 2x2 mean of the level above (checked on the first plane, level 1).
        if len(series.levels) > 1:
            full = canonical(series.levels[0].asarray(), series.levels[0].axes)[0, 0, 0].astype(np.float64)
            half = canonical(series.levels[1].asarray(), series.levels[1].axes)[0, 0, 0].astype(np.float64)
            padded = np.pad(full, ((0, full.shape[0] % 2), (0, full.shape[1] % 2)), mode="edge")
            mean = (padded[0::2, 0::2] + padded[1::2, 0::2] + padded[0::2, 1::2] + padded[1::2, 1::2]) / 4
            report["level1_max_error"] = float(np.max(np.abs(mean - half)))
    with tifffile.TiffFile(source) as tif:
        series = tif.series[0]
        original = canonical(series.asarray(), series.axes)
    if original.dtype != image.dtype:
        fail(f"source is {original.dtype}, output is {image.dtype}")
    if original.shape != image.shape:
        fail(f"source TCZYX shape {original.shape}, output {image.shape}")
    for t in range(original.shape[0]):
        for c in range(original.shape[1]):
            for z in range(original.shape[2]):
                if not np.array_equal(original[t, c, z], image[t, c, z], equal_nan=original.dtype.kind == "f"):
                    fail(f"plane t={t} c={c} z={z} differs from the source")
    report["pixels_equal"] = True
    print(json.dumps(report, default=str))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
