import CTIFF

/// How tiles are compressed in the output. All are lossless.
public struct TileCompression: Sendable, Equatable, CustomStringConvertible {
    public enum Codec: String, Sendable, CaseIterable {
        case none, lzw, deflate, zstd

        /// The TIFF Compression tag value.
        var tag: UInt16 {
            switch self {
            case .none: 1
            case .lzw: 5
            case .deflate: 8
            case .zstd: 50000
            }
        }
    }

    public var codec: Codec
    /// Codec level: deflate 1–12 (libdeflate), zstd 1–19; nil for the codec's default (6 and 3).
    public var level: Int?
    /// Horizontal differencing (TIFF Predictor 2) before compressing integer pixels.
    public var predictor: Bool

    /// Deflate with the predictor: every OME-TIFF reader (Bio-Formats, Fiji, QuPath, libtiff,
    /// tifffile) decodes it, which zstd cannot yet claim.
    public static let `default` = TileCompression(codec: .deflate, level: nil, predictor: true)

    public init(codec: Codec, level: Int? = nil, predictor: Bool? = nil) {
        self.codec = codec
        self.level = level
        self.predictor = predictor ?? (codec != .none)
    }

    var effectiveLevel: Int {
        switch codec {
        case .deflate: min(max(level ?? 6, 1), 12)
        case .zstd: min(max(level ?? 3, 1), 19)
        case .none, .lzw: 0
        }
    }

    public var description: String {
        codec == .none ? "none" : "\(codec.rawValue)" + (codec == .lzw ? "" : " level \(effectiveLevel)") + (predictor ? " + predictor" : "")
    }
}

/// Compresses tiles for one worker thread (codec contexts are not shared between threads).
final class TileEncoder {
    let compression: TileCompression
    let pixelType: PixelType
    private var deflater: OpaquePointer?
    private var zstd: OpaquePointer?
    private let lzw = LZWEncoder()

    init(compression: TileCompression, pixelType: PixelType) {
        self.compression = compression
        self.pixelType = pixelType
        switch compression.codec {
        case .deflate: deflater = libdeflate_alloc_compressor(Int32(compression.effectiveLevel))
        case .zstd: zstd = ZSTD_createCCtx()
        case .none, .lzw: break
        }
    }

    deinit {
        if let deflater { libdeflate_free_compressor(deflater) }
        if let zstd { ZSTD_freeCCtx(zstd) }
    }

    /// Whether the predictor is applied for this pixel type (integers only: a float predictor is a
    /// different algorithm, TIFF Predictor 3).
    var usesPredictor: Bool { compression.predictor && compression.codec != .none && pixelType.isInteger }

    /// The most bytes `encode` may write for a tile of `tileBytes`.
    func maxEncodedBytes(_ tileBytes: Int) -> Int {
        switch compression.codec {
        case .none: tileBytes
        case .lzw: tileBytes + tileBytes / 2 + 16  // 12-bit codes for single bytes, at worst
        case .deflate: libdeflate_zlib_compress_bound(deflater, tileBytes)
        case .zstd: ZSTD_compressBound(tileBytes)
        }
    }

    /// Encodes one tile of `width` pixels per row into `output` (at least `maxEncodedBytes` long)
    /// and returns the bytes written. The predictor works in place on `tile`.
    func encode(_ tile: UnsafeMutableRawBufferPointer, width: Int, into output: UnsafeMutableRawBufferPointer) -> Int {
        if usesPredictor { Self.differentiate(tile, width: width, bytes: pixelType.bytes) }
        let source = UnsafeRawBufferPointer(tile)
        switch compression.codec {
        case .none:
            output.copyMemory(from: source)
            return source.count
        case .lzw:
            let encoded = lzw.encode(source)
            precondition(encoded.count <= output.count, "LZW output over its bound")
            output.copyBytes(from: encoded)
            return encoded.count
        case .deflate:
            let written = libdeflate_zlib_compress(deflater, source.baseAddress, source.count, output.baseAddress, output.count)
            // Cannot fail with a bound-sized output; 0 would be a libdeflate bug.
            precondition(written > 0, "libdeflate: output over its bound")
            return written
        case .zstd:
            let written = ZSTD_compressCCtx(zstd, output.baseAddress, output.count, source.baseAddress, source.count, Int32(compression.effectiveLevel))
            precondition(ZSTD_isError(written) == 0, "zstd: \(String(cString: ZSTD_getErrorName(written)))")
            return written
        }
    }

    /// TIFF Predictor 2: each sample becomes its difference from the sample to its left (wrapping).
    static func differentiate(_ tile: UnsafeMutableRawBufferPointer, width: Int, bytes: Int) {
        func run<T: FixedWidthInteger>(_: T.Type) {
            let samples = tile.bindMemory(to: T.self)
            var row = 0
            while row + width <= samples.count {
                var x = width - 1
                while x > 0 {
                    samples[row + x] &-= samples[row + x - 1]
                    x -= 1
                }
                row += width
            }
        }
        switch bytes {
        case 1: run(UInt8.self)
        case 2: run(UInt16.self)
        case 4: run(UInt32.self)
        default: run(UInt64.self)
        }
    }
}

/// TIFF's LZW (section 13 of the TIFF 6.0 specification): codes of 9 to 12 bits written most
/// significant bit first, Clear = 256, EndOfInformation = 257, and the code width growing one code
/// early as TIFF readers expect.
final class LZWEncoder {
    private static let clear = 256, end = 257, first = 258, limit = 4094
    private static let slots = 1 << 13
    /// Open-addressing table of (prefix << 8 | byte) + 1 → code; 0 marks an empty slot.
    private var keys = [Int32](repeating: 0, count: LZWEncoder.slots)
    private var codes = [Int16](repeating: 0, count: LZWEncoder.slots)

    func encode(_ input: UnsafeRawBufferPointer) -> [UInt8] {
        var output: [UInt8] = []
        output.reserveCapacity(input.count / 2 + 16)
        var bits: UInt64 = 0, bitCount = 0, width = 9
        func put(_ code: Int) {
            bits = (bits << UInt64(width)) | UInt64(code)
            bitCount += width
            while bitCount >= 8 {
                output.append(UInt8(truncatingIfNeeded: bits >> UInt64(bitCount - 8)))
                bitCount -= 8
            }
        }
        func reset() {
            for index in keys.indices { keys[index] = 0 }
        }
        put(Self.clear)
        guard let firstByte = input.first else {
            put(Self.end)
            if bitCount > 0 { output.append(UInt8(truncatingIfNeeded: bits << UInt64(8 - bitCount))) }
            return output
        }
        reset()
        var next = Self.first
        var current = Int(firstByte)
        for byte in input.dropFirst() {
            let key = Int32(current << 8 | Int(byte)) + 1
            var slot = Int((UInt32(bitPattern: key) &* 2_654_435_761) >> 19)
            var found = -1
            while keys[slot] != 0 {
                if keys[slot] == key { found = Int(codes[slot]); break }
                slot = (slot + 1) & (Self.slots - 1)
            }
            if found >= 0 {
                current = found
                continue
            }
            put(current)
            keys[slot] = key
            codes[slot] = Int16(next)
            next += 1
            current = Int(byte)
            if next == Self.limit {
                put(Self.clear)
                reset()
                next = Self.first
                width = 9
            } else if next > (1 << width) - 1 {
                width += 1
            }
        }
        put(current)
        // The reader adds a table entry after this last code too, and may widen before EndOfInformation.
        next += 1
        if next == Self.limit {
            put(Self.clear)
            width = 9
        } else if next > (1 << width) - 1 {
            width += 1
        }
        put(Self.end)
        if bitCount > 0 { output.append(UInt8(truncatingIfNeeded: bits << UInt64(8 - bitCount))) }
        return output
    }
}
