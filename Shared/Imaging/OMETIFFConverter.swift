import Dispatch
public import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Settings of a conversion.
public struct ConversionOptions: Sendable {
    public var compression = TileCompression.default
    /// Tile width and height, a multiple of 16.
    public var tileSize = 512
    /// Pyramid levels are added until the longest side is at most this many pixels.
    public var smallestLevel = 256
    /// Threads compressing tiles.
    public var workers = max(1, ProcessInfo.processInfo.activeProcessorCount)
    /// Largest strip or row of tiles of the input decoded at once.
    public var maxInputUnitBytes = 256 << 20
    /// Largest working memory for bands of rows (all levels, the ring of buffers, both plane
    /// groups in flight); an image too wide for it is refused before anything is allocated.
    public var maxWorkingBytes = 384 << 20
    /// OME-TIFF input is kept as it is, except when its longest side exceeds this many pixels and it
    /// is stored in strips without a pyramid: then a tiled, pyramidal copy keeps its OME-XML.
    public var omePyramidAbove: Int?
    public var limits = TIFFLimits()

    public init() {}

    /// Written into the provenance annotation so a conversion can be repeated.
    public var summary: String { "tile=\(tileSize) compression=\(compression) pyramid-smallest=\(smallestLevel)" }
}

/// What a conversion wrote.
public struct ConversionReport: Sendable {
    public var source: SourceImage
    public var output: String
    public var outputBytes: Int64
    /// Resolution levels per plane, full resolution included.
    public var levels: [(width: Int, height: Int)]
    public var seconds: Double
}

/// Converts a TIFF-family file to a tiled, pyramidal OME-TIFF (always BigTIFF), streaming: the
/// input is read one band of tile rows at a time, every pyramid level is built from the band as it
/// passes, and tiles are written as soon as they are complete. Memory follows the image width
/// (about two bands per plane being written), never its height or plane count.
public final class OMETIFFConversion {
    public let input: String
    public let options: ConversionOptions
    public private(set) var source: SourceImage
    private let reader: TIFFReader
    /// The OME-XML of an OME-TIFF input being re-tiled (nil: not OME, or kept as it is).
    private var ome: OMEDocument?

    /// Whether an OME-TIFF input gets a pyramidal copy (by `omePyramidAbove`) instead of being kept.
    public var rewritesOME: Bool { ome != nil }

    /// Opens and inspects `input`; refuses what cannot be converted before any output exists.
    /// `fileName` is the input's name when `input` is a descriptor path (OME-XML may name its file).
    public init(input: String, fileName: String? = nil, options: ConversionOptions = ConversionOptions()) throws(TIFFError) {
        guard options.tileSize >= 16, options.tileSize % 16 == 0, options.tileSize <= 8192 else {
            throw TIFFError("tile size \(options.tileSize) must be a multiple of 16 between 16 and 8192")
        }
        self.input = input
        self.options = options
        reader = try TIFFReader(path: input, limits: options.limits)
        source = try SourceImage.inspect(reader)
        if source.kind == .ome, let threshold = options.omePyramidAbove, let first = source.directories.first,
           max(source.sizeX, source.sizeY) > threshold, case .strips = first.layout, first.subIFDCount == 0, let description = first.description {
            ome = try OMEDocument.read(description, into: &source, fileName: fileName ?? URL(fileURLWithPath: input).lastPathComponent)
        }
        let working = workingBytes
        guard working <= Int64(options.maxWorkingBytes) else {
            throw TIFFError("\(input): \(source.sizeX) pixels across need \(working) bytes of bands at tile \(options.tileSize), over the \(options.maxWorkingBytes) allowed in memory")
        }
    }

    /// Memory the bands take: per plane being written, every level's ring of one-tile-high
    /// buffers; two groups of planes in flight; plus the interleaved input band.
    var workingBytes: Int64 {
        let tile = Int64(options.tileSize), pixel = Int64(source.pixelType.bytes)
        let perPlane = levels.reduce(Int64(0)) { $0 + Int64(Level.ring) * tile * Int64($1.width) * pixel }
        let planesPerGroup = Int64(max(1, source.chunkySamples))
        return 2 * planesPerGroup * perPlane + (planesPerGroup > 1 ? tile * Int64(source.sizeX) * pixel * planesPerGroup : 0)
    }

    /// Sizes of every level, full resolution first.
    public var levels: [(width: Int, height: Int)] {
        var result = [(width: source.sizeX, height: source.sizeY)]
        while let last = result.last, max(last.width, last.height) > max(options.smallestLevel, 1) {
            result.append(((last.width + 1) / 2, (last.height + 1) / 2))
        }
        return result
    }

    /// Writes `output` through a temporary file in the same folder, renamed into place only when
    /// complete and synced: a failure or a crash never leaves a partial `output`.
    public func write(to output: String, imageName: String? = nil, uuid: UUID = UUID(),
                      provenance: [(key: String, value: String)] = []) throws(TIFFError) -> ConversionReport {
        guard source.kind != .ome || ome != nil else { throw TIFFError("\(input): already OME-TIFF; kept as the image of record, not converted") }
        let started = DispatchTime.now()
        let outputURL = URL(fileURLWithPath: output)
        guard outputURL.standardizedFileURL.resolvingSymlinksInPath() != URL(fileURLWithPath: input).standardizedFileURL.resolvingSymlinksInPath() else {
            throw TIFFError("\(output): the output would overwrite the input")
        }
        let temporary = outputURL.deletingLastPathComponent().appendingPathComponent(".\(outputURL.lastPathComponent).partial").path
        let xml = ome?.rewritten(uuid: uuid.uuidString.lowercased(), source: source, provenance: provenance)
            ?? OMEXML(uuid: uuid, creator: "Fairway converter", imageName: imageName ?? URL(fileURLWithPath: input).lastPathComponent,
                      image: source, provenance: provenance).text
        do throws(TIFFError) {
            let file = try BigTIFFFile(creating: temporary)
            try PyramidWriter(conversion: self, file: file, description: xml).run()
            try file.flush()
            try file.sync()
            guard rename(temporary, output) == 0 else { throw TIFFError("\(output): cannot rename into place: \(String(cString: strerror(errno)))", isOutputFailure: true) }
        } catch {
            unlink(temporary)
            throw error
        }
        syncFolder(of: output)
        var status = stat()
        let size = stat(output, &status) == 0 ? Int64(status.st_size) : 0
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - started.uptimeNanoseconds) / 1e9
        return ConversionReport(source: source, output: output, outputBytes: size, levels: levels, seconds: seconds)
    }

    var tiffReader: TIFFReader { reader }

    /// libtiff's first warning about the input, if it had any (worth logging, not fatal).
    public var warning: String? { reader.firstWarning }

    private func syncFolder(of path: String) {
        let folder = open(URL(fileURLWithPath: path).deletingLastPathComponent().path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if folder >= 0 { fsync(folder); close(folder) }
    }
}
