/// Why a naming pattern was refused, in words for the person who wrote it.
public struct NamingPatternError: Error, Sendable, Equatable, CustomStringConvertible {
    public let description: String

    init(_ description: String) {
        self.description = description
    }
}

/// A per-investigation file-naming pattern such as
/// `{date:yyyy-MM-dd}_{project}_{sample}_{creator}_{condition}_{type}_v{version}`.
/// Matching a file name yields its fields as annotations; a name that does not fit is reported, never rejected.
public struct NamingPattern: Sendable, Equatable, Codable {
    public static let maxPatternLength = 512
    public static let maxFields = 32
    public static let maxFileNameLength = 1024

    public let pattern: String
    /// Field names in pattern order.
    public let fields: [String]
    private let elements: [Element]

    public enum Match: Sendable, Equatable {
        case matched([String: String])
        case mismatch(String)
    }

    public init(_ pattern: String) throws(NamingPatternError) {
        self.pattern = pattern
        elements = try Self.parse(pattern)
        fields = elements.compactMap { if case .field(let field) = $0 { field.name } else { nil } }
    }

    // Stored as the pattern text alone, so a saved pattern is re-validated when read back.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        let text = try container.decode(String.self)
        let parsed: [Element]
        do {
            parsed = try Self.parse(text)
        } catch {
            throw DecodingError.dataCorruptedError(in: container, debugDescription: error.description)
        }
        pattern = text
        elements = parsed
        fields = parsed.compactMap { if case .field(let field) = $0 { field.name } else { nil } }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(pattern)
    }

    public static func == (lhs: NamingPattern, rhs: NamingPattern) -> Bool {
        lhs.pattern == rhs.pattern
    }
}

// MARK: - Pattern model and parsing

extension NamingPattern {
    enum Element: Sendable, Equatable {
        case literal([Character])
        case field(Field)
    }

    struct Field: Sendable, Equatable {
        var name: String
        var kind: Kind
    }

    enum Kind: Sendable, Equatable {
        case text, int, alnum
        case date(DateFormat)

        /// Only a fixed-width field may be followed directly by another field: its end is known without a separator.
        var width: Int? {
            if case .date(let format) = self { format.slots.count } else { nil }
        }

        /// For the variable-width kinds: whether the character may be part of the value.
        func accepts(_ character: Character) -> Bool {
            switch self {
            case .text: character != "/"
            case .int: character.asciiDigit != nil
            case .alnum: character.isLetter || character.asciiDigit != nil
            case .date: false
            }
        }
    }

    static func parse(_ pattern: String) throws(NamingPatternError) -> [Element] {
        guard !pattern.isEmpty else { throw NamingPatternError("the pattern is empty") }
        let chars = Array(pattern)
        guard chars.count <= maxPatternLength else {
            throw NamingPatternError("the pattern is \(chars.count) characters long, more than \(maxPatternLength)")
        }
        guard !pattern.unicodeScalars.contains("/") else {
            throw NamingPatternError("the pattern contains '/': a pattern describes a file name, not a path")
        }
        var elements: [Element] = []
        var literal: [Character] = []
        var names: [String] = []
        var index = 0
        while index < chars.count {
            let character = chars[index]
            let doubled = index + 1 < chars.count && chars[index + 1] == character
            if character == "{" {
                if doubled {
                    literal.append("{")
                    index += 2
                    continue
                }
                guard let close = chars[(index + 1)...].firstIndex(where: { $0 == "{" || $0 == "}" }) else {
                    throw NamingPatternError("unbalanced braces: '{' at character \(index + 1) is never closed (write '{{' for a literal brace)")
                }
                guard chars[close] == "}" else {
                    throw NamingPatternError("nested braces: '{' at character \(close + 1) is inside the field opened at character \(index + 1)")
                }
                let field = try parseField(String(chars[(index + 1) ..< close]), at: index + 1)
                guard !names.contains(field.name) else { throw NamingPatternError("field {\(field.name)} appears twice") }
                guard names.count < maxFields else { throw NamingPatternError("more than \(maxFields) fields") }
                names.append(field.name)
                if !literal.isEmpty { elements.append(.literal(literal)) }
                literal = []
                elements.append(.field(field))
                index = close + 1
            } else if character == "}" {
                guard doubled else {
                    throw NamingPatternError("unbalanced braces: '}' at character \(index + 1) has no matching '{' (write '}}' for a literal brace)")
                }
                literal.append("}")
                index += 2
            } else {
                literal.append(character)
                index += 1
            }
        }
        if !literal.isEmpty { elements.append(.literal(literal)) }
        for (first, second) in zip(elements, elements.dropFirst()) {
            if case .field(let a) = first, case .field(let b) = second, a.kind.width == nil {
                throw NamingPatternError("ambiguous: {\(a.name)} and {\(b.name)} have no literal text between them, so where {\(a.name)} ends is unknown; "
                    + "put a separator between them or give {\(a.name)} a date format")
            }
        }
        return elements
    }

    private static func parseField(_ body: String, at position: Int) throws(NamingPatternError) -> Field {
        let parts = body.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false)
        let name = String(parts[0])
        guard !name.isEmpty else { throw NamingPatternError("empty field name at character \(position)") }
        let chars = Array(name)
        guard chars.count <= 64, chars[0].isASCII, chars[0].isLetter,
              chars.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_") })
        else {
            throw NamingPatternError("invalid field name '\(name)': a name starts with a letter and has at most 64 letters (A-Z, a-z), digits and underscores")
        }
        guard parts.count > 1 else { return Field(name: name, kind: .text) }
        let format = String(parts[1])
        switch format {
        case "int": return Field(name: name, kind: .int)
        case "alnum": return Field(name: name, kind: .alnum)
        default:
            do {
                return Field(name: name, kind: .date(try DateFormat(format)))
            } catch {
                throw NamingPatternError("unknown format '\(format)' for {\(name)}: \(error.description)")
            }
        }
    }
}

// MARK: - Date formats

extension NamingPattern {
    enum DatePart: Int, Sendable, Equatable, CaseIterable {
        case year, month, day, hour, minute, second

        init?(letter: Character) {
            switch letter {
            case "y": self = .year
            case "M": self = .month
            case "d": self = .day
            case "H": self = .hour
            case "m": self = .minute
            case "s": self = .second
            default: return nil
            }
        }

        var token: String {
            ["yyyy", "MM", "dd", "HH", "mm", "ss"][rawValue]
        }
    }

    enum DateSlot: Sendable, Equatable {
        case digit(DatePart)
        case separator(Character)
    }

    enum DateCheck: Equatable {
        /// The characters stop fitting the format at this offset (or run out there).
        case shape(Int)
        case invalid(String)
        case valid(String)
    }

    /// A date format: one slot per character of the value.
    struct DateFormat: Sendable, Equatable {
        static let separators: Set<Character> = ["-", "_", ".", "T"]
        static let usage = "use int, alnum, or a date format built from yyyy, MM, dd, HH, mm, ss and the separators - _ . T"

        var slots: [DateSlot] = []
        var hasTime = false

        init(_ format: String) throws(NamingPatternError) {
            guard !format.isEmpty else { throw NamingPatternError(Self.usage) }
            let chars = Array(format)
            var seen: Set<DatePart> = []
            var index = 0
            while index < chars.count {
                let character = chars[index]
                if character == "'" {
                    // Quoted separators, as in yyyy-MM-dd'T'HHmmss.
                    guard let close = chars[(index + 1)...].firstIndex(of: "'"), close > index + 1,
                          chars[(index + 1) ..< close].allSatisfy(Self.separators.contains)
                    else { throw NamingPatternError("quotes may only hold the separators - _ . T") }
                    slots += chars[(index + 1) ..< close].map(DateSlot.separator)
                    index = close + 1
                } else if Self.separators.contains(character) {
                    slots.append(.separator(character))
                    index += 1
                } else if let part = DatePart(letter: character) {
                    var run = 1
                    while index + run < chars.count, chars[index + run] == character { run += 1 }
                    let written = String(repeating: character, count: run)
                    guard written == part.token else { throw NamingPatternError("'\(written)' is not a date part; \(Self.usage)") }
                    guard seen.insert(part).inserted else { throw NamingPatternError("\(written) appears twice") }
                    slots += Array(repeating: .digit(part), count: run)
                    index += run
                } else {
                    throw NamingPatternError(Self.usage)
                }
            }
            guard seen.isSuperset(of: [.year, .month, .day]) else { throw NamingPatternError("a date format needs yyyy, MM and dd") }
            guard !seen.contains(.minute) || seen.contains(.hour), !seen.contains(.second) || seen.contains(.minute) else {
                throw NamingPatternError("a time needs HH before mm, and mm before ss")
            }
            hasTime = seen.contains(.hour)
        }

        /// Checks a value (which may be cut short by the end of the name) and normalises it to ISO 8601.
        func check(_ text: ArraySlice<Character>) -> DateCheck {
            var values = Array(repeating: 0, count: DatePart.allCases.count)
            for (offset, slot) in slots.enumerated() {
                guard offset < text.count else { return .shape(offset) }
                let character = text[text.startIndex + offset]
                switch slot {
                case .digit(let part):
                    guard let digit = character.asciiDigit else { return .shape(offset) }
                    values[part.rawValue] = values[part.rawValue] * 10 + digit
                case .separator(let separator):
                    guard character == separator else { return .shape(offset) }
                }
            }
            let (year, month, day) = (values[0], values[1], values[2])
            let (hour, minute, second) = (values[3], values[4], values[5])
            let yearMonth = "\(Self.pad(year, 4))-\(Self.pad(month, 2))"
            guard year > 0 else { return .invalid("year 0000") }
            guard (1 ... 12).contains(month) else { return .invalid("month \(Self.pad(month, 2))") }
            let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
            let days = [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1]
            guard (1 ... days).contains(day) else { return .invalid("\(yearMonth) has \(days) days") }
            guard hour < 24 else { return .invalid("hour \(Self.pad(hour, 2))") }
            guard minute < 60 else { return .invalid("minute \(Self.pad(minute, 2))") }
            guard second < 60 else { return .invalid("second \(Self.pad(second, 2))") }
            let date = "\(yearMonth)-\(Self.pad(day, 2))"
            guard hasTime else { return .valid(date) }
            return .valid("\(date)T\(Self.pad(hour, 2)):\(Self.pad(minute, 2)):\(Self.pad(second, 2))")
        }

        static func pad(_ value: Int, _ width: Int) -> String {
            let digits = String(value)
            return String(repeating: "0", count: max(0, width - digits.count)) + digits
        }
    }
}

extension Character {
    fileprivate var asciiDigit: Int? {
        isASCII ? wholeNumberValue : nil
    }
}

// MARK: - Matching

extension NamingPattern {
    /// Compound extensions that belong together: stripping only `.tif` would leave `.ome` in the stem.
    static let compoundExtensions = [".ome.tiff", ".ome.tif", ".ome.zarr", ".tar.gz"]

    /// The name without its extension. A final dot-part counts as an extension only if it is ASCII letters and
    /// digits with at least one letter, so `sample_v1.2` keeps its version.
    static func stem(of fileName: String) -> String {
        for compound in compoundExtensions where fileName.count > compound.count {
            let tail = fileName.suffix(compound.count)
            if tail.allSatisfy(\.isASCII), tail.lowercased() == compound { return String(fileName.dropLast(compound.count)) }
        }
        guard let dot = fileName.lastIndex(of: "."), dot != fileName.startIndex else { return fileName }
        let suffix = fileName[fileName.index(after: dot)...]
        guard !suffix.isEmpty, suffix.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber) }), suffix.contains(where: \.isLetter) else {
            return fileName
        }
        return String(fileName[..<dot])
    }

    public func match(fileName: String) -> Match {
        let length = fileName.count
        guard length <= Self.maxFileNameLength else {
            return .mismatch("does not match \(pattern): the name is \(length) characters long, more than \(Self.maxFileNameLength)")
        }
        guard !fileName.unicodeScalars.contains("/") else {
            return .mismatch("does not match \(pattern): '\(Self.clip(Array(fileName)[...]))' contains '/'; expected a file name, not a path")
        }
        let text = Array(Self.stem(of: fileName))
        let n = text.count, count = elements.count, row = n + 1
        // Backward dynamic programming over (element, position): reach[i * row + p] says elements i... match
        // exactly text[p...]. For a variable-width field, end[i * row + p] is the end of its shortest value that
        // lets the rest match, so following `end` forwards prefers the shortest earlier fields. O(elements × length).
        var reach = Array(repeating: false, count: (count + 1) * row)
        var end = Array(repeating: -1, count: count * row)
        reach[count * row + n] = true
        for i in stride(from: count - 1, through: 0, by: -1) {
            let here = i * row, next = (i + 1) * row
            switch elements[i] {
            case .literal(let literal):
                for p in 0 ... n where p + literal.count <= n && reach[next + p + literal.count] {
                    reach[here + p] = text[p ..< p + literal.count].elementsEqual(literal)
                }
            case .field(let field):
                if case .date(let format) = field.kind {
                    let width = format.slots.count
                    for p in 0 ... n where p + width <= n && reach[next + p + width] {
                        if case .valid = format.check(text[p ..< p + width]) { reach[here + p] = true }
                    }
                } else {
                    // A value starting at p ends right after p if the rest matches there, otherwise wherever the
                    // shortest value starting at p + 1 ends, provided text[p] itself may be part of the value.
                    for p in stride(from: n - 1, through: 0, by: -1) where field.kind.accepts(text[p]) {
                        let stop = reach[next + p + 1] ? p + 1 : end[here + p + 1]
                        end[here + p] = stop
                        reach[here + p] = stop >= 0
                    }
                }
            }
        }
        guard reach[0] else { return .mismatch("does not match \(pattern): \(diagnose(text))") }
        var values: [String: String] = [:]
        var p = 0
        for (i, element) in elements.enumerated() {
            switch element {
            case .literal(let literal):
                p += literal.count
            case .field(let field):
                if case .date(let format) = field.kind {
                    let width = format.slots.count
                    if case .valid(let iso) = format.check(text[p ..< p + width]) { values[field.name] = iso }
                    p += width
                } else {
                    let stop = end[i * row + p]
                    values[field.name] = String(text[p ..< stop])
                    p = stop
                }
            }
        }
        return .matched(values)
    }

    /// Why no assignment works: a forward pass over the same states records every failure, and the one furthest into
    /// the pattern wins (then the one that got furthest into its own element, then the furthest into the name).
    private func diagnose(_ text: [Character]) -> String {
        let n = text.count, count = elements.count, row = n + 1
        var reached = Array(repeating: false, count: (count + 1) * row)
        reached[0] = true
        var best: (element: Int, progress: Int, position: Int) = (-1, -1, -1)
        func note(_ element: Int, _ progress: Int, _ position: Int) {
            if (element, progress, position) > best { best = (element, progress, position) }
        }
        for i in 0 ..< count {
            let here = i * row, next = (i + 1) * row
            switch elements[i] {
            case .literal(let literal):
                for p in 0 ... n where reached[here + p] {
                    let common = zip(text[p...], literal).prefix { $0 == $1 }.count
                    if common == literal.count { reached[next + p + common] = true } else { note(i, common, p) }
                }
            case .field(let field):
                if case .date(let format) = field.kind {
                    let width = format.slots.count
                    for p in 0 ... n where reached[here + p] {
                        switch format.check(text[p ..< min(p + width, n)]) {
                        case .valid: reached[next + p + width] = true
                        case .shape(let offset): note(i, offset, p)
                        case .invalid: note(i, width, p)
                        }
                    }
                } else {
                    // `open`: some reached start before q has a value running up to q.
                    var open = false
                    for q in 0 ... n {
                        if open { reached[next + q] = true }
                        let accepted = q < n && field.kind.accepts(text[q])
                        if reached[here + q], !accepted { note(i, 0, q) }
                        open = (open || reached[here + q]) && accepted
                    }
                }
            }
        }
        for p in 0 ..< n where reached[count * row + p] { note(count, 0, p) }
        return describe(element: best.element, position: best.position, in: text)
    }

    private func describe(element i: Int, position p: Int, in text: [Character]) -> String {
        let found = p >= text.count ? "the end of the name" : "'\(Self.clip(text[p...]))'"
        func label(_ element: Element) -> String {
            switch element {
            case .literal(let literal): "'\(String(literal))'"
            case .field(let field): "{\(field.name)}"
            }
        }
        guard i >= 0 else { return "no match" }
        guard i < elements.count else { return "expected the end of the name after \(label(elements[i - 1])), found \(found)" }
        switch elements[i] {
        case .literal(let literal):
            let place = i == 0 ? "at the start" : "after \(label(elements[i - 1]))"
            return "expected '\(String(literal))' \(place), found \(found)"
        case .field(let field):
            switch field.kind {
            case .date(let format):
                let value = text[p ..< min(p + format.slots.count, text.count)]
                if case .invalid(let why) = format.check(value) {
                    return "'\(String(value))' is not a date for {\(field.name)} (\(why))"
                }
                let shape = format.slots.map { slot in
                    switch slot {
                    case .digit(let part): part.token.first!
                    case .separator(let separator): separator
                    }
                }
                return "expected a date \(String(shape)) for {\(field.name)}, found \(found)"
            case .int: return "expected digits for {\(field.name)}, found \(found)"
            case .alnum: return "expected letters or digits for {\(field.name)}, found \(found)"
            case .text: return "expected a value for {\(field.name)}, found \(found)"
            }
        }
    }

    private static func clip(_ text: ArraySlice<Character>) -> String {
        text.count > 24 ? String(text.prefix(24)) + "…" : String(text)
    }
}
