import FairwayContracts
import FairwayDataCite
import FairwayImaging
import FairwayMetadata
import FairwayStorage
import Foundation

/// One parser of outside data, driven by arbitrary bytes. A harness returns normally for a value
/// that keeps the parser's promises or for an error; it traps (`fatalError`) when a promise is
/// broken, which libFuzzer reports as a crash along with any memory error ASan finds.
struct Harness: Sendable {
    let name: String
    let run: @Sendable ([UInt8]) -> Void

    static let all: [Harness] = [tiff, omeXML, messages, paths, dataCite]

    static func named(_ name: String) -> Harness? { all.first { $0.name == name } }

    // MARK: - TIFF reader (libtiff behind size checks)

    /// The bytes as a file, read like the converter and the metadata step read theirs: every
    /// directory decoded (each plane exactly its announced size), then the metadata extracted.
    static let tiff = Harness(name: "tiff") { bytes in
        let path = scratchFile
        guard FileManager.default.createFile(atPath: path, contents: Data(bytes)) else { fatalError("cannot write \(path)") }
        var limits = TIFFLimits()
        limits.maxPlaneBytes = 16 << 20
        limits.maxSingleAllocation = 16 << 20
        limits.maxImageBytes = 64 << 20
        do {
            let reader = try TIFFReader(path: path, limits: limits)
            for directory in try reader.directories() {
                let plane = try reader.readDirectory(directory.index)
                if Int64(plane.count) != directory.decodedBytes { fatalError("plane of \(plane.count) bytes, \(directory.decodedBytes) announced") }
            }
        } catch {
            if "\(error)".isEmpty { fatalError("an error without a message") }
        }
        do {
            let metadata = try MetadataExtractor.extract(path: path, fileName: "fuzz.ome.tif", limits: limits)
            if metadata.sizeX < 0 || metadata.sizeY < 0 { fatalError("negative size \(metadata.sizeX) x \(metadata.sizeY)") }
        } catch {
            if "\(error)".isEmpty { fatalError("an error without a message") }
        }
    }

    // MARK: - OME-XML (libxml2, hardened)

    static let omeXML = Harness(name: "ome-xml") { bytes in
        let text = String(decoding: bytes, as: UTF8.self)
        do {
            let metadata = try MetadataExtractor.metadata(fromOMEXML: text)
            for channel in metadata.channels where channel.name?.utf8.count ?? 0 > bytes.count {
                fatalError("a channel name longer than the document")
            }
        } catch {
            if "\(error)".isEmpty { fatalError("an error without a message") }
        }
    }

    // MARK: - Messages (AMQP bodies and HTTP acquisition events) and traceparent headers

    static let messages = Harness(name: "messages") { bytes in
        decode(AcquisitionCompleted.self, bytes) { event in
            // Decoding is lenient; `validate` is what intake relies on, and it must name what is wrong.
            do {
                try event.validate()
            } catch {
                if "\(error)".isEmpty { fatalError("a refusal without a message") }
                return
            }
            if event.zone.isEmpty || event.path.isEmpty { fatalError("an event without zone or path validated") }
            if event.path.split(separator: "/").contains("..") { fatalError("an event with '..' validated: \(event.path)") }
        }
        decode(ObjectRegistered.self, bytes) { _ in }
        decode(ObjectConverted.self, bytes) { _ in }
        decode(MetadataExtracted.self, bytes) { _ in }
        decode(QCScored.self, bytes) { _ in }
        decode(DatasetPublishRequested.self, bytes) { _ in }
        decode(DOIRegistered.self, bytes) { _ in }
        if let header = TraceParent(String(decoding: bytes.prefix(600), as: UTF8.self)) {
            if TraceParent(header.description) != header { fatalError("traceparent \(header) does not read back") }
            if header.traceID == String(repeating: "0", count: 32) { fatalError("a zero trace id accepted") }
        }
    }

    static func decode<Payload: FairwayMessage>(_ type: Payload.Type, _ bytes: [UInt8], check: (Payload) -> Void) {
        do {
            check(try MessageCodec.decode(type, from: bytes, checkType: false))
        } catch {
            if "\(error)".isEmpty { fatalError("a contract error without a message") }
        }
    }

    // MARK: - Paths from outside, confined to a zone

    /// A zone with a folder, a file, and symbolic links that point out of it: an accepted path
    /// never has an empty, `.` or `..` component, and never resolves outside the zone.
    static let paths = Harness(name: "paths") { bytes in
        let text = String(decoding: bytes, as: UTF8.self)
        guard let relative = try? RelativePath(text) else { return }
        if relative.description.hasPrefix("/") { fatalError("absolute path accepted: \(relative)") }
        if relative.components.contains(where: { $0.isEmpty || $0 == "." || $0 == ".." }) { fatalError("component escapes: \(relative.components)") }
        if let resolved = try? zone.resolve(relative), !zone.contains(resolved.physical) {
            fatalError("\(relative) resolves outside the zone")
        }
    }

    // MARK: - DataCite answers

    static let dataCite = Harness(name: "datacite") { bytes in
        let statuses = [200, 201, 204, 400, 401, 403, 404, 405, 409, 422, 429, 500, 502, 503]
        let status = statuses[Int(bytes.first ?? 0) % statuses.count]
        let method = ["GET", "PUT", "DELETE"][Int(bytes.dropFirst().first ?? 0) % 3]
        let retryAfter = bytes.count > 2 && bytes[2] & 1 == 1 ? String(decoding: bytes.dropFirst(3).prefix(16), as: UTF8.self) : nil
        let outcome = DataCiteAnswer.outcome(method: method, status: status, body: Data(bytes.dropFirst(3)), retryAfter: retryAfter)
        if String(describing: outcome).isEmpty { fatalError("an outcome that says nothing") }
    }

    // MARK: - Scratch

    static let scratchFolder: String = {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("fairway-fuzz-\(getpid())").path
        try? FileManager.default.createDirectory(atPath: folder + "/zone/run/a", withIntermediateDirectories: true)
        _ = FileManager.default.createFile(atPath: folder + "/zone/run/a/img.tif", contents: Data([0x49, 0x49, 0x2A, 0]))
        _ = FileManager.default.createFile(atPath: folder + "/outside.tif", contents: Data([1]))
        try? FileManager.default.createSymbolicLink(atPath: folder + "/zone/run/up", withDestinationPath: "../..")
        try? FileManager.default.createSymbolicLink(atPath: folder + "/zone/run/etc", withDestinationPath: "/etc")
        try? FileManager.default.createSymbolicLink(atPath: folder + "/zone/escape.tif", withDestinationPath: folder + "/outside.tif")
        return folder
    }()

    static var scratchFile: String { scratchFolder + "/input.tif" }

    static let zone: ZoneRoot = {
        guard let root = try? ZoneRoot(canonicalizing: scratchFolder + "/zone") else { fatalError("no scratch zone") }
        return root
    }()
}
