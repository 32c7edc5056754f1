/// A pixel type OME can describe (the `Type` attribute of `Pixels`).
public enum PixelType: String, Sendable, Codable, CaseIterable {
    case int8, uint8, int16, uint16, int32, uint32, float, double

    public var bytes: Int {
        switch self {
        case .int8, .uint8: 1
        case .int16, .uint16: 2
        case .int32, .uint32, .float: 4
        case .double: 8
        }
    }

    public var isInteger: Bool { self != .float && self != .double }

    /// TIFF SampleFormat: 1 unsigned, 2 signed, 3 IEEE float.
    var sampleFormat: UInt16 {
        switch self {
        case .uint8, .uint16, .uint32: 1
        case .int8, .int16, .int32: 2
        case .float, .double: 3
        }
    }

    init(_ directory: TIFFDirectory) throws(TIFFError) {
        switch (directory.sampleFormat, directory.bitsPerSample) {
        case (.unsigned, 8): self = .uint8
        case (.signed, 8): self = .int8
        case (.unsigned, 16): self = .uint16
        case (.signed, 16): self = .int16
        case (.unsigned, 32): self = .uint32
        case (.signed, 32): self = .int32
        case (.float, 32): self = .float
        case (.float, 64): self = .double
        case let (format, bits):
            throw TIFFError("directory \(directory.index): \(bits)-bit \(format) samples have no OME pixel type")
        }
    }
}
