import Foundation

/// The limits a verdict is judged by. Defaults are the facility's unless an instrument's or an
/// investigation's settings override some of them (investigation over instrument over default).
public struct QualityThresholds: Codable, Sendable, Equatable {
    /// Share of pixels at the detector maximum: warn above 0.1 %, fail above 1 %.
    public var saturationWarn = 0.001
    public var saturationFail = 0.01
    /// Share of pixels at zero (offset set too low clips the background): warn above 1 %.
    public var zeroWarn = 0.01
    /// SVI signal-to-noise ratio: warn below 10, fail below 3.
    public var snrWarn = 10.0
    public var snrFail = 3.0
    /// Variance of the Laplacian at the best plane over what noise alone gives (20σ²/16 on 4 × 4 bins): warn below 2.
    public var focusToNoiseWarn = 2.0
    /// Share of the detector range between the 0.1st and 99.9th percentiles: warn below 2 %.
    public var dynamicRangeWarn = 0.02
    /// Field uniformity of flat-field images (100 · min/max): warn below 70, fail below 50.
    public var uniformityWarn = 70.0
    public var uniformityFail = 50.0

    public init() {}

    /// Every setting by name, in documentation order.
    public static var keys: [(name: String, path: WritableKeyPath<QualityThresholds, Double>, meaning: String)] { [
        ("saturationWarn", \.saturationWarn, "share of saturated pixels above which the verdict is warn"),
        ("saturationFail", \.saturationFail, "share of saturated pixels above which the verdict is fail"),
        ("zeroWarn", \.zeroWarn, "share of pixels at zero above which the verdict is warn"),
        ("snrWarn", \.snrWarn, "SNR below which the verdict is warn"),
        ("snrFail", \.snrFail, "SNR below which the verdict is fail"),
        ("focusToNoiseWarn", \.focusToNoiseWarn, "focus over noise (Laplacian variance / (20σ²/16)) below which the verdict is warn"),
        ("dynamicRangeWarn", \.dynamicRangeWarn, "share of the detector range used below which the verdict is warn"),
        ("uniformityWarn", \.uniformityWarn, "flat-field uniformity (%) below which the verdict is warn"),
        ("uniformityFail", \.uniformityFail, "flat-field uniformity (%) below which the verdict is fail"),
    ] }

    public struct Invalid: Error, CustomStringConvertible {
        public let description: String
    }

    /// Applies `name: value` settings (from a file or the catalog); an unknown name or a value
    /// that is not a finite non-negative number is refused with the name.
    public mutating func apply(_ settings: [(key: String, value: String)]) throws(Invalid) {
        for (key, text) in settings {
            guard let entry = Self.keys.first(where: { $0.name == key }) else {
                throw Invalid(description: "unknown QC threshold '\(key.prefix(64))'; known: \(Self.keys.map(\.name).joined(separator: ", "))")
            }
            guard let value = Double(text.trimmingCharacters(in: .whitespaces)), value.isFinite, value >= 0 else {
                throw Invalid(description: "QC threshold \(key): '\(text.prefix(64))' is not a non-negative number")
            }
            self[keyPath: entry.path] = value
        }
        if saturationWarn > saturationFail { throw Invalid(description: "saturationWarn (\(saturationWarn)) is above saturationFail (\(saturationFail))") }
        if snrWarn < snrFail { throw Invalid(description: "snrWarn (\(snrWarn)) is below snrFail (\(snrFail))") }
        if uniformityWarn < uniformityFail { throw Invalid(description: "uniformityWarn (\(uniformityWarn)) is below uniformityFail (\(uniformityFail))") }
    }

    /// The settings that differ from the defaults, as `name: value` pairs.
    public var changes: [(key: String, value: String)] {
        let defaults = QualityThresholds()
        return Self.keys.compactMap { entry in
            self[keyPath: entry.path] == defaults[keyPath: entry.path] ? nil : (entry.name, "\(self[keyPath: entry.path])")
        }
    }
}
