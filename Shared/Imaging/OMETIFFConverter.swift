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

/// The tiles and tile tables of one resolution level of one plane, with the band of rows it is
/// accumulating (at most one tile row). A ring of band buffers lets the producer fill one while
/// the tiles of the others are still being compressed; each buffer counts its unfinished tiles.
private final class Level: @unchecked Sendable {
    static let ring = 3
    let width: Int, height: Int
    let rowBytes: Int
    private let buffers: [UnsafeMutableRawBufferPointer]
    private(set) var current = 0
    /// Tiles not yet written, per buffer. Guarded by the pipeline's lock.
    var pending = [Int](repeating: 0, count: Level.ring)
    var bandRows = 0
    var receivedRows = 0
    var tileRow = 0
    let across: Int
    /// Each slot is written by the one worker that wrote that tile, under the pipeline's lock.
    var offsets: [UInt64], counts: [UInt64]

    init(width: Int, height: Int, tileSize: Int, pixelBytes: Int) {
        self.width = width
        self.height = height
        rowBytes = width * pixelBytes
        buffers = (0 ..< Level.ring).map { _ in .allocate(byteCount: tileSize * width * pixelBytes, alignment: 64) }
        across = (width + tileSize - 1) / tileSize
        let tiles = across * ((height + tileSize - 1) / tileSize)
        offsets = [UInt64](repeating: 0, count: tiles)
        counts = [UInt64](repeating: 0, count: tiles)
    }

    /// Ready for the same level of another plane (buffers are reused: no fresh pages to fault in).
    func reset() {
        bandRows = 0
        receivedRows = 0
        tileRow = 0
    }

    deinit { buffers.forEach { $0.deallocate() } }

    var band: UnsafeMutableRawBufferPointer { buffers[current] }
    func buffer(_ index: Int) -> UnsafeMutableRawBufferPointer { buffers[index] }
    func advance(to next: Int) { current = next }
}

/// One tile to compress: its pixels in a sealed band buffer, and its place in the level's tables.
private struct TileJob: @unchecked Sendable {
    let level: Level
    let buffer: Int
    let tileIndex: Int
    let column: Int
    let rows: Int
}

/// Moves the pixels: bands in, levels built, tiles compressed by the workers and written as they
/// finish, IFDs written once a plane's tiles are all in. The calling thread only reads and halves.
private struct PyramidWriter {
    let conversion: OMETIFFConversion
    let file: BigTIFFFile
    let description: String

    func run() throws(TIFFError) {
        let source = conversion.source, options = conversion.options
        let pipeline = TilePipeline(options: options, pixelType: source.pixelType, file: file)
        defer { pipeline.stop() }
        // Output planes are written in XYCZT order; a chunky page yields its samples' planes together.
        var previous: (planes: [Int], pyramids: [[Level]])?
        // Two sets of levels alternate: one being filled, one whose last tiles are being written.
        let perGroup = source.chunkySamples > 1 ? source.chunkySamples : 1
        let sets = (0 ..< 2).map { _ in
            (0 ..< perGroup).map { _ in
                conversion.levels.map { Level(width: $0.width, height: $0.height, tileSize: options.tileSize, pixelBytes: source.pixelType.bytes) }
            }
        }
        var set = 0
        var plane = 0
        while plane < source.planes.count {
            let first = source.planes[plane]
            var group = [plane]
            if source.chunkySamples > 1 {
                while group.count < source.chunkySamples, plane + group.count < source.planes.count,
                      source.planes[plane + group.count].directory == first.directory { group.append(plane + group.count) }
            }
            let pyramids = Array(sets[set].prefix(group.count))
            pyramids.joined().forEach { $0.reset() }
            set ^= 1
            try produce(planes: group, pyramids: pyramids, pipeline: pipeline)
            // The previous group's tiles have had this whole group's reading to finish.
            if let previous { try writeIFDs(previous, pipeline: pipeline) }
            previous = (group, pyramids)
            plane += group.count
        }
        if let previous { try writeIFDs(previous, pipeline: pipeline) }
        try pipeline.finish()
    }

    private func produce(planes: [Int], pyramids: [[Level]], pipeline: TilePipeline) throws(TIFFError) {
        let source = conversion.source, options = conversion.options
        let pixelBytes = source.pixelType.bytes, tileSize = options.tileSize
        let directory = try conversion.tiffReader.select(source.planes[planes[0]].directory)
        let rows = try TIFFRowReader(reader: conversion.tiffReader, directory: directory, sample: source.planes[planes[0]].sample,
                                     maxUnitBytes: options.maxInputUnitBytes)
        let interleaved = planes.count > 1
        let band: UnsafeMutableRawBufferPointer? = interleaved ? .allocate(byteCount: tileSize * directory.rowBytes, alignment: 64) : nil
        defer { band?.deallocate() }

        for y in stride(from: 0, to: source.sizeY, by: tileSize) {
            let count = min(tileSize, source.sizeY - y)
            if let band {
                try rows.read(rows: y, count: count, into: band.baseAddress!)
                Downsampling.deinterleave(band.baseAddress!, count: count * source.sizeX, channels: planes.count, bytes: pixelBytes,
                                          into: pyramids.map { $0[0].band.baseAddress! })
            } else {
                try rows.read(rows: y, count: count, into: pyramids[0][0].band.baseAddress!)
            }
            for levels in pyramids { try receive(count, level: 0, of: levels, pipeline: pipeline) }
        }
    }

    /// `count` new rows were placed in `levels[index].band`; a full band (or the level's last rows)
    /// becomes a row of tiles for the workers and is halved into the next level.
    private func receive(_ count: Int, level index: Int, of levels: [Level], pipeline: TilePipeline) throws(TIFFError) {
        let level = levels[index], tileSize = conversion.options.tileSize
        level.bandRows += count
        level.receivedRows += count
        guard level.bandRows == tileSize || level.receivedRows == level.height else { return }
        let sealed = level.band, sealedRows = level.bandRows
        if index + 1 < levels.count {
            let next = levels[index + 1]
            Downsampling.halve(conversion.source.pixelType, source: sealed.baseAddress!, width: level.width, rows: sealedRows,
                               into: next.band.baseAddress! + next.bandRows * next.rowBytes)
        }
        let jobs = (0 ..< level.across).map { column in
            TileJob(level: level, buffer: level.current, tileIndex: level.tileRow * level.across + column, column: column, rows: sealedRows)
        }
        level.tileRow += 1
        try pipeline.seal(level, submitting: jobs)
        if index + 1 < levels.count { try receive((sealedRows + 1) / 2, level: index + 1, of: levels, pipeline: pipeline) }
    }

    private func writeIFDs(_ group: (planes: [Int], pyramids: [[Level]]), pipeline: TilePipeline) throws(TIFFError) {
        for levels in group.pyramids { try pipeline.waitUntilWritten(levels) }
        for (plane, levels) in zip(group.planes, group.pyramids) { try pipeline.withFile { file throws(TIFFError) in try writeIFDs(plane: plane, levels: levels, into: file) } }
    }

    private func writeIFDs(plane: Int, levels: [Level], into file: BigTIFFFile) throws(TIFFError) {
        let source = conversion.source, options = conversion.options
        let predictor = TileEncoder(compression: options.compression, pixelType: source.pixelType).usesPredictor
        func entries(_ level: Level, reduced: Bool) -> [BigTIFFFile.Entry] {
            var entries: [BigTIFFFile.Entry] = [
                .long(254, reduced ? 1 : 0),
                .long(256, UInt32(level.width)), .long(257, UInt32(level.height)),
                .short(258, UInt16(source.pixelType.bytes * 8)),
                .short(259, options.compression.codec.tag),
                .short(262, 1),  // min-is-black: every plane is one channel
                .short(277, 1),
                .short(284, 1),
                .long(322, UInt32(options.tileSize)), .long(323, UInt32(options.tileSize)),
                .long8(324, level.offsets), .long8(325, level.counts),
                .short(339, source.pixelType.sampleFormat),
            ]
            if predictor { entries.append(.short(317, 2)) }
            return entries
        }
        var subIFDs: [UInt64] = []
        for level in levels.dropFirst() {
            subIFDs.append(try file.writeIFD(entries(level, reduced: true), topLevel: false))
        }
        var main = entries(levels[0], reduced: false)
        main.append(.ascii(305, "Fairway converter"))
        if plane == 0 { main.append(.ascii(270, description)) }
        if !subIFDs.isEmpty { main.append(.long8(330, subIFDs, type: .ifd8)) }
        try file.writeIFD(main, topLevel: true)
    }
}

/// Worker threads that take tiles from one queue, compress them (each with its own codec context
/// and buffers, so nothing is allocated per tile) and append them to the file in the order they
/// finish — tile order in a TIFF is free, the offset tables say where each one is. One lock guards
/// the queue, the band counters, the offset tables and the file.
private final class TilePipeline: @unchecked Sendable {
    private let condition = NSCondition()
    private var queue: [TileJob] = []
    private var head = 0
    private var closing = false
    private var failure: TIFFError?
    private let workers = DispatchGroup()
    private let file: BigTIFFFile
    private let tileSize: Int, pixelBytes: Int

    init(options: ConversionOptions, pixelType: PixelType, file: BigTIFFFile) {
        self.file = file
        tileSize = options.tileSize
        pixelBytes = pixelType.bytes
        let tileBytes = tileSize * tileSize * pixelBytes
        for _ in 0 ..< max(1, options.workers) {
            let thread = Thread { [self] in
                let encoder = TileEncoder(compression: options.compression, pixelType: pixelType)
                let scratch = UnsafeMutableRawBufferPointer.allocate(byteCount: tileBytes, alignment: 64)
                let output = UnsafeMutableRawBufferPointer.allocate(byteCount: encoder.maxEncodedBytes(tileBytes), alignment: 64)
                defer { scratch.deallocate(); output.deallocate() }
                work(encoder: encoder, scratch: scratch, output: output)
                workers.leave()
            }
            workers.enter()
            thread.start()
        }
    }

    /// Hands a band's tiles to the workers and moves the level to its next band buffer, waiting
    /// until that buffer's earlier tiles are written.
    func seal(_ level: Level, submitting jobs: [TileJob]) throws(TIFFError) {
        condition.lock()
        defer { condition.unlock() }
        level.pending[level.current] += jobs.count
        queue.append(contentsOf: jobs)
        condition.broadcast()
        let next = (level.current + 1) % Level.ring
        while level.pending[next] > 0, failure == nil { condition.wait() }
        if let failure { throw failure }
        level.bandRows = 0
        level.advance(to: next)
    }

    func waitUntilWritten(_ levels: [Level]) throws(TIFFError) {
        condition.lock()
        defer { condition.unlock() }
        while levels.contains(where: { $0.pending.contains { $0 > 0 } }), failure == nil { condition.wait() }
        if let failure { throw failure }
    }

    func withFile(_ body: (BigTIFFFile) throws(TIFFError) -> Void) throws(TIFFError) {
        condition.lock()
        defer { condition.unlock() }
        try body(file)
    }

    /// Lets the workers finish the queue, then stops them; rethrows the first write failure.
    func finish() throws(TIFFError) {
        stop()
        if let failure { throw failure }
    }

    /// Stops the workers after the queue is done (also on the way out of an error).
    func stop() {
        condition.lock()
        closing = true
        condition.broadcast()
        condition.unlock()
        workers.wait()
    }

    private func work(encoder: TileEncoder, scratch: UnsafeMutableRawBufferPointer, output: UnsafeMutableRawBufferPointer) {
        while true {
            condition.lock()
            while head == queue.count, !closing { condition.wait() }
            if head == queue.count || failure != nil {
                condition.unlock()
                return
            }
            let job = queue[head]
            head += 1
            // Drop taken jobs soon: each holds its level, and levels hold band buffers.
            if head >= 64 {
                queue.removeFirst(head)
                head = 0
            }
            condition.unlock()

            let level = job.level, band = level.buffer(job.buffer)
            let x = job.column * tileSize, columns = min(tileSize, level.width - x)
            // Edge tiles are padded with zeros to the full tile size, as TIFF requires.
            if columns < tileSize || job.rows < tileSize { scratch.initializeMemory(as: UInt8.self, repeating: 0) }
            for row in 0 ..< job.rows {
                (scratch.baseAddress! + row * tileSize * pixelBytes)
                    .copyMemory(from: band.baseAddress! + row * level.rowBytes + x * pixelBytes, byteCount: columns * pixelBytes)
            }
            let written = encoder.encode(scratch, width: tileSize, into: output)

            condition.lock()
            do throws(TIFFError) {
                level.offsets[job.tileIndex] = try file.append(UnsafeRawBufferPointer(rebasing: output[0 ..< written]))
                level.counts[job.tileIndex] = UInt64(written)
            } catch {
                if failure == nil { failure = error }
            }
            level.pending[job.buffer] -= 1
            condition.broadcast()
            condition.unlock()
        }
    }
}
