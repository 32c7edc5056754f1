"""Writes the metadata step's test inputs into OUTDIR and prints, as JSON, what ome-types (an
independent reader) finds in each good one, and the words each hostile one must be refused with.

Usage: make_metadata_cases.py OUTDIR"""
import json
import sys
from pathlib import Path

import numpy as np
import ome_types
import tifffile

out = Path(sys.argv[1])
out.mkdir(parents=True, exist_ok=True)
NS = "http://www.openmicroscopy.org/Schemas/OME/2016-06"
pixels = np.zeros((2, 2, 16, 24), np.uint16)

RICH = f"""<?xml version="1.0" encoding="UTF-8"?>
<OME xmlns="{NS}" Creator="ZEN 3.8">
  <Experimenter ID="Experimenter:0" FirstName="Jean" LastName="Dupont" UserName="jdupont"/>
  <Instrument ID="Instrument:0">
    <Microscope Manufacturer="Leica" Model="SP8" Type="Upright"/>
    <Laser ID="LightSource:0" Model="Argon" Wavelength="488" WavelengthUnit="nm"/>
    <Laser ID="LightSource:1" Model="DPSS" Wavelength="0.561" WavelengthUnit="µm"/>
    <Detector ID="Detector:0" Manufacturer="Leica" Model="HyD" Type="Other"/>
    <Objective ID="Objective:0" Manufacturer="Leica" Model="HC PL APO 40x/1.30 OIL" NominalMagnification="40" LensNA="1.3" Immersion="Oil"/>
    <Filter ID="Filter:0" Model="BP 525/50"/>
  </Instrument>
  <Image ID="Image:0" Name="rich &amp; &lt;named&gt;">
    <AcquisitionDate>2025-03-14T15:09:26</AcquisitionDate>
    <ExperimenterRef ID="Experimenter:0"/>
    <InstrumentRef ID="Instrument:0"/>
    <Pixels ID="Pixels:0" DimensionOrder="XYCZT" Type="uint16" SignificantBits="12" SizeX="24" SizeY="16" SizeZ="2" SizeC="2" SizeT="1"
            PhysicalSizeX="162.5" PhysicalSizeXUnit="nm" PhysicalSizeY="0.1625" PhysicalSizeZ="0.0005" PhysicalSizeZUnit="mm"
            TimeIncrement="500" TimeIncrementUnit="ms">
      <Channel ID="Channel:0:0" Name="GFP" SamplesPerPixel="1" ExcitationWavelength="488" EmissionWavelength="509" Fluor="EGFP"/>
      <Channel ID="Channel:0:1" Name="mCherry" SamplesPerPixel="1" ExcitationWavelength="561" EmissionWavelength="0.61" EmissionWavelengthUnit="µm"/>
      <TiffData/>
    </Pixels>
  </Image>
  <StructuredAnnotations>
    <MapAnnotation ID="Annotation:0"><Value><M K="Scan speed">400 Hz</M><M K="Pinhole">1 AU</M></Value></MapAnnotation>
  </StructuredAnnotations>
</OME>"""


def write(name, description, data=pixels):
    tifffile.imwrite(out / name, data.reshape(-1, *data.shape[-2:]), description=description.encode(), metadata=None)


cases = {}
write("2025-03-14_rich.ome.tif", RICH)
ome = ome_types.from_xml(RICH)
p = ome.images[0].pixels
micro = {"nm": 1e-3, "µm": 1.0, "mm": 1e3}
cases["2025-03-14_rich.ome.tif"] = dict(kind="good", expect={
    "sizes": [p.size_x, p.size_y, p.size_z, p.size_c, p.size_t],
    "pixelType": p.type.value, "dimensionOrder": p.dimension_order.value, "significantBits": p.significant_bits,
    "physical": [p.physical_size_x * micro[p.physical_size_x_unit.value], p.physical_size_y * micro[p.physical_size_y_unit.value],
                 p.physical_size_z * micro[p.physical_size_z_unit.value]],
    "timeIncrement": p.time_increment / 1000 if p.time_increment_unit.value == "ms" else p.time_increment,
    "channels": [c.name for c in p.channels],
    "emission": [c.emission_wavelength * (1000 if c.emission_wavelength_unit.value == "µm" else 1) for c in p.channels],
    "excitation": [c.excitation_wavelength for c in p.channels],
    "imageName": ome.images[0].name,
    "acquisitionDate": ome.images[0].acquisition_date.isoformat(),
    "microscope": [ome.instruments[0].microscope.manufacturer, ome.instruments[0].microscope.model],
    "objective": [ome.instruments[0].objectives[0].model, ome.instruments[0].objectives[0].nominal_magnification, ome.instruments[0].objectives[0].lens_na],
    "lasers": [ls.wavelength * (1000 if ls.wavelength_unit.value == "µm" else 1) for ls in ome.instruments[0].lasers],
    "experimenter": ome.experimenters[0].user_name,
    "annotations": {m.k: m.value for m in ome.structured_annotations.map_annotations[0].value.ms},
})

# Hostile OME-XML. Each must be refused with the words given, quickly, reading no file and no URL.
hostile = {
    "xxe_file.ome.tif": (f'<?xml version="1.0"?><!DOCTYPE OME [<!ENTITY x SYSTEM "file:///etc/passwd">]><OME xmlns="{NS}">&x;</OME>', "DTD"),
    "xxe_http.ome.tif": (f'<?xml version="1.0"?><!DOCTYPE OME [<!ENTITY x SYSTEM "http://127.0.0.1:9/x">]><OME xmlns="{NS}">&x;</OME>', "DTD"),
    "billion_laughs.ome.tif": ('<?xml version="1.0"?><!DOCTYPE OME [' + '<!ENTITY a0 "ha">' + "".join(f'<!ENTITY a{i} "' + f"&a{i - 1};" * 10 + '">' for i in range(1, 10))
                               + f']><OME xmlns="{NS}">&a9;</OME>', "DTD"),
    "deep.ome.tif": (f'<OME xmlns="{NS}">' + "<a>" * 10000 + "</a>" * 10000 + "</OME>", "nested deeper than 256 levels"),
    "huge_attribute.ome.tif": (f'<OME xmlns="{NS}" Creator="' + "x" * (100 << 20) + '"/>', "over the"),
    "not_ome_root.ome.tif": (f'<Screen xmlns="{NS}"><OME/></Screen>', "root element is Screen"),
    "no_image.ome.tif": (f'<OME xmlns="{NS}"/>', "no Image"),
    "bad_size.ome.tif": (f'<OME xmlns="{NS}"><Image ID="Image:0"><Pixels ID="Pixels:0" DimensionOrder="XYZCT" Type="uint16" SizeX="-3" SizeY="16" SizeZ="1" SizeC="1" SizeT="1"/></Image></OME>', "SizeX=-3"),
}
for name, (text, words) in hostile.items():
    write(name, text)
    cases[name] = dict(kind="bad", reason=words)
# Invalid UTF-8 inside the description: the bytes are patched after writing.
text = f'<OME xmlns="{NS}"><Image ID="Image:0" Name="ZZZZ"/></OME>'
write("invalid_utf8.ome.tif", text)
raw = (out / "invalid_utf8.ome.tif").read_bytes().replace(b"ZZZZ", b"\xff\xfe\xc3\x28", 1)
(out / "invalid_utf8.ome.tif").write_bytes(raw)
cases["invalid_utf8.ome.tif"] = dict(kind="bad", reason="UTF-8")
print(json.dumps(cases))
