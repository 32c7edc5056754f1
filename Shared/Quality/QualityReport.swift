import FairwayImaging
import Foundation

/// One channel's metrics (over all its Z planes and time points; focus per Z plane).
public struct ChannelQuality: Sendable, Equatable {
    public var index: Int
    public var name: String?
    public var pixels: Int64
    /// The detector maximum (2^SignificantBits − 1 for unsigned data); nil for floating point without an override.
    public var saturationLevel: Double?
    /// Share of pixels at or above `saturationLevel`.
    public var saturationFraction: Double?
    /// Share of pixels at zero.
    public var zeroFraction: Double
    /// SVI/Huygens SNR: √N, N = (brightLevel − offset) / gain photons.
    public var snr: Double?
    public var snrMethod: String
    public var gain: Double?
    public var offset: Double?
    /// 99th percentile of the 16 × 16 block means: the brightest part of the image.
    public var brightLevel: Double?
    /// Mode of the block means at or below their median.
    public var background: Double?
    /// 1.4826 · MAD of horizontal neighbour differences / √2.
    public var noiseSigma: Double?
    /// brightLevel / background.
    public var signalToBackground: Double?
    /// (P99.9 − P0.1) / detector range.
    public var dynamicRangeUsage: Double?
    /// Variance of the Laplacian at the best-focus plane.
    public var focus: Double?
    /// focus / (20 · noiseSigma² / 16): 1 is what noise alone gives.
    public var focusToNoise: Double?
    public var bestFocusPlane: Int?
    /// Variance of the Laplacian per Z plane (mean over time points).
    public var focusByPlane: [Double?]
    /// 100 · min/max of the block means (worst plane), for flat-field images only.
    public var uniformity: Double?
}

/// What `fairway-qc score` prints and the service stores.
public struct QualityReport: Sendable, Equatable {
    public enum Verdict: String, Codable, Sendable, Comparable {
        case pass, warn, fail
        public static func < (a: Verdict, b: Verdict) -> Bool { a.rank < b.rank }
        var rank: Int { self == .pass ? 0 : self == .warn ? 1 : 2 }
    }

    public var methodVersion: Int
    public var sizeX: Int, sizeY: Int, sizeZ: Int, sizeC: Int, sizeT: Int
    public var pixelType: String
    public var significantBits: Int?
    /// Where the significant bits came from: override, metadata, file, or container.
    public var significantBitsSource: String
    public var flatField: Bool
    public var channels: [ChannelQuality]
    public var bestFocusPlane: Int?
    public var verdict: Verdict
    public var reasons: [String]
    /// `qc:saturated`, `qc:out-of-focus`…: what the catalog tags the object with.
    public var tags: [String]
    public var thresholds: QualityThresholds

    /// Bytes per pixel of the image's type.
    public var pixelBytes: Int { PixelType(rawValue: pixelType)?.bytes ?? 0 }
}

extension ChannelQuality: Codable {
    enum CodingKeys: String, CodingKey {
        case index, name, pixels, saturationLevel, saturationFraction, zeroFraction, snr, snrMethod, gain, offset, brightLevel,
             background, noiseSigma, signalToBackground, dynamicRangeUsage, focus, focusToNoise, bestFocusPlane, focusByPlane, uniformity
    }

    // Every key is written, null when a metric does not apply, so readers see the full shape.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(index, forKey: .index); try c.encode(name, forKey: .name); try c.encode(pixels, forKey: .pixels)
        try c.encode(saturationLevel, forKey: .saturationLevel); try c.encode(saturationFraction, forKey: .saturationFraction)
        try c.encode(zeroFraction, forKey: .zeroFraction); try c.encode(snr, forKey: .snr); try c.encode(snrMethod, forKey: .snrMethod)
        try c.encode(gain, forKey: .gain); try c.encode(offset, forKey: .offset); try c.encode(brightLevel, forKey: .brightLevel)
        try c.encode(background, forKey: .background); try c.encode(noiseSigma, forKey: .noiseSigma)
        try c.encode(signalToBackground, forKey: .signalToBackground); try c.encode(dynamicRangeUsage, forKey: .dynamicRangeUsage)
        try c.encode(focus, forKey: .focus); try c.encode(focusToNoise, forKey: .focusToNoise)
        try c.encode(bestFocusPlane, forKey: .bestFocusPlane); try c.encode(focusByPlane, forKey: .focusByPlane)
        try c.encode(uniformity, forKey: .uniformity)
    }
}

extension QualityReport: Codable {
    enum CodingKeys: String, CodingKey {
        case methodVersion, sizeX, sizeY, sizeZ, sizeC, sizeT, pixelType, significantBits, significantBitsSource, flatField,
             channels, bestFocusPlane, verdict, reasons, tags, thresholds
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(methodVersion, forKey: .methodVersion)
        try c.encode(sizeX, forKey: .sizeX); try c.encode(sizeY, forKey: .sizeY); try c.encode(sizeZ, forKey: .sizeZ)
        try c.encode(sizeC, forKey: .sizeC); try c.encode(sizeT, forKey: .sizeT); try c.encode(pixelType, forKey: .pixelType)
        try c.encode(significantBits, forKey: .significantBits); try c.encode(significantBitsSource, forKey: .significantBitsSource)
        try c.encode(flatField, forKey: .flatField); try c.encode(channels, forKey: .channels)
        try c.encode(bestFocusPlane, forKey: .bestFocusPlane); try c.encode(verdict, forKey: .verdict)
        try c.encode(reasons, forKey: .reasons); try c.encode(tags, forKey: .tags); try c.encode(thresholds, forKey: .thresholds)
    }
}

extension QualityReport {
    /// Judges the metrics against `thresholds`: each reason names the channel, the value and the
    /// limit it crossed; the verdict is the worst of them.
    mutating func judge(sizeZ: Int) {
        var verdict = Verdict.pass, reasons: [String] = [], tags: [String] = []
        func flag(_ level: Verdict, _ tag: String, _ reason: String) {
            verdict = max(verdict, level)
            reasons.append(reason)
            if !tags.contains("qc:\(tag)") { tags.append("qc:\(tag)") }
        }
        let t = thresholds
        for channel in channels {
            let label = "channel \(channel.index)" + (channel.name.map { " (\($0))" } ?? "")
            if let fraction = channel.saturationFraction, let level = channel.saturationLevel {
                let text = "\(label): \(percent(fraction)) of pixels saturated at \(number(level))"
                if fraction > t.saturationFail { flag(.fail, "saturated", "\(text) (fail above \(percent(t.saturationFail)))") }
                else if fraction > t.saturationWarn { flag(.warn, "saturated", "\(text) (warn above \(percent(t.saturationWarn)))") }
            }
            if channel.zeroFraction > t.zeroWarn {
                flag(.warn, "clipped-offset", "\(label): \(percent(channel.zeroFraction)) of pixels at zero, the offset may clip the background (warn above \(percent(t.zeroWarn)))")
            }
            if let snr = channel.snr {
                if snr < t.snrFail { flag(.fail, "low-snr", "\(label): SNR \(number(snr)) (fail below \(number(t.snrFail)))") }
                else if snr < t.snrWarn { flag(.warn, "low-snr", "\(label): SNR \(number(snr)) (warn below \(number(t.snrWarn)))") }
            }
            // A flat field has no structure to focus on by design.
            if !flatField, let ratio = channel.focusToNoise, ratio < t.focusToNoiseWarn {
                flag(.warn, "out-of-focus", "\(label): focus \(number(ratio))× what noise alone gives at the best plane: out of focus or no structure (warn below \(number(t.focusToNoiseWarn))×)")
            }
            if let usage = channel.dynamicRangeUsage, usage < t.dynamicRangeWarn {
                flag(.warn, "low-dynamic-range", "\(label): uses \(percent(usage)) of the detector range (warn below \(percent(t.dynamicRangeWarn)))")
            }
            if let uniformity = channel.uniformity {
                let text = "\(label): flat-field uniformity \(number(uniformity)) %"
                if uniformity < t.uniformityFail { flag(.fail, "non-uniform", "\(text) (fail below \(number(t.uniformityFail)) %)") }
                else if uniformity < t.uniformityWarn { flag(.warn, "non-uniform", "\(text) (warn below \(number(t.uniformityWarn)) %)") }
            }
        }
        if let best = bestFocusPlane, sizeZ >= 3, best == 0 || best == sizeZ - 1 {
            flag(.warn, "focus-at-stack-edge", "the sharpest plane is the stack's \(best == 0 ? "first" : "last") (z = \(best)): the stack may not reach the focal plane")
        }
        self.verdict = verdict
        self.reasons = reasons
        self.tags = tags
    }

    private func percent(_ fraction: Double) -> String {
        let value = fraction * 100
        return value == 0 ? "0%" : value < 0.01 ? String(format: "%.2g%%", value) : String(format: "%.2f%%", value).replacingOccurrences(of: ".00%", with: "%")
    }

    private func number(_ value: Double) -> String { String(format: "%.4g", value) }
}
