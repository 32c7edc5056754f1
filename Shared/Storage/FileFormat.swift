/// What a file is, from its first bytes (and the first TIFF directory), falling back to its
/// extension for formats without a reliable signature. Names are stable catalog values.
public enum FileFormat: String, Sendable, CaseIterable {
    case omeTIFF = "ome-tiff"
    case imageJTIFF = "imagej-tiff"
    case tiff
    case bigTIFF = "bigtiff"
    case lsm, czi, lif, nd2, vsi, ims, oib, oir, dv, hdf5, png, jpeg, zarr
    case unknown

    /// Formats the pipeline reads natively (the converter's libtiff path).
    public var isTIFFFamily: Bool { [.omeTIFF, .imageJTIFF, .tiff, .bigTIFF, .lsm].contains(self) }

    static let byExtension: [String: FileFormat] = [
        "czi": .czi, "lif": .lif, "nd2": .nd2, "vsi": .vsi, "ims": .ims, "oib": .oib, "oir": .oir,
        "dv": .dv, "r3d": .dv, "lsm": .lsm, "h5": .hdf5, "hdf5": .hdf5, "png": .png, "jpg": .jpeg, "jpeg": .jpeg,
    ]
}

/// Reads a file's format from its content. Every offset and count comes from the file, so each is
/// checked against the file size and a small bound before anything is read.
public enum FormatSniffer {
    /// How much of an ImageDescription is read to look for OME-XML or an ImageJ header.
    static let descriptionProbeBytes = 64 * 1024
    static let maxDirectoryEntries = 4096

    /// `read(offset, count)` returns up to `count` bytes at `offset` (fewer at the end of the file).
    public static func detect(name: RawPath, size: Int64, read: (Int64, Int) -> [UInt8]) -> FileFormat {
        let head = read(0, 16)
        let byExtension = extensionFormat(of: name)
        if let tiff = tiffFormat(head: head, size: size, read: read) {
            // TIFF containers of vendor formats keep the vendor's name.
            if let byExtension, [.lsm, .vsi].contains(byExtension) { return byExtension }
            return tiff
        }
        if head.starts(with: Array("ZISRAWFILE".utf8)) { return .czi }
        if head.starts(with: [0xDA, 0xCE, 0xBE, 0x0A]) { return .nd2 }
        if head.count >= 9, head.starts(with: [0x70, 0, 0, 0]), head[8] == 0x2A { return .lif }
        if head.starts(with: [0x89, 0x48, 0x44, 0x46, 0x0D, 0x0A, 0x1A, 0x0A]) { return byExtension == .ims ? .ims : .hdf5 }
        if head.starts(with: [0x89, 0x50, 0x4E, 0x47]) { return .png }
        if head.starts(with: [0xFF, 0xD8, 0xFF]) { return .jpeg }
        if head.starts(with: [0xD0, 0xCF, 0x11, 0xE0]), byExtension == .oib { return .oib }
        return byExtension ?? .unknown
    }

    static func extensionFormat(of name: RawPath) -> FileFormat? {
        guard let dot = name.bytes.lastIndex(of: UInt8(ascii: ".")),
              !name.bytes[dot...].contains(UInt8(ascii: "/")) else { return nil }
        let ext = String(decoding: name.bytes[(dot + 1)...], as: UTF8.self).lowercased()
        return FileFormat.byExtension[ext]
    }

    static func tiffFormat(head: [UInt8], size: Int64, read: (Int64, Int) -> [UInt8]) -> FileFormat? {
        guard head.count >= 8 else { return nil }
        let little: Bool
        switch (head[0], head[1]) {
        case (0x49, 0x49): little = true
        case (0x4D, 0x4D): little = false
        default: return nil
        }
        let reader = Endian(little: little)
        let magic = reader.uint(head, at: 2, width: 2)
        let big: Bool
        let firstIFD: UInt64
        switch magic {
        case 42:
            big = false
            firstIFD = reader.uint(head, at: 4, width: 4)
        case 43:
            guard head.count >= 16, reader.uint(head, at: 4, width: 2) == 8, reader.uint(head, at: 6, width: 2) == 0 else { return nil }
            big = true
            firstIFD = reader.uint(head, at: 8, width: 8)
        default:
            return nil
        }
        let plain: FileFormat = big ? .bigTIFF : .tiff
        guard let description = imageDescription(ifd: firstIFD, big: big, reader: reader, size: size, read: read) else { return plain }
        if description.starts(with: Array("ImageJ=".utf8)) { return .imageJTIFF }
        if containsOMERoot(description) { return .omeTIFF }
        return plain
    }

    /// The first IFD's ImageDescription (tag 270), at most `descriptionProbeBytes` of it.
    static func imageDescription(ifd: UInt64, big: Bool, reader: Endian, size: Int64, read: (Int64, Int) -> [UInt8]) -> [UInt8]? {
        let countWidth = big ? 8 : 2, entryWidth = big ? 20 : 12, valueWidth = big ? 8 : 4
        guard ifd >= 8, ifd < UInt64(size) else { return nil }
        let countBytes = read(Int64(ifd), countWidth)
        guard countBytes.count == countWidth else { return nil }
        let count = reader.uint(countBytes, at: 0, width: countWidth)
        guard count > 0, count <= UInt64(maxDirectoryEntries) else { return nil }
        let entries = read(Int64(ifd) + Int64(countWidth), Int(count) * entryWidth)
        guard entries.count == Int(count) * entryWidth else { return nil }
        for index in 0 ..< Int(count) {
            let base = index * entryWidth
            guard reader.uint(entries, at: base, width: 2) == 270, reader.uint(entries, at: base + 2, width: 2) == 2 else { continue }
            let length = reader.uint(entries, at: base + 4, width: big ? 8 : 4)
            guard length > 0, length <= UInt64(size) else { return nil }
            let probe = Int(min(length, UInt64(descriptionProbeBytes)))
            if length <= UInt64(valueWidth) {
                return Array(entries[(base + 4 + (big ? 8 : 4)) ..< (base + 4 + (big ? 8 : 4) + probe)])
            }
            let offset = reader.uint(entries, at: base + 4 + (big ? 8 : 4), width: valueWidth)
            guard offset < UInt64(size), length <= UInt64(size) - offset else { return nil }
            return read(Int64(offset), probe)
        }
        return nil
    }

    /// An `<OME` element (possibly prefixed, `<ome:OME`) in the description.
    static func containsOMERoot(_ text: [UInt8]) -> Bool {
        let lt = UInt8(ascii: "<")
        var index = text.startIndex
        while let start = text[index...].firstIndex(of: lt) {
            var name = text[(start + 1)...].prefix { $0 != UInt8(ascii: " ") && $0 != UInt8(ascii: ">") && $0 != UInt8(ascii: "\n") && $0 != UInt8(ascii: "\t") && $0 != UInt8(ascii: "\r") }
            if let colon = name.lastIndex(of: UInt8(ascii: ":")) { name = name[(colon + 1)...] }
            if name.elementsEqual("OME".utf8) { return true }
            index = start + 1
        }
        return false
    }

    struct Endian {
        let little: Bool
        func uint(_ bytes: [UInt8], at offset: Int, width: Int) -> UInt64 {
            guard offset >= 0, offset + width <= bytes.count else { return 0 }
            var value: UInt64 = 0
            for index in 0 ..< width {
                let byte = UInt64(bytes[offset + (little ? width - 1 - index : index)])
                value = value << 8 | byte
            }
            return value
        }
    }
}
