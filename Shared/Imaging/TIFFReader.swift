import CTIFF
import Foundation

/// Why a TIFF could not be read (with libtiff's first message when it gave one), or written.
public struct TIFFError: Error, Sendable, Equatable, CustomStringConvertible {
    public let description: String
    /// The output could not be written (disk full, permissions): the input is not to blame, and
    /// trying again later may succeed.
    public let isOutputFailure: Bool
    public init(_ description: String, isOutputFailure: Bool = false) {
        self.description = description
        self.isOutputFailure = isOutputFailure
    }
}

/// Bounds checked before anything is allocated: a header may claim any size.
public struct TIFFLimits: Sendable {
    /// The pixel budget: largest decoded directory accepted at all, in bytes. Streaming readers (the
    /// converter, QC) never hold a whole directory, so this may exceed memory.
    public var maxImageBytes: Int64 = 1 << 40
    /// Largest directory `readDirectory` decodes into memory at once, in bytes.
    public var maxPlaneBytes: Int64 = 1 << 30
    /// Largest single allocation libtiff may make for one file (strip/tile buffers, tag arrays).
    public var maxSingleAllocation: Int64 = 256 << 20
    /// Directories (pages) walked at most.
    public var maxDirectories = 1_000_000
    /// Longest ImageDescription (OME-XML) accepted, in bytes.
    public var maxDescriptionBytes = 16 << 20
    public init() {}
}

/// The layout of one image file directory (one plane, or one page of RGB samples).
public struct TIFFDirectory: Sendable, Equatable {
    public enum SampleFormat: Sendable, Equatable { case unsigned, signed, float }
    public enum Layout: Sendable, Equatable {
        case strips(rowsPerStrip: Int)
        case tiles(width: Int, height: Int)
    }

    public let index: Int
    public let width: Int
    public let height: Int
    public let samplesPerPixel: Int
    public let bitsPerSample: Int
    public let sampleFormat: SampleFormat
    /// Samples interleaved per pixel (chunky) or stored as separate planes.
    public let planar: Bool
    public let compression: Int
    public let layout: Layout
    public let description: String?
    /// The ImageDescription's length in bytes, and whether it is valid UTF-8 (`description` repairs it).
    public let descriptionLength: Int
    public let descriptionIsUTF8: Bool
    /// NewSubfileType bit 0: a reduced-resolution image.
    public let isReducedResolution: Bool
    public let subIFDCount: Int
    /// PhotometricInterpretation (1 = min-is-black, 2 = RGB, 6 = YCbCr decoded to RGB, …).
    public let photometric: Int
    /// Pixels per resolution unit (XResolution/YResolution) and the unit (2 inch, 3 centimetre).
    public let xResolution: Double?
    public let yResolution: Double?
    public let resolutionUnit: Int
    /// DateTime ("YYYY:MM:DD HH:MM:SS"), Make, Model and Software tags when present.
    public let dateTime: String?
    public let make: String?
    public let model: String?
    public let software: String?

    public var bytesPerSample: Int { bitsPerSample / 8 }
    /// Bytes of one decoded row of one stored sample plane (all samples when chunky).
    public var rowBytes: Int { width * bytesPerSample * (planar ? 1 : samplesPerPixel) }
    /// Bytes of the whole decoded directory (all samples).
    public var decodedBytes: Int64 { Int64(width) * Int64(height) * Int64(samplesPerPixel) * Int64(bytesPerSample) }
}

/// A TIFF or BigTIFF opened read-only through libtiff. One reader belongs to one thread at a time
/// (libtiff handles are not thread-safe); readers of the same file on other threads are fine.
public final class TIFFReader {
    public let path: String
    public let limits: TIFFLimits
    let handle: OpaquePointer
    private let errors: UnsafeMutablePointer<fw_tiff_errors>

    public init(path: String, limits: TIFFLimits = TIFFLimits()) throws(TIFFError) {
        self.path = path
        self.limits = limits
        errors = .allocate(capacity: 1)
        errors.initialize(to: fw_tiff_errors())
        // "m": read with read(2), not mmap: a file truncated under us gives an error, not SIGBUS.
        guard let handle = fw_tiff_open(path, "rm", errors, limits.maxSingleAllocation) else {
            let reason = Self.message(errors, path: path) ?? "cannot open"
            errors.deallocate()
            throw TIFFError("\(path): \(reason)")
        }
        self.handle = handle
    }

    deinit {
        TIFFClose(handle)
        errors.deallocate()
    }

    public var isBigTIFF: Bool { TIFFIsBigTIFF(handle) != 0 }

    /// Every top-level directory, in file order. libtiff refuses IFD loops and offsets outside the file.
    public func directories() throws(TIFFError) -> [TIFFDirectory] {
        var result: [TIFFDirectory] = []
        guard TIFFSetDirectory(handle, 0) == 1 else { throw failure("no readable first directory") }
        repeat {
            guard result.count < limits.maxDirectories else { throw TIFFError("\(path): more than \(limits.maxDirectories) directories") }
            result.append(try current(index: result.count))
        } while TIFFReadDirectory(handle) == 1
        // libtiff stops at a directory chain that comes back on itself and only warns about it.
        if let warning = firstWarning, warning.lowercased().contains("loop") {
            throw TIFFError("\(path): the directory chain loops after directory \(result.count - 1): \(warning)")
        }
        if errors.pointee.count > 0, let message = message() {
            // A directory after the last good one was unreadable (truncated file, bad offset, loop).
            throw TIFFError("\(path): directory \(result.count): \(message)")
        }
        return result
    }

    /// The whole decoded directory `index` (samples as stored: chunky or planar), within the budget.
    public func readDirectory(_ index: Int) throws(TIFFError) -> [UInt8] {
        let directory = try select(index)
        guard directory.decodedBytes <= limits.maxPlaneBytes else {
            throw TIFFError("\(path): directory \(index) decodes to \(directory.decodedBytes) bytes, over the \(limits.maxPlaneBytes) read at once")
        }
        var bytes = [UInt8](repeating: 0, count: Int(directory.decodedBytes))
        let outcome = bytes.withUnsafeMutableBytes { (plane: UnsafeMutableRawBufferPointer) -> Result<Void, TIFFError> in
            do throws(TIFFError) {
                switch directory.layout {
                case .strips:
                    let count = Int(TIFFNumberOfStrips(handle))
                    var offset = 0
                    for strip in 0 ..< count {
                        let got = Int(TIFFReadEncodedStrip(handle, UInt32(strip), plane.baseAddress! + offset, tmsize_t(plane.count - offset)))
                        guard got >= 0 else { throw failure("strip \(strip) of directory \(index) cannot be decoded") }
                        offset += got
                    }
                    guard offset == plane.count else { throw TIFFError("\(path): directory \(index) decodes to \(offset) bytes, expected \(plane.count)") }
                case .tiles(let tileWidth, let tileHeight):
                    try readTiles(directory, tileWidth: tileWidth, tileHeight: tileHeight, into: plane)
                }
                return .success(())
            } catch {
                return .failure(error)
            }
        }
        try outcome.get()
        return bytes
    }

    private func readTiles(_ directory: TIFFDirectory, tileWidth: Int, tileHeight: Int, into plane: UnsafeMutableRawBufferPointer) throws(TIFFError) {
        let tileSize = Int(TIFFTileSize(handle))
        guard tileSize > 0 else { throw failure("tile size unknown") }
        let tile = UnsafeMutableRawBufferPointer.allocate(byteCount: tileSize, alignment: 16)
        defer { tile.deallocate() }
        let planes = directory.planar ? directory.samplesPerPixel : 1
        let pixelBytes = directory.bytesPerSample * (directory.planar ? 1 : directory.samplesPerPixel)
        let planeBytes = directory.width * directory.height * pixelBytes
        for sample in 0 ..< planes {
            for y in stride(from: 0, to: directory.height, by: tileHeight) {
                for x in stride(from: 0, to: directory.width, by: tileWidth) {
                    let got = TIFFReadTile(handle, tile.baseAddress, UInt32(x), UInt32(y), 0, UInt16(sample))
                    guard got >= 0 else { throw failure("tile at \(x),\(y) of directory \(directory.index) cannot be decoded") }
                    // Copy the part of the tile inside the image, row by row (edge tiles are padded).
                    let rows = min(tileHeight, directory.height - y), columns = min(tileWidth, directory.width - x)
                    for row in 0 ..< rows {
                        let source = tile.baseAddress! + row * tileWidth * pixelBytes
                        let target = plane.baseAddress! + sample * planeBytes + ((y + row) * directory.width + x) * pixelBytes
                        target.copyMemory(from: source, byteCount: columns * pixelBytes)
                    }
                }
            }
        }
    }

    /// Refuses a file whose strips or tiles of directory `index` reach past its end (a truncated
    /// copy), without decoding anything: what a reader of tags alone would otherwise miss.
    public func checkDataWithinFile(_ index: Int) throws(TIFFError) {
        let directory = try select(index)
        var status = stat()
        guard fstat(TIFFFileno(handle), &status) == 0 else { throw TIFFError("\(path): cannot stat") }
        let size = UInt64(status.st_size)
        let tiled = { if case .tiles = directory.layout { true } else { false } }()
        let count = tiled ? TIFFNumberOfTiles(handle) : TIFFNumberOfStrips(handle)
        for strile in 0 ..< count {
            let offset = TIFFGetStrileOffset(handle, strile), bytes = TIFFGetStrileByteCount(handle, strile)
            let (end, overflow) = offset.addingReportingOverflow(bytes)
            guard !overflow, end <= size else {
                throw TIFFError("\(path): directory \(index): \(tiled ? "tile" : "strip") \(strile) ends at byte \(overflow ? "∞" : "\(end)"), past the end of the \(size)-byte file (truncated)")
            }
        }
    }

    /// Makes directory `index` current (libtiff reads one at a time) and returns its checked layout.
    func select(_ index: Int) throws(TIFFError) -> TIFFDirectory {
        guard index >= 0, index <= Int(UInt32.max), TIFFSetDirectory(handle, UInt32(index)) == 1 else { throw failure("no directory \(index)") }
        let directory = try current(index: index)
        // JPEG-in-TIFF stored as YCbCr: have libtiff convert to RGB while decoding.
        if directory.compression == Int(COMPRESSION_JPEG), directory.photometric == Int(PHOTOMETRIC_YCBCR) {
            _ = fw_tiff_set_int(handle, UInt32(TIFFTAG_JPEGCOLORMODE), JPEGCOLORMODE_RGB)
        }
        return directory
    }

    func failure(_ what: String) -> TIFFError {
        TIFFError("\(path): \(what)" + (message().map { ": \($0)" } ?? ""))
    }

    /// Reads and checks the fields of the current directory.
    private func current(index: Int) throws(TIFFError) -> TIFFDirectory {
        func u16(_ tag: Int32, default value: UInt16? = nil) -> UInt16? {
            var result: UInt16 = 0
            return fw_tiff_get_u16(handle, UInt32(tag), &result) == 1 ? result : value
        }
        func u32(_ tag: Int32) -> UInt32? {
            var result: UInt32 = 0
            return fw_tiff_get_u32(handle, UInt32(tag), &result) == 1 ? result : nil
        }
        let at = "\(path): directory \(index)"
        if errors.pointee.count > 0 { throw failure("directory \(index) is damaged") }
        guard let width = u32(TIFFTAG_IMAGEWIDTH), let height = u32(TIFFTAG_IMAGELENGTH), width > 0, height > 0 else {
            throw TIFFError("\(at): width and height must be positive")
        }
        let samples = Int(u16(TIFFTAG_SAMPLESPERPIXEL, default: 1) ?? 1)
        let bits = Int(u16(TIFFTAG_BITSPERSAMPLE, default: 1) ?? 1)
        guard (1 ... 16).contains(samples) else { throw TIFFError("\(at): \(samples) samples per pixel is not supported") }
        guard [8, 16, 32, 64].contains(bits) else { throw TIFFError("\(at): \(bits)-bit samples are not supported (8, 16, 32 or 64)") }
        let format: TIFFDirectory.SampleFormat
        switch Int32(u16(TIFFTAG_SAMPLEFORMAT, default: UInt16(SAMPLEFORMAT_UINT)) ?? 1) {
        case SAMPLEFORMAT_UINT: format = .unsigned
        case SAMPLEFORMAT_INT: format = .signed
        case SAMPLEFORMAT_IEEEFP where bits >= 32: format = .float
        case let other: throw TIFFError("\(at): sample format \(other) with \(bits) bits is not supported")
        }
        let compression = Int(u16(TIFFTAG_COMPRESSION, default: 1) ?? 1)
        guard TIFFIsCODECConfigured(UInt16(compression)) == 1 else {
            throw TIFFError("\(at): compression \(compression) is not decodable by this libtiff")
        }
        let planar = Int32(u16(TIFFTAG_PLANARCONFIG, default: UInt16(PLANARCONFIG_CONTIG)) ?? 1) == PLANARCONFIG_SEPARATE
        let layout: TIFFDirectory.Layout
        if TIFFIsTiled(handle) != 0 {
            guard let tileWidth = u32(TIFFTAG_TILEWIDTH), let tileHeight = u32(TIFFTAG_TILELENGTH), tileWidth > 0, tileHeight > 0,
                  tileWidth % 16 == 0, tileHeight % 16 == 0 else {
                throw TIFFError("\(at): tile size missing or not a multiple of 16")
            }
            let across = (Int(width) + Int(tileWidth) - 1) / Int(tileWidth), down = (Int(height) + Int(tileHeight) - 1) / Int(tileHeight)
            let expected = across * down * (planar ? samples : 1)
            guard Int(TIFFNumberOfTiles(handle)) == expected else {
                throw TIFFError("\(at): \(TIFFNumberOfTiles(handle)) tiles where the dimensions need \(expected)")
            }
            layout = .tiles(width: Int(tileWidth), height: Int(tileHeight))
        } else {
            let rowsPerStrip = Int(min(u32(TIFFTAG_ROWSPERSTRIP) ?? height, height))
            guard rowsPerStrip > 0 else { throw TIFFError("\(at): RowsPerStrip is 0") }
            let expected = (Int(height) + rowsPerStrip - 1) / rowsPerStrip * (planar ? samples : 1)
            guard Int(TIFFNumberOfStrips(handle)) == expected else {
                throw TIFFError("\(at): \(TIFFNumberOfStrips(handle)) strips where the dimensions need \(expected)")
            }
            layout = .strips(rowsPerStrip: rowsPerStrip)
        }
        func string(_ tag: Int32) -> String? {
            var text: UnsafePointer<CChar>?
            guard fw_tiff_get_string(handle, UInt32(tag), &text) == 1, let text else { return nil }
            return String(decoding: UnsafeRawBufferPointer(start: text, count: strlen(text)), as: UTF8.self)
        }
        func rational(_ tag: Int32) -> Double? {
            var value: Float = 0
            guard fw_tiff_get_float(handle, UInt32(tag), &value) == 1, value.isFinite, value > 0 else { return nil }
            return Double(value)
        }
        // The description is outside data too: bounded, and its encoding checked rather than repaired silently.
        var descriptionText: UnsafePointer<CChar>?
        let hasDescription = fw_tiff_get_string(handle, UInt32(TIFFTAG_IMAGEDESCRIPTION), &descriptionText) == 1 && descriptionText != nil
        let descriptionLength = hasDescription ? strlen(descriptionText!) : 0
        var description: String?
        var descriptionIsUTF8 = true
        if hasDescription, descriptionLength <= limits.maxDescriptionBytes {
            let bytes = UnsafeRawBufferPointer(start: descriptionText!, count: descriptionLength)
            descriptionIsUTF8 = String(validating: bytes, as: UTF8.self) != nil
            description = String(decoding: bytes, as: UTF8.self)
        }
        var subIFDCount: UInt16 = 0
        var subIFDs: UnsafePointer<UInt64>?
        _ = fw_tiff_get_u64_array(handle, UInt32(TIFFTAG_SUBIFD), &subIFDCount, &subIFDs)
        let directory = TIFFDirectory(
            index: index, width: Int(width), height: Int(height), samplesPerPixel: samples, bitsPerSample: bits,
            sampleFormat: format, planar: planar, compression: compression, layout: layout, description: description,
            descriptionLength: descriptionLength, descriptionIsUTF8: descriptionIsUTF8,
            isReducedResolution: (u32(TIFFTAG_SUBFILETYPE) ?? 0) & 1 == 1, subIFDCount: Int(subIFDCount),
            photometric: Int(u16(TIFFTAG_PHOTOMETRIC, default: UInt16(PHOTOMETRIC_MINISBLACK)) ?? 1),
            xResolution: rational(TIFFTAG_XRESOLUTION), yResolution: rational(TIFFTAG_YRESOLUTION),
            resolutionUnit: Int(u16(TIFFTAG_RESOLUTIONUNIT, default: UInt16(RESUNIT_INCH)) ?? 2),
            dateTime: string(TIFFTAG_DATETIME), make: string(TIFFTAG_MAKE), model: string(TIFFTAG_MODEL),
            software: string(TIFFTAG_SOFTWARE)
        )
        guard directory.decodedBytes <= limits.maxImageBytes else {
            throw TIFFError("\(at): \(width) x \(height) x \(samples) x \(bits) bits decodes to \(directory.decodedBytes) bytes, over the pixel budget of \(limits.maxImageBytes)")
        }
        return directory
    }

    /// The first warning libtiff gave on this file, if any (a converter logs it).
    public var firstWarning: String? {
        guard errors.pointee.warning_count > 0 else { return nil }
        return withUnsafeBytes(of: errors.pointee.first_warning) { raw in String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self) }
    }

    private func message() -> String? { Self.message(errors, path: path) }

    /// libtiff's first error, without the file name it prefixes to some (ours already says which file).
    private static func message(_ errors: UnsafeMutablePointer<fw_tiff_errors>, path: String) -> String? {
        guard errors.pointee.count > 0 else { return nil }
        let text = withUnsafeBytes(of: errors.pointee.first) { raw in String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self) }
        return text.hasPrefix(path + ": ") ? String(text.dropFirst(path.count + 2)) : text
    }
}
