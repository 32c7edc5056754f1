public import Foundation
import FairwayXML

/// The OME-XML (2016-06 schema) a converted file carries in its first ImageDescription.
public struct OMEXML: Sendable {
    public static let namespace = "http://www.openmicroscopy.org/Schemas/OME/2016-06"
    /// Namespace of the MapAnnotation that records where a derived image came from.
    public static let provenanceNamespace = "fairway/converter/provenance"

    public var uuid: UUID
    public var creator: String
    public var imageName: String
    public var image: SourceImage
    /// Key-value pairs of the provenance annotation, in order.
    public var provenance: [(key: String, value: String)]

    public init(uuid: UUID = UUID(), creator: String, imageName: String, image: SourceImage, provenance: [(key: String, value: String)]) {
        self.uuid = uuid; self.creator = creator; self.imageName = imageName; self.image = image; self.provenance = provenance
    }

    /// Planes are stored one per IFD in XYCZT order, IFD n holding plane n.
    public var text: String {
        var xml = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
        xml += "<OME xmlns=\"\(Self.namespace)\" xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\""
        xml += " xsi:schemaLocation=\"\(Self.namespace) \(Self.namespace)/ome.xsd\""
        xml += " UUID=\"urn:uuid:\(uuid.uuidString.lowercased())\" Creator=\(attribute(creator))>\n"
        let hasInstrument = image.instrumentManufacturer != nil || image.instrumentModel != nil
        if hasInstrument {
            xml += "  <Instrument ID=\"Instrument:0\"><Microscope"
            if let manufacturer = image.instrumentManufacturer { xml += " Manufacturer=\(attribute(manufacturer))" }
            if let model = image.instrumentModel { xml += " Model=\(attribute(model))" }
            xml += "/></Instrument>\n"
        }
        xml += "  <Image ID=\"Image:0\" Name=\(attribute(imageName))>\n"
        if let date = image.acquisitionDate { xml += "    <AcquisitionDate>\(date)</AcquisitionDate>\n" }
        if hasInstrument { xml += "    <InstrumentRef ID=\"Instrument:0\"/>\n" }
        xml += "    <Pixels ID=\"Pixels:0\" DimensionOrder=\"XYCZT\" Type=\"\(image.pixelType.rawValue)\""
        xml += " SignificantBits=\"\(image.significantBits)\" Interleaved=\"false\" BigEndian=\"false\""
        xml += " SizeX=\"\(image.sizeX)\" SizeY=\"\(image.sizeY)\" SizeZ=\"\(image.sizeZ)\" SizeC=\"\(image.sizeC)\" SizeT=\"\(image.sizeT)\""
        for (name, value) in [("X", image.physicalSizeX), ("Y", image.physicalSizeY), ("Z", image.physicalSizeZ)] {
            if let value, value.isFinite, value > 0 { xml += " PhysicalSize\(name)=\"\(value)\" PhysicalSize\(name)Unit=\"µm\"" }
        }
        if let increment = image.timeIncrement, increment.isFinite { xml += " TimeIncrement=\"\(increment)\" TimeIncrementUnit=\"s\"" }
        xml += ">\n"
        for (index, channel) in image.channels.enumerated() {
            xml += "      <Channel ID=\"Channel:0:\(index)\" SamplesPerPixel=\"\(channel.samplesPerPixel)\""
            if let name = channel.name { xml += " Name=\(attribute(name))" }
            if let color = channel.color { xml += " Color=\"\(color)\"" }
            xml += "/>\n"
        }
        var plane = 0
        for t in 0 ..< image.sizeT {
            for z in 0 ..< image.sizeZ {
                for c in 0 ..< image.sizeC {
                    xml += "      <TiffData IFD=\"\(plane)\" FirstC=\"\(c)\" FirstZ=\"\(z)\" FirstT=\"\(t)\" PlaneCount=\"1\"/>\n"
                    plane += 1
                }
            }
        }
        xml += "    </Pixels>\n"
        if !provenance.isEmpty { xml += "    <AnnotationRef ID=\"Annotation:Provenance:0\"/>\n" }
        xml += "  </Image>\n"
        if !provenance.isEmpty {
            xml += "  <StructuredAnnotations>\n"
            xml += "    <MapAnnotation ID=\"Annotation:Provenance:0\" Namespace=\"\(Self.provenanceNamespace)\"><Value>\n"
            for (key, value) in provenance { xml += "      <M K=\(attribute(key))>\(escaped(value))</M>\n" }
            xml += "    </Value></MapAnnotation>\n"
            xml += "  </StructuredAnnotations>\n"
        }
        xml += "</OME>\n"
        return xml
    }

    private func attribute(_ value: String) -> String { "\"" + escaped(value) + "\"" }

    /// Escapes markup and drops what XML 1.0 cannot carry at all (most control characters).
    private func escaped(_ value: String) -> String { XMLNode.escaped(value, quotes: true) }
}
