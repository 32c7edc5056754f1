import Foundation

/// The tiles and tile tables of one resolution level of one plane, with the band of rows it is
/// accumulating (at most one tile row). A ring of band buffers lets the producer fill one while
/// the tiles of the others are still being compressed; each buffer counts its unfinished tiles.
final class Level: @unchecked Sendable {
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
struct TileJob: @unchecked Sendable {
    let level: Level
    let buffer: Int
    let tileIndex: Int
    let column: Int
    let rows: Int
}

/// Moves the pixels: bands in, levels built, tiles compressed by the workers and written as they
/// finish, IFDs written once a plane's tiles are all in. The calling thread only reads and halves.
struct PyramidWriter {
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
