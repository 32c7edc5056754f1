"""Stands in for an operator's external converter (e.g. Bio-Formats bfconvert) in tests.

Usage: fake_bfconvert.py INPUT OUTPUT
Writes a small OME-TIFF with tifffile, unless the input asks otherwise: a file containing FAIL makes
it print an error and exit 2; SLEEP makes it hang (for the timeout); NOTOME makes it write a plain
TIFF without OME-XML."""
import sys
import time

import numpy as np
import tifffile

source, output = sys.argv[1], sys.argv[2]
content = open(source, "rb").read()
if b"FAIL" in content:
    print("Exception in thread main: loci.formats.FormatException: unreadable test file", file=sys.stderr)
    sys.exit(2)
if b"SLEEP" in content:
    time.sleep(600)
image = (np.arange(3 * 40 * 50, dtype=np.uint16).reshape(3, 40, 50) * 7) % 4096
if b"NOTOME" in content:
    tifffile.imwrite(output, image, ome=False)
else:
    tifffile.imwrite(output, image, ome=True, metadata={"axes": "CYX", "Channel": {"Name": ["A", "B", "C"]}})
