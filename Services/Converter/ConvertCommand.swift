import ArgumentParser
import Crypto
import FairwayImaging
import Foundation

/// `fairway-converter convert IN OUT`: one conversion on local files, no bus and no database — what
/// operators debug with and what tests and benchmarks drive.
struct ConvertCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "convert",
        abstract: "Convert one TIFF-family file to a tiled, pyramidal OME-TIFF (BigTIFF).",
        discussion: """
        Reads TIFF and BigTIFF (striped or tiled, any compression libtiff decodes), multi-page stacks \
        (as Z) and ImageJ hyperstacks (axes and calibration from the ImageJ description). Writes one \
        plane per IFD in XYCZT order with the reduced levels in SubIFDs, halving until the longest \
        side is at most 256 pixels. OUT appears only when complete (written under a temporary name, \
        synced, renamed).

        Exit status: 0 written; 1 the input cannot be converted or OUT cannot be written (one line \
        on stderr, no OUT left behind); 3 the input is already OME-TIFF and is kept as it is \
        (nothing written; --ome-pyramid-above makes a tiled copy of large untiled ones); 64 bad arguments.
        """
    )

    @Argument(help: "The TIFF to convert.") var input: String
    @Argument(help: "The OME-TIFF to write (replaced if it exists).") var output: String
    @Option(help: "Tile compression: none, lzw, deflate or zstd.") var compression: String = TileCompression.default.codec.rawValue
    @Option(help: "Compression level (deflate 1-12, default 6; zstd 1-19, default 3).") var level: Int?
    @Flag(help: "Do not apply the horizontal predictor to integer pixels before compressing.") var noPredictor = false
    @Option(help: "Tile width and height in pixels, a multiple of 16.") var tile = 512
    @Option(help: "Threads compressing tiles (default: every core).") var workers: Int?
    @Option(help: "Refuse images whose decoded size exceeds this many bytes (the pixel budget).") var maxImageBytes: Int64?
    @Option(help: "Make a pyramidal copy of an OME-TIFF (keeping its OME-XML) when it is untiled and its longest side exceeds this many pixels.")
    var omePyramidAbove: Int?
    @Option(help: "Source object id written into the provenance annotation.") var sourceID: String?
    @Option(help: "Source checksum (sha2:...) for the provenance annotation; computed from IN when omitted.") var sourceSha2: String?
    @Flag(help: "Print the report as JSON.") var json = false

    func validate() throws {
        guard TileCompression.Codec(rawValue: compression) != nil else {
            throw ValidationError("--compression must be one of \(TileCompression.Codec.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        guard tile >= 16, tile <= 8192, tile % 16 == 0 else { throw ValidationError("--tile must be a multiple of 16 between 16 and 8192") }
        if let workers, workers < 1 { throw ValidationError("--workers must be at least 1") }
    }

    func run() throws {
        var options = ConversionOptions()
        options.compression = TileCompression(codec: TileCompression.Codec(rawValue: compression)!, level: level, predictor: !noPredictor)
        options.tileSize = tile
        if let workers { options.workers = workers }
        if let maxImageBytes { options.limits.maxImageBytes = maxImageBytes }
        options.omePyramidAbove = omePyramidAbove
        do {
            let conversion = try OMETIFFConversion(input: input, options: options)
            if conversion.source.kind == .ome, !conversion.rewritesOME {
                FileHandle.standardError.write(Data("fairway-converter: \(input) is already OME-TIFF; kept as the image of record, nothing written\n".utf8))
                throw ExitCode(3)
            }
            let checksum = try sourceSha2 ?? Self.sha2(of: input)
            let report = try conversion.write(to: output, provenance: Provenance.entries(
                sourceObject: sourceID, sourcePath: input, sourceChecksum: checksum, sourceKind: conversion.source.kind, options: options
            ))
            print(json ? report.json : report.line)
            if let warning = conversion.warning { FileHandle.standardError.write(Data("fairway-converter: warning: \(warning)\n".utf8)) }
        } catch let error as TIFFError {
            FileHandle.standardError.write(Data("fairway-converter: \(error.description.replacingOccurrences(of: "\n", with: " "))\n".utf8))
            throw ExitCode(1)
        }
    }

    /// The iRODS-style checksum of a whole file, streamed.
    static func sha2(of path: String) throws(TIFFError) -> String {
        guard let handle = FileHandle(forReadingAtPath: path) else { throw TIFFError("\(path): cannot open to checksum") }
        defer { try? handle.close() }
        var hash = SHA256()
        do {
            while let chunk = try handle.read(upToCount: 1 << 20), !chunk.isEmpty { hash.update(data: chunk) }
        } catch {
            throw TIFFError("\(path): read failed while checksumming: \(error)")
        }
        return "sha2:" + Data(hash.finalize()).base64EncodedString()
    }
}

extension ConversionReport {
    private var rate: Double { seconds > 0 ? Double(source.totalBytes) / seconds / 1e6 : 0 }

    var line: String {
        let image = source
        return "\(output): \(image.sizeX)x\(image.sizeY) \(image.pixelType.rawValue), C=\(image.sizeC) Z=\(image.sizeZ) T=\(image.sizeT) (\(image.kind.rawValue)), "
            + "\(levels.count) levels, \(outputBytes) bytes in \(String(format: "%.2f", seconds)) s (\(String(format: "%.0f", rate)) MB/s of pixels)"
    }

    /// VmHWM of this process: the most memory it held at once (what the 512 MB bound is about).
    static var peakResidentBytes: Int {
        guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
              let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") }) else { return 0 }
        return (Int(line.split(separator: " ").dropFirst().first ?? "") ?? 0) * 1024
    }

    var json: String {
        let object: [String: Any] = [
            "output": output, "outputBytes": outputBytes, "seconds": seconds, "kind": source.kind.rawValue,
            "sizeX": source.sizeX, "sizeY": source.sizeY, "sizeZ": source.sizeZ, "sizeC": source.sizeC, "sizeT": source.sizeT,
            "pixelType": source.pixelType.rawValue, "pixelBytes": source.totalBytes,
            "levels": levels.map { [$0.width, $0.height] },
            "peakRSSBytes": Self.peakResidentBytes,
        ]
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data()
        return String(decoding: data, as: UTF8.self)
    }
}
