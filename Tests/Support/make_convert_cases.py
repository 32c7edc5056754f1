"""Writes the converter's test inputs into OUTDIR and prints a JSON manifest of what each holds.

Usage: make_convert_cases.py OUTDIR
Every case is produced by tifffile (an independent writer) with fixed seeds; bad cases are built
by editing the bytes of good ones."""
import json
import struct
import sys
from pathlib import Path

import numpy as np
import tifffile

out = Path(sys.argv[1])
out.mkdir(parents=True, exist_ok=True)
rng = np.random.default_rng(7)
manifest = {}


def cells(shape, dtype, low=0, high=4000):
    """Blobs on a noisy background, like a fluorescence field."""
    y, x = np.mgrid[0 : shape[-2], 0 : shape[-1]]
    field = low + (high - low) * (0.5 + 0.5 * np.sin(x / 23.0) * np.cos(y / 31.0))
    field = np.broadcast_to(field, shape) + rng.normal(0, (high - low) / 40, shape)
    info = np.iinfo(dtype) if np.issubdtype(dtype, np.integer) else None
    if info is not None:
        field = np.clip(field, info.min, info.max)
    return field.astype(dtype)


def good(name, data, expect, **kwargs):
    tifffile.imwrite(out / name, data, **kwargs)
    manifest[name] = dict(expect, kind="good")


def bad(name, data, reason):
    (out / name).write_bytes(data)
    manifest[name] = dict(kind="bad", reason=reason)


good("plain_u16.tif", cells((600, 700), np.uint16), dict(sizes=[1, 1, 1, 600, 700], levels=[[600, 700], [300, 350], [150, 175]]))
good("rgb_lzw_striped.tif", cells((300, 400, 3), np.uint8, 0, 255), dict(sizes=[1, 3, 1, 300, 400], channels=["Red", "Green", "Blue"]),
     photometric="rgb", compression="lzw", rowsperstrip=16)
good("rgb_planar_deflate.tif", cells((3, 260, 270), np.uint8, 0, 255), dict(sizes=[1, 3, 1, 260, 270]),
     photometric="rgb", planarconfig="separate", compression="zlib")
good("int8.tif", cells((100, 90), np.int8, -100, 100), dict(sizes=[1, 1, 1, 100, 90]))
good("int16_packbits.tif", cells((300, 517), np.int16, -3000, 3000), dict(sizes=[1, 1, 1, 300, 517]), compression="packbits")
good("int32_tiled.tif", cells((333, 301), np.int32, -100000, 100000), dict(sizes=[1, 1, 1, 333, 301]), tile=(64, 64))
good("uint32_zstd.tif", cells((257, 259), np.uint32, 0, 1 << 30), dict(sizes=[1, 1, 1, 257, 259]), compression="zstd")
good("float32.tif", cells((128, 128), np.float32, -1, 1), dict(sizes=[1, 1, 1, 128, 128]))
good("float64_tiled.tif", cells((300, 280), np.float64, 0, 1e6), dict(sizes=[1, 1, 1, 300, 280]), tile=(32, 48))
good("zstack_u8.tif", cells((7, 256, 256), np.uint8, 0, 255), dict(sizes=[1, 1, 7, 256, 256]))
good("hyperstack_imagej.tif", cells((3, 5, 2, 128, 160), np.uint16),
     dict(sizes=[3, 2, 5, 128, 160], physical=[0.325, 0.325, 1.5]),
     imagej=True, resolution=(1 / 0.325, 1 / 0.325), metadata={"axes": "TZCYX", "spacing": 1.5, "unit": "um", "finterval": 2.0})
good("tiled_deflate_big.tif", cells((2100, 1900), np.uint16), dict(sizes=[1, 1, 1, 2100, 1900]),
     bigtiff=True, tile=(256, 256), compression="zlib", predictor=True)
good("one_strip_deflate.tif", cells((1200, 1000), np.uint16), dict(sizes=[1, 1, 1, 1200, 1000]), compression="zlib", rowsperstrip=1200)
# JPEG: grayscale, and RGB stored as YCbCr (libtiff decodes it to RGB), striped and tiled.
good("jpeg_gray.tif", cells((300, 400), np.uint8, 0, 255), dict(sizes=[1, 1, 1, 300, 400]), compression="jpeg", rowsperstrip=16)
good("jpeg_ycbcr_tiled.tif", cells((300, 400, 3), np.uint8, 0, 255), dict(sizes=[1, 3, 1, 300, 400], channels=["Red", "Green", "Blue"]),
     compression="jpeg", photometric="rgb", tile=(64, 64))
good("dated_instrument.tif", cells((64, 48), np.uint16), dict(sizes=[1, 1, 1, 64, 48], date="2026-11-02T09:14:00", instrument=["Zeiss", "LSM 980"]),
     datetime="2026:11:02 09:14:00", extratags=[(271, "s", 0, "Zeiss", True), (272, "s", 0, "LSM 980", True)])

# Bad input, each with the words its error must contain.
plain = (out / "plain_u16.tif").read_bytes()
bad("truncated.tif", plain[: len(plain) // 2], "cannot be decoded")
bad("not_a_tiff.tif", b"P5\n64 48\n65535\n" + bytes(100), "Not a TIFF")
bad("empty.tif", b"", "")


def classic(entries, data=b"", next_ifd=0, ifd_at=None):
    """A classic little-endian TIFF: header, data, one IFD of (tag, type, count, value) entries."""
    ifd_offset = ifd_at if ifd_at is not None else 8 + len(data)
    head = b"II" + struct.pack("<HI", 42, ifd_offset) + data
    body = struct.pack("<H", len(entries))
    for tag, kind, count, value in sorted(entries):
        body += struct.pack("<HHI", tag, kind, count) + (struct.pack("<HH", value, 0) if kind == 3 else struct.pack("<I", value))
    return head + body + struct.pack("<I", next_ifd)


def gray(width, height, bits=16, compression=1, strip_offsets=8, strip_bytes=None, extra=()):
    return [(256, 4, 1, width), (257, 4, 1, height), (258, 3, 1, bits), (259, 3, 1, compression), (262, 3, 1, 1),
            (273, 4, 1, strip_offsets), (277, 3, 1, 1), (278, 4, 1, height),
            (279, 4, 1, strip_bytes if strip_bytes is not None else width * height * bits // 8), *extra]


bad("huge_header_no_data.tif", classic(gray(1_000_000, 1_000_000, strip_bytes=0)), "pixel budget")
bad("zero_width.tif", classic(gray(0, 16), bytes(32)), "scanline size is zero")
bad("ifd_outside_file.tif", b"II" + struct.pack("<HI", 42, 1 << 30), "")
bad("ifd_loop.tif", classic(gray(4, 4), bytes(32), next_ifd=40), "loops")
bad("unknown_compression.tif", classic(gray(4, 4, compression=34999), bytes(32)), "compression 34999")
bad("tile_count_mismatch.tif", classic([(256, 4, 1, 64), (257, 4, 1, 64), (258, 3, 1, 8), (259, 3, 1, 1), (262, 3, 1, 1), (277, 3, 1, 1),
                                      (322, 4, 1, 16), (323, 4, 1, 16), (324, 4, 1, 8), (325, 4, 1, 256)], bytes(256)),
    'Incorrect count for "TileOffsets"')
bad("strip_count_mismatch.tif", classic(gray(4, 4, extra=[]), bytes(32)).replace(struct.pack("<HHII", 278, 4, 1, 4), struct.pack("<HHII", 278, 4, 1, 1)),
    'Incorrect count for "StripOffsets"')
bad("int64.tif", classic(gray(4, 4, bits=64, extra=[(339, 3, 1, 2)]), bytes(128)), "no OME pixel type")
bad("dtd_in_ome.ome.tif", classic(gray(4, 4, extra=[(270, 2, 1, 0)]), bytes(32)), "")
# The OME-XML with a DTD: write a real one and prepend a DOCTYPE to its description.
doctype = '<?xml version="1.0"?><!DOCTYPE OME [<!ENTITY x SYSTEM "file:///etc/passwd">]><OME xmlns="http://www.openmicroscopy.org/Schemas/OME/2016-06">&x;</OME>'
tifffile.imwrite(out / "dtd_in_ome.ome.tif", np.zeros((4, 4), np.uint16), description=doctype, metadata=None)
manifest["dtd_in_ome.ome.tif"] = dict(kind="bad", reason="DTD or entities")
tifffile.imwrite(out / "already.ome.tif", cells((2, 64, 48), np.uint16), metadata={"axes": "CYX"})
manifest["already.ome.tif"] = dict(kind="ome")
# A large untiled OME-TIFF (the pyramid policy applies above 8192 px), and copies whose OME-XML lies.
wide = cells((2, 3, 300, 9000), np.uint16)
tifffile.imwrite(out / "wide_untiled.ome.tif", wide, ome=True, rowsperstrip=32,
                 metadata={"axes": "ZCYX", "PhysicalSizeX": 0.2, "PhysicalSizeY": 0.2, "Channel": {"Name": ["DAPI", "GFP", "RFP"]}})
manifest["wide_untiled.ome.tif"] = dict(kind="ome-large", sizes=[1, 3, 2, 300, 9000], channels=["DAPI", "GFP", "RFP"])
original = (out / "wide_untiled.ome.tif").read_bytes()
for name, old, new, reason in [
    ("ome_wrong_ifd.ome.tif", b'IFD="0"', b'IFD="9"', "TiffData names IFD"),
    ("ome_wrong_size.ome.tif", b'SizeX="9000"', b'SizeX="9001"', "OME-XML says 9001x300"),
    ("ome_wrong_type.ome.tif", b'Type="uint16"', b'Type="uint32"', "does not match the uint16 pages"),
    ("ome_other_file.ome.tif", b'<TiffData IFD="0"', b'<TiffData><UUID FileName="elsewhere.ome.tif">urn:uuid:0</UUID></TiffData><TiffData IFD="0"', "multi-file"),
]:
    assert old in original, name
    # Same-length edits keep the offsets; the longer one is appended as a new description instead.
    if len(old) == len(new):
        (out / name).write_bytes(original.replace(old, new, 1))
    else:
        with tifffile.TiffFile(out / "wide_untiled.ome.tif") as tif:
            xml = tif.pages[0].description.encode().replace(old, new, 1).decode()
        tifffile.imwrite(out / name, wide, description=xml, metadata=None, rowsperstrip=32)
    manifest[name] = dict(kind="ome-bad", reason=reason)

print(json.dumps(manifest))
