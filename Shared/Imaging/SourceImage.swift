import Foundation

/// What a TIFF holds, read as an OME image: five dimensions, a pixel type, calibration, and where
/// each (c, z, t) plane is stored (a directory and, for multi-sample pixels, a sample).
public struct SourceImage: Sendable {
    public enum Kind: String, Sendable, Codable {
        /// One page (grayscale, or several samples per pixel such as RGB).
        case plain
        /// Several same-shaped pages without other metadata: a Z stack.
        case multipage
        /// An ImageJ hyperstack (`ImageJ=` description).
        case imagej
        /// Already OME-TIFF: the image of record, not converted.
        case ome
    }

    public struct Channel: Sendable, Equatable {
        public var name: String?
        /// OME colour: RGBA packed in a signed 32-bit integer.
        public var color: Int32?
        public var samplesPerPixel = 1
    }

    /// Where one output plane comes from.
    public struct PlaneSource: Sendable, Equatable {
        public var directory: Int
        public var sample: Int
    }

    public var kind: Kind
    public var sizeX: Int, sizeY: Int, sizeZ = 1, sizeC = 1, sizeT = 1
    public var pixelType: PixelType
    public var significantBits: Int
    /// Micrometres per pixel and per Z step; seconds per frame.
    public var physicalSizeX: Double?, physicalSizeY: Double?, physicalSizeZ: Double?
    public var timeIncrement: Double?
    public var channels: [Channel]
    /// ISO 8601 local date-time from the TIFF DateTime tag.
    public var acquisitionDate: String?
    public var instrumentManufacturer: String?, instrumentModel: String?
    public var software: String?
    /// Planes in XYCZT order: plane (c, z, t) is `planes[c + sizeC * (z + sizeZ * t)]`.
    public var planes: [PlaneSource]
    /// Samples stored interleaved per pixel in the source (read together, split into channels).
    public var chunkySamples: Int
    public var directories: [TIFFDirectory]

    public var planeCount: Int { sizeC * sizeZ * sizeT }
    public var planeBytes: Int64 { Int64(sizeX) * Int64(sizeY) * Int64(pixelType.bytes) }
    public var totalBytes: Int64 { planeBytes * Int64(planeCount) }

    /// Reads the directory structure (no pixels) and decides how the pages map to planes.
    public static func inspect(_ reader: TIFFReader) throws(TIFFError) -> SourceImage {
        let all = try reader.directories()
        // Reduced-resolution pages (thumbnails, pyramid levels in the main chain) are not planes.
        let pages = all.filter { !$0.isReducedResolution }
        guard let first = pages.first else { throw TIFFError("\(reader.path): no full-resolution page") }
        for page in pages.dropFirst() where page.width != first.width || page.height != first.height
            || page.samplesPerPixel != first.samplesPerPixel || page.bitsPerSample != first.bitsPerSample
            || page.sampleFormat != first.sampleFormat {
            throw TIFFError("\(reader.path): page \(page.index) is \(page.width)x\(page.height)x\(page.samplesPerPixel) \(page.bitsPerSample)-bit, page \(first.index) is \(first.width)x\(first.height)x\(first.samplesPerPixel) \(first.bitsPerSample)-bit: the pages are not one image")
        }
        let pixelType: PixelType
        do { pixelType = try PixelType(first) } catch { throw TIFFError("\(reader.path): \(error.description)") }
        let samples = first.samplesPerPixel
        var image = SourceImage(
            kind: pages.count == 1 ? .plain : .multipage, sizeX: first.width, sizeY: first.height,
            pixelType: pixelType, significantBits: first.bitsPerSample, channels: [], planes: [],
            chunkySamples: first.planar ? 1 : samples, directories: pages
        )
        image.acquisitionDate = first.dateTime.flatMap(Self.isoDate)
        image.instrumentManufacturer = first.make.flatMap(Self.clean)
        image.instrumentModel = first.model.flatMap(Self.clean)
        image.software = first.software.flatMap(Self.clean)

        var imagejChannels = 1
        guard first.descriptionLength <= reader.limits.maxDescriptionBytes else {
            throw TIFFError("\(reader.path): ImageDescription of \(first.descriptionLength) bytes is over the \(reader.limits.maxDescriptionBytes) accepted")
        }
        if let description = first.description {
            if Self.isOME(description) {
                guard first.descriptionIsUTF8 else { throw TIFFError("\(reader.path): the OME-XML is not valid UTF-8") }
                // No XML parser runs here, but nothing downstream should meet a DTD either.
                if description.contains("<!DOCTYPE") || description.contains("<!ENTITY") {
                    throw TIFFError("\(reader.path): the OME-XML declares a DTD or entities, which are refused (external entities, entity expansion)")
                }
                image.kind = .ome
            } else {
                let imagej: ImageJDescription?
                do { imagej = try ImageJDescription(description) } catch { throw TIFFError("\(reader.path): \(error.description)") }
                if let imagej {
                    image.kind = .imagej
                    guard imagej.images == pages.count else {
                        throw TIFFError("\(reader.path): the ImageJ description announces \(imagej.images) images but the file has \(pages.count) pages (ImageJ's contiguous >4 GiB layout is not read)")
                    }
                    guard imagej.channels == 1 || samples == 1 else {
                        throw TIFFError("\(reader.path): ImageJ hyperstack with \(imagej.channels) channels of \(samples)-sample pixels is not supported")
                    }
                    imagejChannels = imagej.channels
                    image.sizeZ = imagej.slices
                    image.sizeT = imagej.frames
                    if let scale = imagej.micrometresPerUnit {
                        image.physicalSizeX = first.xResolution.map { scale / $0 }
                        image.physicalSizeY = first.yResolution.map { scale / $0 }
                        image.physicalSizeZ = imagej.spacing.map { $0 * scale }
                    }
                    image.timeIncrement = imagej.frameInterval
                }
            }
        }
        if image.kind == .plain || image.kind == .multipage {
            image.sizeZ = pages.count
            // Only a centimetre calibration is trusted: inch values are mostly 72 dpi defaults.
            if first.resolutionUnit == 3 {
                image.physicalSizeX = first.xResolution.map { 1e4 / $0 }
                image.physicalSizeY = first.yResolution.map { 1e4 / $0 }
            }
        }
        image.sizeC = imagejChannels * samples
        let rgb = samples == 3 && (first.photometric == 2 || first.photometric == 6)
        image.channels = (0 ..< image.sizeC).map { c in
            rgb ? Channel(name: ["Red", "Green", "Blue"][c], color: [Int32(bitPattern: 0xFF00_00FF), 0x00FF_00FF, 0x0000_FFFF][c]) : Channel()
        }
        // Page p holds ImageJ channel (p mod C), then Z, then T; samples of one page are channels.
        for t in 0 ..< image.sizeT {
            for z in 0 ..< image.sizeZ {
                for c in 0 ..< image.sizeC {
                    let page = c / samples + imagejChannels * (z + image.sizeZ * t)
                    image.planes.append(PlaneSource(directory: pages[page].index, sample: c % samples))
                }
            }
        }
        // Resolutions are single-precision rationals in libtiff: keep the digits they carry (0.325, not 0.32499999).
        image.physicalSizeX = image.physicalSizeX.map(Self.rounded)
        image.physicalSizeY = image.physicalSizeY.map(Self.rounded)
        image.physicalSizeZ = image.physicalSizeZ.map(Self.rounded)
        return image
    }

    static func rounded(_ value: Double) -> Double {
        Double(String(format: "%.7g", value)) ?? value
    }

    static func isOME(_ description: String) -> Bool {
        let head = description.prefix(4096)
        return head.contains("<OME") && head.contains("openmicroscopy.org/Schemas/OME/")
    }

    /// TIFF DateTime `YYYY:MM:DD HH:MM:SS` as ISO 8601; anything else is ignored.
    static func isoDate(_ text: String) -> String? {
        let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines.union(.controlCharacters))
        let digits = Array(trimmed.utf8)
        guard digits.count == 19 else { return nil }
        for (index, byte) in digits.enumerated() {
            switch index {
            case 4, 7: guard byte == UInt8(ascii: ":") || byte == UInt8(ascii: "-") else { return nil }
            case 10: guard byte == UInt8(ascii: " ") || byte == UInt8(ascii: "T") else { return nil }
            case 13, 16: guard byte == UInt8(ascii: ":") else { return nil }
            default: guard (UInt8(ascii: "0") ... UInt8(ascii: "9")).contains(byte) else { return nil }
            }
        }
        let text = String(decoding: digits, as: UTF8.self)
        let year = text.prefix(4), month = Int(text.dropFirst(5).prefix(2))!, day = Int(text.dropFirst(8).prefix(2))!
        let hour = Int(text.dropFirst(11).prefix(2))!, minute = Int(text.dropFirst(14).prefix(2))!, second = Int(text.dropFirst(17).prefix(2))!
        guard year != "0000", (1 ... 12).contains(month), (1 ... 31).contains(day), hour < 24, minute < 60, second < 61 else { return nil }
        return "\(year)-\(text.dropFirst(5).prefix(2))-\(text.dropFirst(8).prefix(2))T\(text.dropFirst(11).prefix(8))"
    }

    /// A tag string fit for XML: printable, trimmed, bounded.
    static func clean(_ text: String) -> String? {
        let kept = String(String.UnicodeScalarView(text.unicodeScalars.filter { !CharacterSet.controlCharacters.contains($0) }))
            .trimmingCharacters(in: .whitespaces)
        return kept.isEmpty ? nil : String(kept.prefix(256))
    }
}
