public import FairwayImaging
import Foundation

/// What scoring needs to know beyond the pixels.
public struct QualityOptions: Sendable {
    /// The operator's SignificantBits (a 12-bit camera in a 16-bit container), over anything else.
    public var significantBits: Int?
    /// SignificantBits recorded by the metadata step, used when there is no override.
    public var metadataSignificantBits: Int?
    /// Camera gain (ADU per photon) and offset (ADU) from the instrument's configuration; without
    /// them both are estimated from the image.
    public var gain: Double?
    public var offset: Double?
    /// Where gain and offset came from, for the report (e.g. "instrument Zeiss LSM 980").
    public var calibrationSource = "given"
    /// A flat-field or calibration image: field uniformity is scored.
    public var flatField = false
    public var thresholds = QualityThresholds()
    public var limits = TIFFLimits()
    /// Rows read at once (a multiple of 16, the block side).
    public var bandRows = 64
    public init() {}
}

public struct QualityError: Error, CustomStringConvertible, Sendable {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// Scores an image's pixels, channel by channel, reading each plane band by band.
public enum ImageQuality {
    /// Bumped whenever a metric's definition changes: scores of earlier versions are kept beside the new ones.
    public static let methodVersion = 1

    public static func score(path: String, fileName: String? = nil, options: QualityOptions = QualityOptions()) throws(QualityError) -> QualityReport {
        guard options.bandRows > 0, options.bandRows % blockSide == 0 else { throw QualityError("band rows must be a positive multiple of \(blockSide)") }
        if let bits = options.significantBits, !(1 ... 32).contains(bits) { throw QualityError("significant bits \(bits) must be between 1 and 32") }
        if let gain = options.gain, !(gain > 0 && gain.isFinite) { throw QualityError("gain \(gain) must be a positive number (ADU per photon)") }
        if let offset = options.offset, !offset.isFinite { throw QualityError("offset \(offset) must be a number (ADU)") }
        guard (options.gain == nil) == (options.offset == nil) else { throw QualityError("give both gain and offset, or neither (both are then estimated)") }
        do {
            let reader = try PlaneReader(path: path, fileName: fileName, limits: options.limits)
            let image = reader.image
            switch image.pixelType {
            case .uint8: return try score(UInt8.self, reader, options)
            case .int8: return try score(Int8.self, reader, options)
            case .uint16: return try score(UInt16.self, reader, options)
            case .int16: return try score(Int16.self, reader, options)
            case .uint32: return try score(UInt32.self, reader, options)
            case .int32: return try score(Int32.self, reader, options)
            case .float: return try score(Float.self, reader, options)
            case .double: return try score(Double.self, reader, options)
            }
        } catch let error as TIFFError {
            throw QualityError(error.description)
        } catch {
            throw QualityError("\(error)")
        }
    }

    private static func score<T: ScanSample & Comparable>(_ type: T.Type, _ reader: PlaneReader, _ options: QualityOptions) throws -> QualityReport {
        let image = reader.image
        let container = image.pixelType.bytes * 8
        let (bits, bitsSource): (Int?, String) = {
            // A bit depth deeper than the container (12 bits asked of 8-bit data) cannot apply.
            if let bits = options.significantBits, !image.pixelType.isInteger || bits <= container { return (bits, "override") }
            if let bits = options.metadataSignificantBits, (1 ... container).contains(bits) { return (bits, "metadata") }
            if !image.pixelType.isInteger { return (nil, "container") }
            return image.significantBits < container ? (image.significantBits, "file") : (container, "container")
        }()
        // The detector's range in the type: [0, 2^bits − 1] unsigned, [−2^(bits−1), 2^(bits−1) − 1] signed.
        let signed = T.minimumValue < 0
        let saturation: Double? = image.pixelType.isInteger ? bits.map { signed ? pow(2, Double($0 - 1)) - 1 : pow(2, Double($0)) - 1 } : nil
        let range: Double? = saturation.map { signed ? 2 * $0 + 1 : $0 }

        var channels: [ChannelQuality] = []
        for c in 0 ..< image.sizeC {
            let planes = (0 ..< image.sizeT).flatMap { t in (0 ..< image.sizeZ).map { z in c + image.sizeC * (z + image.sizeZ * t) } }
            let scale: BinScale
            if T.exactBins {
                scale = .exact(minimum: T.minimumValue, count: 1 << (MemoryLayout<T>.size * 8))
            } else {
                var low = Double.infinity, high = -Double.infinity
                for plane in planes {
                    try reader.forEachBand(plane: plane, rows: options.bandRows) { raw, _, _ in
                        for value in raw.bindMemory(to: T.self) where value.isFinite {
                            low = min(low, value.real); high = max(high, value.real)
                        }
                    }
                }
                scale = low <= high ? .linear(low: low, high: high) : .linear(low: 0, high: 1)
            }
            let scan = ChannelScan(width: image.sizeX, scale: scale, saturationLevel: saturation,
                                   zeroClips: image.pixelType.isInteger && !signed)
            for plane in planes {
                try scan.scanPlane(T.self) { body in try reader.forEachBand(plane: plane, rows: options.bandRows, body) }
            }
            channels.append(ChannelMetrics(scan: scan, sizeZ: image.sizeZ, sizeT: image.sizeT, options: options, range: range)
                .quality(index: c, name: image.channels.indices.contains(c) ? image.channels[c].name : nil))
        }

        var report = QualityReport(
            methodVersion: methodVersion, sizeX: image.sizeX, sizeY: image.sizeY, sizeZ: image.sizeZ, sizeC: image.sizeC, sizeT: image.sizeT,
            pixelType: image.pixelType.rawValue, significantBits: bits, significantBitsSource: bitsSource, flatField: options.flatField,
            channels: channels, bestFocusPlane: bestPlane(channels, sizeZ: image.sizeZ), verdict: .pass, reasons: [], tags: [],
            thresholds: options.thresholds
        )
        report.judge(sizeZ: image.sizeZ)
        return report
    }

    /// The Z plane where the channels, each scaled to its own sharpest plane, are sharpest together.
    static func bestPlane(_ channels: [ChannelQuality], sizeZ: Int) -> Int? {
        guard sizeZ > 1 else { return nil }
        var best: (z: Int, score: Double)?
        for z in 0 ..< sizeZ {
            var score = 0.0
            for channel in channels {
                let values = channel.focusByPlane.compactMap { $0 }
                guard let peak = values.max(), peak > 0, let value = channel.focusByPlane[z] else { continue }
                score += value / peak
            }
            if let best, score <= best.score { continue }
            best = (z, score)
        }
        return best?.z
    }
}
