import CTIFF

/// Reads the rows of one directory (one stored sample plane when planar, all samples when chunky)
/// from top to bottom, one strip or one row of tiles at a time: memory follows the strip or tile
/// height, never the image height.
final class TIFFRowReader {
    let reader: TIFFReader
    let directory: TIFFDirectory
    let sample: Int
    private let unitRows: Int
    private let unit: UnsafeMutableRawBufferPointer
    private var unitIndex = -1
    /// Strips too large to decode at once (a whole compressed image in one strip) are read row by row.
    private let scanlines: Bool
    private var tile: UnsafeMutableRawBufferPointer?

    /// `directory` must be the reader's current one (`TIFFReader.select`).
    init(reader: TIFFReader, directory: TIFFDirectory, sample: Int, maxUnitBytes: Int) throws(TIFFError) {
        self.reader = reader
        self.directory = directory
        self.sample = directory.planar ? sample : 0
        let rowBytes = directory.rowBytes
        switch directory.layout {
        case .strips(let rowsPerStrip):
            scanlines = rowsPerStrip * rowBytes > maxUnitBytes
            unitRows = scanlines ? 1 : rowsPerStrip
        case .tiles(_, let tileHeight):
            scanlines = false
            unitRows = tileHeight
            guard tileHeight * rowBytes <= maxUnitBytes else {
                throw TIFFError("\(reader.path): a row of tiles of directory \(directory.index) is \(tileHeight * rowBytes) bytes, over the \(maxUnitBytes) allowed in memory")
            }
            let tileSize = Int(TIFFTileSize(reader.handle))
            guard tileSize > 0 else { throw reader.failure("tile size unknown in directory \(directory.index)") }
            tile = .allocate(byteCount: tileSize, alignment: 64)
        }
        unit = .allocate(byteCount: unitRows * rowBytes, alignment: 64)
    }

    deinit {
        unit.deallocate()
        tile?.deallocate()
    }

    /// Copies rows `first ..< first + count` into `target`, `directory.rowBytes` per row.
    func read(rows first: Int, count: Int, into target: UnsafeMutableRawPointer) throws(TIFFError) {
        let rowBytes = directory.rowBytes
        var row = first
        while row < first + count {
            if scanlines {
                guard TIFFReadScanline(reader.handle, target + (row - first) * rowBytes, UInt32(row), UInt16(sample)) == 1 else {
                    throw reader.failure("row \(row) of directory \(directory.index) cannot be decoded")
                }
                row += 1
                continue
            }
            let index = row / unitRows
            if index != unitIndex { try load(index) }
            let unitFirst = index * unitRows
            let rows = min(first + count, min(unitFirst + unitRows, directory.height)) - row
            (target + (row - first) * rowBytes).copyMemory(from: unit.baseAddress! + (row - unitFirst) * rowBytes, byteCount: rows * rowBytes)
            row += rows
        }
    }

    private func load(_ index: Int) throws(TIFFError) {
        let rowBytes = directory.rowBytes
        let rows = min(unitRows, directory.height - index * unitRows)
        switch directory.layout {
        case .strips:
            let stripsPerSample = (directory.height + unitRows - 1) / unitRows
            let strip = UInt32(sample * stripsPerSample + index)
            let got = TIFFReadEncodedStrip(reader.handle, strip, unit.baseAddress, tmsize_t(unit.count))
            guard got >= 0 else { throw reader.failure("strip \(strip) of directory \(directory.index) cannot be decoded") }
            guard Int(got) >= rows * rowBytes else {
                throw TIFFError("\(reader.path): strip \(strip) of directory \(directory.index) decodes to \(got) bytes, expected \(rows * rowBytes)")
            }
        case .tiles(let tileWidth, let tileHeight):
            let tile = tile!
            let pixelBytes = rowBytes / directory.width
            for x in stride(from: 0, to: directory.width, by: tileWidth) {
                let number = TIFFComputeTile(reader.handle, UInt32(x), UInt32(index * tileHeight), 0, UInt16(sample))
                let got = TIFFReadEncodedTile(reader.handle, number, tile.baseAddress, tmsize_t(tile.count))
                guard got >= 0 else { throw reader.failure("tile at \(x),\(index * tileHeight) of directory \(directory.index) cannot be decoded") }
                let columns = min(tileWidth, directory.width - x)
                for row in 0 ..< rows {
                    (unit.baseAddress! + row * rowBytes + x * pixelBytes)
                        .copyMemory(from: tile.baseAddress! + row * tileWidth * pixelBytes, byteCount: columns * pixelBytes)
                }
            }
        }
        unitIndex = index
    }
}
