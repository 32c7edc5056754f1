"""Metadata parse and extract + store figures: fairway-metadata against ome-types, same files, same run.

Usage: metadata_bench.py FAIRWAY_METADATA WORKDIR DATABASE_URL FILES"""
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import ome_types
import tifffile

binary, work, url, count = sys.argv[1], Path(sys.argv[2]), sys.argv[3], int(sys.argv[4])
folder = work / "files"
folder.mkdir(parents=True, exist_ok=True)
NS = "http://www.openmicroscopy.org/Schemas/OME/2016-06"


def description(i):
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<OME xmlns="{NS}" Creator="bench">
  <Experimenter ID="Experimenter:0" UserName="user{i % 7}"/>
  <Instrument ID="Instrument:0">
    <Microscope Manufacturer="Leica" Model="SP{i % 9}"/>
    <Laser ID="LightSource:0" Wavelength="488"/><Laser ID="LightSource:1" Wavelength="561"/>
    <Detector ID="Detector:0" Model="HyD"/>
    <Objective ID="Objective:0" Model="HC PL APO 63x/1.40 OIL" NominalMagnification="63" LensNA="1.4" Immersion="Oil"/>
    <Filter ID="Filter:0" Model="BP 525/50"/>
  </Instrument>
  <Image ID="Image:0" Name="bench {i}">
    <AcquisitionDate>2025-03-{1 + i % 28:02d}T10:00:00</AcquisitionDate>
    <ExperimenterRef ID="Experimenter:0"/><InstrumentRef ID="Instrument:0"/>
    <Pixels ID="Pixels:0" DimensionOrder="XYCZT" Type="uint16" SignificantBits="12" SizeX="64" SizeY="64" SizeZ="1" SizeC="2" SizeT="1"
            PhysicalSizeX="0.1" PhysicalSizeY="0.1">
      <Channel ID="Channel:0:0" Name="GFP" SamplesPerPixel="1" EmissionWavelength="509"/>
      <Channel ID="Channel:0:1" Name="mCherry" SamplesPerPixel="1" EmissionWavelength="610"/>
      <TiffData/>
    </Pixels>
  </Image>
  <StructuredAnnotations><MapAnnotation ID="Annotation:0"><Value><M K="Scan speed">400 Hz</M><M K="Run">{i}</M></Value></MapAnnotation></StructuredAnnotations>
</OME>"""


existing = sorted(folder.glob("*.ome.tif"))
if len(existing) != count:
    for path in existing:
        path.unlink()
    print(f"== writing {count} OME-TIFFs to {folder}", file=sys.stderr)
    data = np.zeros((2, 64, 64), np.uint16)
    for i in range(count):
        tifffile.imwrite(folder / f"2025-03-14_sample{i:05d}.ome.tif", data, description=description(i).encode(), metadata=None)
files = sorted(folder.glob("*.ome.tif"))

subprocess.run(["sync"])
start = time.perf_counter()
for path in files:
    ome_types.from_tiff(path)
reference_us = (time.perf_counter() - start) / len(files) * 1e6
print(json.dumps({"reader": "ome_types.from_tiff", "files": len(files), "parse_us_per_file": round(reference_us, 1)}))

ours = subprocess.run([binary, "benchmark", str(folder), "--database-url", url], capture_output=True, text=True)
if ours.returncode != 0:
    sys.exit(f"fairway-metadata benchmark failed: {ours.stderr.strip()[-2000:]}")
figures = json.loads(ours.stdout.strip().splitlines()[-1])
print(json.dumps({"reader": "fairway-metadata", **figures}))
ratio = reference_us / figures["parse_us_per_file"]
rate = figures["extract_store_files_per_s"]
print(f"parse: fairway-metadata {figures['parse_us_per_file']} us/file, ome-types {reference_us:.1f} us/file: {ratio:.1f}x"
      f" ({'PASS' if ratio >= 10 else 'BELOW'} >= 10x)")
print(f"extract + store: {float(rate):.0f} files/s ({'PASS' if float(rate) >= 1000 else 'BELOW'} >= 1000)")
