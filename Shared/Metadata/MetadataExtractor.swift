public import FairwayImaging
public import FairwayXML
import Foundation

/// Reads the metadata of a TIFF-family file: OME-XML when present (parsed by the hardened
/// libxml2 wrapper), otherwise the ImageJ description and baseline tags.
public enum MetadataExtractor {
    /// With a `schema`, OME-XML that does not validate against it is refused.
    public static func extract(path: String, fileName: String? = nil, limits: TIFFLimits = TIFFLimits(), schema: XMLSchema? = nil) throws(TIFFError) -> ImageMetadata {
        let reader = try TIFFReader(path: path, limits: limits)
        let image = try SourceImage.inspect(reader)
        for directory in image.directories { try reader.checkDataWithinFile(directory.index) }
        let name = fileName ?? URL(fileURLWithPath: path).lastPathComponent
        var metadata = ImageMetadata(
            source: image.kind == .imagej ? "imagej" : "tiff-tags", imageName: nil, acquisitionDate: image.acquisitionDate,
            sizeX: image.sizeX, sizeY: image.sizeY, sizeZ: image.sizeZ, sizeC: image.sizeC, sizeT: image.sizeT,
            pixelType: image.pixelType.rawValue, dimensionOrder: "XYCZT", significantBits: image.significantBits,
            physicalSizeX: image.physicalSizeX, physicalSizeY: image.physicalSizeY, physicalSizeZ: image.physicalSizeZ,
            timeIncrement: image.timeIncrement,
            channels: image.channels.map { ImageMetadata.Channel(name: $0.name) },
            instrument: image.instrumentManufacturer == nil && image.instrumentModel == nil ? nil
                : ImageMetadata.Instrument(microscope: .init(manufacturer: image.instrumentManufacturer, model: image.instrumentModel)),
            experimenter: nil, software: image.software, annotations: [:], machineTags: [:], naming: FileNaming(fileName: name)
        )
        if image.kind == .ome, let description = image.directories.first?.description {
            do {
                try OMEMetadata.read(description, into: &metadata, schema: schema)
            } catch let invalid as OMEMetadata.SchemaInvalid {
                let more = invalid.errors.count - 1
                let further = more == 0 ? "" : " (and \(invalid.errors.count == XMLSchema.maxErrors ? "at least " : "")\(more) more error\(more == 1 ? "" : "s"))"
                throw TIFFError("\(path): OME-XML does not validate against \(invalid.schema): \(invalid.errors[0])\(further)")
            } catch {
                throw TIFFError("\(path): OME-XML: \(error)")
            }
        }
        metadata.machineTags = machineTags(metadata)
        return metadata
    }

    /// What OME-XML text alone says: the part of `extract` that reads a file's OME-XML (for the
    /// fuzz harness, and anyone holding OME-XML without its pixels).
    public static func metadata(fromOMEXML text: String, schema: XMLSchema? = nil) throws -> ImageMetadata {
        var metadata = ImageMetadata(
            source: "ome-xml", imageName: nil, acquisitionDate: nil, sizeX: 0, sizeY: 0, sizeZ: 1, sizeC: 1, sizeT: 1,
            pixelType: "", dimensionOrder: "XYCZT", significantBits: 0, physicalSizeX: nil, physicalSizeY: nil, physicalSizeZ: nil,
            timeIncrement: nil, channels: [], instrument: nil, experimenter: nil, software: nil, annotations: [:], machineTags: [:],
            naming: FileNaming(fileName: "metadata.ome.xml")
        )
        try OMEMetadata.read(text, into: &metadata, schema: schema)
        metadata.machineTags = machineTags(metadata)
        return metadata
    }

    static func machineTags(_ metadata: ImageMetadata) -> [String: String] {
        var tags: [String: String] = [:]
        if let microscope = metadata.instrument?.microscope {
            let words = [microscope.manufacturer, microscope.model].compactMap { $0 }
            if !words.isEmpty { tags["microscope"] = words.joined(separator: " ") }
        }
        if let software = metadata.software { tags["software"] = software }
        if let objective = metadata.instrument?.objectives.first?.model { tags["objective"] = objective }
        let lasers = metadata.instrument?.lightSources.filter { $0.kind == "Laser" }.compactMap { $0.wavelength.map { "\(Self.number($0)) nm" } } ?? []
        if !lasers.isEmpty { tags["lasers"] = lasers.joined(separator: ", ") }
        if let filters = metadata.instrument?.filters, !filters.isEmpty { tags["filters"] = filters.joined(separator: ", ") }
        if let date = metadata.acquisitionDate { tags["acquisitionDate"] = date }
        if let user = metadata.experimenter { tags["user"] = user }
        return tags
    }

    static func number(_ value: Double) -> String {
        value == value.rounded() && abs(value) < 1e15 ? String(Int(value)) : String(value)
    }
}

/// The OME-XML elements the metadata step reads (2016-06 schema names), units normalised.
enum OMEMetadata {
    struct Invalid: Error, CustomStringConvertible { let description: String }
    /// The schema's errors: never empty.
    struct SchemaInvalid: Error { let schema: String; let errors: [XMLError] }

    static func read(_ text: String, into metadata: inout ImageMetadata, schema: XMLSchema? = nil) throws -> Void {
        let document = try XMLDocument(parsing: text)
        if let schema {
            let errors = schema.validate(document)
            if !errors.isEmpty { throw SchemaInvalid(schema: schema.path, errors: errors) }
        }
        let root = document.root
        guard root.name == "OME" else { throw Invalid(description: "root element is \(root.name.prefix(40)), not OME") }
        guard let image = root.first("Image"), let pixels = image.first("Pixels") else { throw Invalid(description: "no Image with Pixels") }
        metadata.source = "ome-xml"
        metadata.imageName = image["Name"]
        if let date = image.first("AcquisitionDate")?.text, !date.isEmpty { metadata.acquisitionDate = String(date.prefix(40)) }
        func count(_ name: String) throws -> Int {
            guard let value = pixels[name].flatMap(Int.init), value > 0 else { throw Invalid(description: "Pixels \(name)=\(pixels[name]?.prefix(20) ?? "missing") is not a positive count") }
            return value
        }
        metadata.sizeX = try count("SizeX")
        metadata.sizeY = try count("SizeY")
        metadata.sizeZ = try count("SizeZ")
        metadata.sizeC = try count("SizeC")
        metadata.sizeT = try count("SizeT")
        if let type = pixels["Type"] { metadata.pixelType = type }
        if let order = pixels["DimensionOrder"] { metadata.dimensionOrder = order }
        if let bits = pixels["SignificantBits"].flatMap(Int.init) { metadata.significantBits = bits }
        metadata.physicalSizeX = length(pixels, "PhysicalSizeX")
        metadata.physicalSizeY = length(pixels, "PhysicalSizeY")
        metadata.physicalSizeZ = length(pixels, "PhysicalSizeZ")
        metadata.timeIncrement = seconds(pixels, "TimeIncrement")
        metadata.channels = pixels.children(named: "Channel").map { channel in
            ImageMetadata.Channel(name: channel["Name"], emissionWavelength: wavelength(channel, "EmissionWavelength"),
                                  excitationWavelength: wavelength(channel, "ExcitationWavelength"), fluor: channel["Fluor"])
        }
        let instruments = root.children(named: "Instrument")
        let referenced = image.first("InstrumentRef")?["ID"]
        if let instrument = instruments.first(where: { $0["ID"] == referenced }) ?? instruments.first {
            metadata.instrument = ImageMetadata.Instrument(
                microscope: instrument.first("Microscope").map { .init(manufacturer: $0["Manufacturer"], model: $0["Model"], type: $0["Type"]) },
                objectives: instrument.children(named: "Objective").map {
                    .init(manufacturer: $0["Manufacturer"], model: $0["Model"], nominalMagnification: $0["NominalMagnification"].flatMap(Double.init),
                          lensNA: $0["LensNA"].flatMap(Double.init), immersion: $0["Immersion"])
                },
                detectors: instrument.children(named: "Detector").map { .init(manufacturer: $0["Manufacturer"], model: $0["Model"], type: $0["Type"]) },
                lightSources: instrument.children.compactMap { element in
                    guard ["Laser", "Arc", "Filament", "LightEmittingDiode", "GenericExcitationSource"].contains(element.name) else { return nil }
                    return .init(kind: element.name, model: element["Model"], wavelength: wavelength(element, "Wavelength"))
                },
                filters: instrument.children(named: "Filter").compactMap { $0["Model"] ?? $0["ID"] }
            )
        }
        let experimenters = root.children(named: "Experimenter")
        let person = image.first("ExperimenterRef")?["ID"]
        if let experimenter = experimenters.first(where: { $0["ID"] == person }) ?? experimenters.first {
            metadata.experimenter = experimenter["UserName"] ?? [experimenter["FirstName"], experimenter["LastName"]].compactMap { $0 }.joined(separator: " ")
        }
        for map in root.first("StructuredAnnotations")?.children(named: "MapAnnotation") ?? [] {
            for pair in map.first("Value")?.children(named: "M") ?? [] {
                if let key = pair["K"] { metadata.annotations[String(key.prefix(256))] = String(pair.text.prefix(4096)) }
            }
        }
        if metadata.software == nil, let creator = root["Creator"] { metadata.software = creator }
    }

    /// A length attribute in micrometres (the OME default unit), converted from its `…Unit`.
    static func length(_ element: XMLElement, _ name: String) -> Double? {
        guard let value = element[name].flatMap(Double.init), value.isFinite, value > 0 else { return nil }
        let scale: Double? = switch element[name + "Unit"] ?? "µm" {
        case "µm", "um", "μm": 1
        case "nm": 1e-3
        case "Å": 1e-4
        case "pm": 1e-6
        case "mm": 1e3
        case "cm": 1e4
        case "m": 1e6
        default: nil
        }
        return scale.map { value * $0 }
    }

    /// A wavelength in nanometres (the OME default unit).
    static func wavelength(_ element: XMLElement, _ name: String) -> Double? {
        guard let value = element[name].flatMap(Double.init), value.isFinite, value > 0 else { return nil }
        switch element[name + "Unit"] ?? "nm" {
        case "nm": return value
        case "µm", "um": return value * 1e3
        case "Å": return value / 10
        case "pm": return value / 1e3
        default: return nil
        }
    }

    /// A time in seconds (the OME default unit).
    static func seconds(_ element: XMLElement, _ name: String) -> Double? {
        guard let value = element[name].flatMap(Double.init), value.isFinite, value >= 0 else { return nil }
        switch element[name + "Unit"] ?? "s" {
        case "s": return value
        case "ms": return value / 1e3
        case "µs", "us": return value / 1e6
        case "min": return value * 60
        case "h": return value * 3600
        default: return nil
        }
    }
}
