/// A file name checked against the facility's naming rules: flagged, never rejected. With the
/// investigation's pattern, the fields it names become annotations.
public struct FileNaming: Codable, Sendable, Equatable {
    public var name: String
    /// Each rule the name breaks, in words.
    public var flags: [String]
    /// The ISO-8601 date found in the name (yyyy-MM-dd), if any.
    public var date: String?
    /// The investigation's naming pattern, when it has one.
    public var pattern: String?
    /// What the pattern took from the name.
    public var fields: [String: String]?
    /// Why the name does not follow the pattern (also listed in `flags`).
    public var mismatch: String?

    public static let maxLength = 128

    public init(fileName: String) {
        name = fileName
        var flags: [String] = []
        if fileName.contains(" ") { flags.append("contains spaces") }
        if fileName.unicodeScalars.contains(where: { !$0.isASCII }) { flags.append("contains accents or other non-ASCII characters") }
        let special = fileName.unicodeScalars.filter { $0.isASCII && !($0.properties.isAlphabetic || $0.properties.numericType != nil || "._-".unicodeScalars.contains($0) || $0 == " ") }
        if !special.isEmpty { flags.append("contains special characters (\(String(String.UnicodeScalarView(special.prefix(8))))") }
        if fileName.count > Self.maxLength { flags.append("longer than \(Self.maxLength) characters (\(fileName.count))") }
        date = Self.isoDate(in: fileName)
        if date == nil { flags.append("no ISO-8601 date (yyyy-MM-dd)") }
        self.flags = flags
    }

    /// The name read with a pattern: its fields, or a flag saying where it departs from it.
    public init(fileName: String, pattern: NamingPattern?) {
        self.init(fileName: fileName)
        guard let pattern else { return }
        self.pattern = pattern.pattern
        switch pattern.match(fileName: fileName) {
        case .matched(let values): fields = values
        case .mismatch(let reason):
            mismatch = reason
            flags.append("does not follow the naming pattern: \(reason)")
        }
    }

    /// The first yyyy-MM-dd with a plausible month and day.
    static func isoDate(in text: String) -> String? {
        let bytes = Array(text.utf8)
        guard bytes.count >= 10 else { return nil }
        func digits(_ range: Range<Int>) -> Int? {
            var value = 0
            for index in range {
                guard (48 ... 57).contains(bytes[index]) else { return nil }
                value = value * 10 + Int(bytes[index] - 48)
            }
            return value
        }
        for start in 0 ... bytes.count - 10 where bytes[start + 4] == UInt8(ascii: "-") && bytes[start + 7] == UInt8(ascii: "-") {
            guard let year = digits(start ..< start + 4), let month = digits(start + 5 ..< start + 7), let day = digits(start + 8 ..< start + 10),
                  year >= 1900, (1 ... 12).contains(month), (1 ... 31).contains(day) else { continue }
            // Not part of a longer number.
            if start > 0, (48 ... 57).contains(bytes[start - 1]) { continue }
            if start + 10 < bytes.count, (48 ... 57).contains(bytes[start + 10]) { continue }
            return String(decoding: bytes[start ..< start + 10], as: UTF8.self)
        }
        return nil
    }
}
