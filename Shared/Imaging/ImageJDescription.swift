import Foundation

/// The `key=value` lines ImageJ writes into the first ImageDescription of its TIFFs: hyperstack
/// dimensions, Z spacing, frame interval and the calibration unit.
public struct ImageJDescription: Sendable, Equatable {
    public var images = 1
    public var channels = 1
    public var slices = 1
    public var frames = 1
    /// Micrometres per calibration unit, when the unit is a length ImageJ writes.
    public var micrometresPerUnit: Double?
    public var unit: String?
    /// Z step in the calibration unit.
    public var spacing: Double?
    /// Seconds between frames.
    public var frameInterval: Double?

    /// Descriptions longer than this are not ImageJ's (it writes a few hundred bytes).
    static let maxLength = 64 * 1024
    /// Any dimension above this is refused: ImageJ cannot write it and a hostile file could.
    static let maxDimension = 1 << 24

    /// nil when the text is not an ImageJ description; an error when it is one but cannot be trusted.
    public init?(_ text: String) throws(TIFFError) {
        guard text.hasPrefix("ImageJ=") else { return nil }
        guard text.utf8.count <= Self.maxLength else { throw TIFFError("ImageJ description longer than \(Self.maxLength) bytes") }
        var values: [String: String] = [:]
        for line in text.split(whereSeparator: { $0 == "\n" || $0 == "\r" }) {
            guard let equals = line.firstIndex(of: "=") else { continue }
            values[String(line[..<equals]).trimmingCharacters(in: .whitespaces)] = String(line[line.index(after: equals)...]).trimmingCharacters(in: .whitespaces)
        }
        func count(_ key: String) throws(TIFFError) -> Int? {
            guard let text = values[key] else { return nil }
            guard let value = Int(text), (1 ... Self.maxDimension).contains(value) else {
                throw TIFFError("ImageJ description: \(key)=\(text.prefix(40)) is not a count between 1 and \(Self.maxDimension)")
            }
            return value
        }
        func positive(_ key: String) throws(TIFFError) -> Double? {
            guard let text = values[key] else { return nil }
            guard let value = Double(text), value.isFinite, value > 0 else {
                throw TIFFError("ImageJ description: \(key)=\(text.prefix(40)) is not a positive number")
            }
            return value
        }
        images = try count("images") ?? 1
        channels = try count("channels") ?? 1
        slices = try count("slices") ?? 1
        frames = try count("frames") ?? 1
        // A plain stack names only `images`: ImageJ treats it as Z.
        if values["channels"] == nil, values["slices"] == nil, values["frames"] == nil { slices = images }
        let (product, overflow) = channels.multipliedReportingOverflow(by: slices)
        guard !overflow, product.multipliedReportingOverflow(by: frames) == (images, false) else {
            throw TIFFError("ImageJ description: channels=\(channels) x slices=\(slices) x frames=\(frames) is not images=\(images)")
        }
        spacing = try positive("spacing")
        frameInterval = try positive("finterval")
        if let unit = values["unit"] {
            self.unit = unit
            micrometresPerUnit = Self.micrometres(per: unit)
        }
    }

    /// ImageJ spells micrometres several ways (`micron`, `um`, `µm`, and `\u00B5m` escaped in the text).
    static func micrometres(per unit: String) -> Double? {
        switch unit.lowercased() {
        case "micron", "microns", "um", "µm", "μm", "\\u00b5m": 1
        case "nm", "nanometer", "nanometre": 1e-3
        case "mm", "millimeter", "millimetre": 1e3
        case "cm", "centimeter", "centimetre": 1e4
        case "m", "meter", "metre": 1e6
        case "inch", "in": 25_400
        default: nil
        }
    }
}
