import ArgumentParser
import FairwayImaging
import FairwayMetadata
import FairwayXML
import Foundation

/// `fairway-metadata extract FILE`: the metadata of one file, no bus and no database — what
/// operators debug with and what tests and benchmarks drive (like Bio-Formats' showinf).
struct ExtractCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "extract",
        abstract: "Print the metadata of one TIFF, ImageJ or OME-TIFF file.",
        discussion: """
        Reads OME-XML when present (libxml2 with the network off, no DTD, no entity substitution), \
        otherwise the ImageJ description and baseline TIFF tags. Physical sizes are in µm, \
        wavelengths in nm, the time increment in s. With FAIRWAY_OME_XSD set to an OME XSD file \
        on this host (e.g. ome-2016-06.xsd), OME-XML that does not validate against it is refused; \
        the schema and its imports are read from local files only. Exit status: 0 printed; 1 the \
        file or its metadata cannot be read, or the schema cannot be loaded (one line on stderr); \
        64 bad arguments.
        """
    )

    @Argument(help: "The file to read.") var file: String
    @Flag(help: "Print one JSON object (keys with unknown values are null).") var json = false
    @Option(help: "A file-naming pattern to read the name with, e.g. '{date:yyyy-MM-dd}_{sample}_v{version}'.") var namingPattern: String?

    func validate() throws {
        if let namingPattern {
            do { _ = try NamingPattern(namingPattern) } catch { throw ValidationError("--naming-pattern: \(error.description)") }
        }
    }

    /// Keys always present in the JSON, null when the file does not say.
    static let alwaysPresent = ["imageName", "acquisitionDate", "physicalSizeX", "physicalSizeY", "physicalSizeZ",
                                "timeIncrement", "instrument", "experimenter", "software"]

    func run() throws {
        var schema: XMLSchema?
        if let xsd = ProcessInfo.processInfo.environment["FAIRWAY_OME_XSD"], !xsd.isEmpty {
            do {
                schema = try XMLSchema(path: xsd)
            } catch {
                FileHandle.standardError.write(Data("fairway-metadata: FAIRWAY_OME_XSD=\(xsd): cannot load the schema: \(error.description.replacingOccurrences(of: "\n", with: " "))\n".utf8))
                throw ExitCode(1)
            }
        }
        var metadata: ImageMetadata
        do {
            metadata = try MetadataExtractor.extract(path: file, schema: schema)
            if let namingPattern {
                metadata.naming = FileNaming(fileName: metadata.naming.name, pattern: try? NamingPattern(namingPattern))
            }
        } catch {
            FileHandle.standardError.write(Data("fairway-metadata: \(error.description.replacingOccurrences(of: "\n", with: " "))\n".utf8))
            throw ExitCode(1)
        }
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            var object = (try JSONSerialization.jsonObject(with: try encoder.encode(metadata)) as? [String: Any]) ?? [:]
            for key in Self.alwaysPresent where object[key] == nil { object[key] = NSNull() }
            print(String(decoding: try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes]), as: UTF8.self))
        } else {
            print(Self.summary(metadata))
        }
    }

    static func summary(_ m: ImageMetadata) -> String {
        func micrometres(_ value: Double?) -> String { value.map { "\($0) µm" } ?? "?" }
        var lines = [
            "\(m.naming.name) (\(m.source))",
            "  pixels      \(m.sizeX) x \(m.sizeY), Z=\(m.sizeZ) C=\(m.sizeC) T=\(m.sizeT), \(m.pixelType) (\(m.significantBits) bits), \(m.dimensionOrder)",
            "  pixel size  \(micrometres(m.physicalSizeX)) x \(micrometres(m.physicalSizeY)), z \(micrometres(m.physicalSizeZ))",
            "  channels    " + (m.channels.isEmpty ? "-" : m.channels.enumerated().map { "\($0.element.name ?? "#\($0.offset)")" + ($0.element.emissionWavelength.map { " (em \($0) nm)" } ?? "") }.joined(separator: ", ")),
        ]
        for (key, value) in m.machineTags.sorted(by: { $0.key < $1.key }) { lines.append("  \(key.padding(toLength: 11, withPad: " ", startingAt: 0)) \(value)") }
        lines.append("  naming      " + (m.naming.flags.isEmpty ? "follows the rules" : m.naming.flags.joined(separator: "; ")))
        return lines.joined(separator: "\n")
    }
}
