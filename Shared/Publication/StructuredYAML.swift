/// A value of a YAML document as the publication file uses it: text, lists and mappings.
public enum YAMLValue: Sendable, Equatable {
    case null
    case string(String)
    case list([YAMLValue])
    /// Keys in file order.
    case map([(key: String, value: YAMLValue)])

    public static func == (lhs: YAMLValue, rhs: YAMLValue) -> Bool {
        switch (lhs, rhs) {
        case (.null, .null): true
        case (.string(let a), .string(let b)): a == b
        case (.list(let a), .list(let b)): a == b
        case (.map(let a), .map(let b)): a.count == b.count && zip(a, b).allSatisfy { $0.key == $1.key && $0.value == $1.value }
        default: false
        }
    }

    /// The same value as Foundation's JSON objects (every scalar a string; null as NSNull).
    public var jsonObject: Any {
        switch self {
        case .null: return NSNull()
        case .string(let text): return text
        case .list(let items): return items.map(\.jsonObject)
        case .map(let entries): return Dictionary(entries.map { ($0.key, $0.value.jsonObject) }, uniquingKeysWith: { first, _ in first })
        }
    }
}

import Foundation

/// Why a YAML file was refused, with its line.
public struct YAMLError: Error, Sendable, Equatable, CustomStringConvertible {
    public let line: Int
    public let message: String
    public var description: String { "line \(line): \(message)" }
}

/// A small, strict YAML reader for structured files (the publication file): block mappings and
/// sequences (also of mappings, `- name: …`), flow lists and flow mappings on one line, plain,
/// single- and double-quoted scalars, `|` and `>` block scalars, comments. Anchors, aliases, tags,
/// complex keys, several documents and tabs for indentation are refused with the line rather than
/// guessed at. Every scalar is text: types are the reader's business, not YAML's.
///
/// Bounded: at most `maxBytes`, `maxDepth` levels (the recursion is bounded by it) and `maxNodes`
/// values, so a hostile file costs at most a scan of its bytes.
public struct StructuredYAML {
    public static let maxBytes = 256 << 10
    public static let maxDepth = 16
    public static let maxNodes = 20_000

    struct Line {
        var indent: Int
        var text: Substring
        let number: Int
    }

    private var lines: [Line] = []
    private var raw: [Substring] = []
    private var index = 0
    private var nodes = 0

    /// Parses a whole document; its top level must be a mapping.
    public static func parse(_ bytes: [UInt8]) throws(YAMLError) -> YAMLValue {
        guard bytes.count <= maxBytes else { throw YAMLError(line: 0, message: "the file is over \(maxBytes) bytes") }
        guard let text = String(validating: bytes, as: UTF8.self) else { throw YAMLError(line: 0, message: "the file is not UTF-8") }
        var parser = StructuredYAML()
        try parser.split(text)
        guard !parser.lines.isEmpty else { throw YAMLError(line: 1, message: "the document is empty") }
        guard parser.lines[0].indent == 0 else { throw YAMLError(line: parser.lines[0].number, message: "the document must start at column 1") }
        let value = try parser.block(indent: 0, depth: 1)
        guard case .map = value else { throw YAMLError(line: parser.lines[0].number, message: "the document must be a mapping of keys to values") }
        if parser.index < parser.lines.count {
            throw YAMLError(line: parser.lines[parser.index].number, message: "unexpected indentation")
        }
        return value
    }

    // MARK: - Lines

    private mutating func split(_ text: String) throws(YAMLError) {
        var body = Substring(text)
        if body.hasPrefix("\u{FEFF}") { body = body.dropFirst() }
        raw = body.split(separator: "\n", omittingEmptySubsequences: false).map { $0.hasSuffix("\r") ? $0.dropLast() : $0 }
        for (offset, line) in raw.enumerated() {
            let number = offset + 1
            if line.unicodeScalars.contains(where: { ($0.value < 0x20 && $0 != "\t") || $0.value == 0x7F }) {
                throw YAMLError(line: number, message: "control characters are not allowed")
            }
            let indent = line.prefix { $0 == " " }.count
            let content = line.dropFirst(indent)
            if content.hasPrefix("\t") { throw YAMLError(line: number, message: "indent with spaces, not tabs") }
            if content.isEmpty || content.hasPrefix("#") { continue }
            if content == "---" || content.hasPrefix("--- ") {
                guard lines.isEmpty else { throw YAMLError(line: number, message: "one document per file") }
                continue
            }
            if content == "..." || content.hasPrefix("%") { throw YAMLError(line: number, message: "directives and document markers are not supported") }
            lines.append(Line(indent: indent, text: content, number: number))
        }
    }

    private mutating func count(_ line: Int) throws(YAMLError) {
        nodes += 1
        if nodes > Self.maxNodes { throw YAMLError(line: line, message: "more than \(Self.maxNodes) values") }
    }

    // MARK: - Blocks

    private static func isSequenceItem(_ text: Substring) -> Bool { text == "-" || text.hasPrefix("- ") }

    private mutating func block(indent: Int, depth: Int) throws(YAMLError) -> YAMLValue {
        guard depth <= Self.maxDepth else { throw YAMLError(line: lines[index].number, message: "nested deeper than \(Self.maxDepth) levels") }
        return Self.isSequenceItem(lines[index].text) ? try sequence(indent: indent, depth: depth) : try mapping(indent: indent, depth: depth)
    }

    private mutating func mapping(indent: Int, depth: Int) throws(YAMLError) -> YAMLValue {
        var entries: [(key: String, value: YAMLValue)] = []
        while index < lines.count, lines[index].indent == indent, !Self.isSequenceItem(lines[index].text) {
            let line = lines[index]
            try count(line.number)
            let (key, rest) = try Self.key(line)
            guard !entries.contains(where: { $0.key == key }) else { throw YAMLError(line: line.number, message: "key '\(key)' is given twice") }
            index += 1
            entries.append((key, try value(after: rest, indent: indent, line: line, depth: depth)))
        }
        if index < lines.count, lines[index].indent > indent {
            throw YAMLError(line: lines[index].number, message: "unexpected indentation")
        }
        return .map(entries)
    }

    private mutating func sequence(indent: Int, depth: Int) throws(YAMLError) -> YAMLValue {
        var items: [YAMLValue] = []
        while index < lines.count, lines[index].indent == indent, Self.isSequenceItem(lines[index].text) {
            let line = lines[index]
            try count(line.number)
            let rest = line.text.dropFirst().drop { $0 == " " }
            if rest.isEmpty || rest.hasPrefix("#") {
                index += 1
                items.append(try nested(indent: indent, line: line, depth: depth, sequenceAllowed: false))
            } else if Self.startsMapping(rest) {
                // `- key: value`: a mapping whose keys line up with this first one.
                lines[index].indent = indent + (line.text.count - rest.count)
                lines[index].text = rest
                items.append(try mapping(indent: lines[index].indent, depth: depth + 1))
            } else {
                index += 1
                items.append(try inline(rest, line: line.number))
            }
        }
        if index < lines.count, lines[index].indent > indent {
            throw YAMLError(line: lines[index].number, message: "unexpected indentation")
        }
        return .list(items)
    }

    /// The value after `key:`: inline, a block scalar, or a nested block on the next lines.
    private mutating func value(after rest: Substring, indent: Int, line: Line, depth: Int) throws(YAMLError) -> YAMLValue {
        let trimmed = rest.drop { $0 == " " }
        if trimmed.isEmpty || trimmed.hasPrefix("#") {
            return try nested(indent: indent, line: line, depth: depth, sequenceAllowed: true)
        }
        if let style = trimmed.first, style == "|" || style == ">" {
            return try blockScalar(header: trimmed, indent: indent, line: line)
        }
        return try inline(trimmed, line: line.number)
    }

    private mutating func nested(indent: Int, line: Line, depth: Int, sequenceAllowed: Bool) throws(YAMLError) -> YAMLValue {
        guard index < lines.count else { return .null }
        let next = lines[index]
        if next.indent > indent { return try block(indent: next.indent, depth: depth + 1) }
        // `key:` followed by `- item` at the same indentation is a list (a common YAML style).
        if sequenceAllowed, next.indent == indent, Self.isSequenceItem(next.text) { return try sequence(indent: indent, depth: depth + 1) }
        return .null
    }

    /// `|` keeps line breaks, `>` folds them into spaces; `-` strips the final break, `+` is refused.
    private mutating func blockScalar(header: Substring, indent: Int, line: Line) throws(YAMLError) -> YAMLValue {
        let style = header.first!
        let modifiers = header.dropFirst().prefix { $0 != " " && $0 != "#" }
        guard modifiers.isEmpty || modifiers == "-" else {
            throw YAMLError(line: line.number, message: "block scalar indicators other than | > |- >- are not supported")
        }
        var collected: [Substring] = []
        var rawIndex = line.number   // the raw line after the header (0-based index = number)
        var blockIndent: Int?
        while rawIndex < raw.count {
            let text = raw[rawIndex]
            let spaces = text.prefix { $0 == " " }.count
            if text.dropFirst(spaces).isEmpty { collected.append(""); rawIndex += 1; continue }
            if blockIndent == nil { blockIndent = spaces }
            guard spaces > indent, spaces >= blockIndent! else { break }
            collected.append(text.dropFirst(blockIndent!))
            rawIndex += 1
        }
        while collected.last == "" { collected.removeLast() }
        // The structured lines inside the block scalar are text, not structure.
        while index < lines.count, lines[index].number <= rawIndex { index += 1 }
        let body = style == "|" ? collected.joined(separator: "\n") : collected.map { $0.isEmpty ? "\n" : String($0) }
            .joined(separator: " ").replacingOccurrences(of: " \n ", with: "\n")
        return .string(modifiers == "-" ? body : body + "\n")
    }

    // MARK: - Keys and inline values

    private static func startsMapping(_ text: Substring) -> Bool {
        guard let colon = text.firstIndex(of: ":"), let first = text.first, first != "\"", first != "'", first != "[", first != "{" else { return false }
        let after = text.index(after: colon)
        return after == text.endIndex || text[after] == " "
    }

    private static func key(_ line: Line) throws(YAMLError) -> (String, Substring) {
        let text = line.text
        if let first = text.first, "?&*!|>'\"[{%@`".contains(first) {
            throw YAMLError(line: line.number, message: "keys must be plain words (complex keys, anchors, aliases and tags are not supported)")
        }
        guard let colon = text.firstIndex(of: ":") else { throw YAMLError(line: line.number, message: "expected 'key: value'") }
        let after = text.index(after: colon)
        guard after == text.endIndex || text[after] == " " else { throw YAMLError(line: line.number, message: "expected a space after ':'") }
        let key = text[..<colon].trimmingCharacters(in: .whitespaces)
        guard !key.isEmpty, key.count <= 128, key.allSatisfy({ $0.isLetter || $0.isNumber || "_-. ".contains($0) }) else {
            throw YAMLError(line: line.number, message: "'\(key.prefix(40))' is not a plain key")
        }
        return (key, text[after...])
    }

    private mutating func inline(_ text: Substring, line: Int) throws(YAMLError) -> YAMLValue {
        var cursor = text.startIndex
        let value = try flowValue(text, &cursor, line: line, depth: 0)
        let rest = text[cursor...].drop { $0 == " " }
        guard rest.isEmpty || rest.hasPrefix("#") else { throw YAMLError(line: line, message: "unexpected '\(rest.prefix(20))' after the value") }
        return value
    }

    /// One value inside a line: a quoted or plain scalar, `[…]` or `{…}` (flow collections nest at
    /// most two levels: a list of mappings).
    private mutating func flowValue(_ text: Substring, _ cursor: inout Substring.Index, line: Int, depth: Int, inFlow: Bool = false) throws(YAMLError) -> YAMLValue {
        try count(line)
        while cursor < text.endIndex, text[cursor] == " " { cursor = text.index(after: cursor) }
        guard cursor < text.endIndex else { return .null }
        let first = text[cursor]
        switch first {
        case "[", "{":
            guard depth < 2 else { throw YAMLError(line: line, message: "flow collections nested too deeply") }
            let closing: Character = first == "[" ? "]" : "}"
            cursor = text.index(after: cursor)
            var items: [YAMLValue] = [], entries: [(key: String, value: YAMLValue)] = []
            while true {
                while cursor < text.endIndex, text[cursor] == " " { cursor = text.index(after: cursor) }
                guard cursor < text.endIndex else { throw YAMLError(line: line, message: "'\(first)' is not closed on its line") }
                if text[cursor] == closing, items.isEmpty, entries.isEmpty { cursor = text.index(after: cursor); break }
                if first == "{" {
                    let keyStart = cursor
                    while cursor < text.endIndex, text[cursor] != ":" , text[cursor] != "," , text[cursor] != "}" { cursor = text.index(after: cursor) }
                    guard cursor < text.endIndex, text[cursor] == ":" else { throw YAMLError(line: line, message: "expected 'key: value' in '{…}'") }
                    let key = text[keyStart ..< cursor].trimmingCharacters(in: .whitespaces)
                    guard !key.isEmpty, key.allSatisfy({ $0.isLetter || $0.isNumber || "_-. ".contains($0) }) else {
                        throw YAMLError(line: line, message: "'\(key.prefix(40))' is not a plain key")
                    }
                    guard !entries.contains(where: { $0.key == key }) else { throw YAMLError(line: line, message: "key '\(key)' is given twice") }
                    cursor = text.index(after: cursor)
                    entries.append((key, try flowValue(text, &cursor, line: line, depth: depth + 1, inFlow: true)))
                } else {
                    items.append(try flowValue(text, &cursor, line: line, depth: depth + 1, inFlow: true))
                }
                while cursor < text.endIndex, text[cursor] == " " { cursor = text.index(after: cursor) }
                guard cursor < text.endIndex else { throw YAMLError(line: line, message: "'\(first)' is not closed on its line") }
                if text[cursor] == "," { cursor = text.index(after: cursor); continue }
                guard text[cursor] == closing else { throw YAMLError(line: line, message: "expected ',' or '\(closing)'") }
                cursor = text.index(after: cursor)
                break
            }
            return first == "[" ? .list(items) : .map(entries)
        case "\"":
            return .string(try doubleQuoted(text, &cursor, line: line))
        case "'":
            var result = ""
            cursor = text.index(after: cursor)
            while true {
                guard cursor < text.endIndex else { throw YAMLError(line: line, message: "a quoted value is not closed on its line") }
                let character = text[cursor]
                cursor = text.index(after: cursor)
                if character == "'" {
                    if cursor < text.endIndex, text[cursor] == "'" { result.append("'"); cursor = text.index(after: cursor); continue }
                    return .string(result)
                }
                result.append(character)
            }
        case "&", "*", "!", "%", "@", "`", "|", ">", "?":
            throw YAMLError(line: line, message: "'\(first)' at the start of a value is not supported (anchors, aliases, tags, block scalars there); quote the value")
        default:
            let start = cursor
            while cursor < text.endIndex {
                let character = text[cursor]
                if inFlow, ",]}".contains(character) { break }
                if character == "#", cursor > start, text[text.index(before: cursor)] == " " { break }
                if character == ":", text.index(after: cursor) == text.endIndex || text[text.index(after: cursor)] == " " {
                    throw YAMLError(line: line, message: "a value containing ': ' must be quoted")
                }
                cursor = text.index(after: cursor)
            }
            let plain = text[start ..< cursor].trimmingCharacters(in: .whitespaces)
            if ["~", "null", "Null", "NULL"].contains(plain) { return .null }
            return .string(plain)
        }
    }

    private func doubleQuoted(_ text: Substring, _ cursor: inout Substring.Index, line: Int) throws(YAMLError) -> String {
        var result = ""
        cursor = text.index(after: cursor)
        while true {
            guard cursor < text.endIndex else { throw YAMLError(line: line, message: "a quoted value is not closed on its line") }
            let character = text[cursor]
            cursor = text.index(after: cursor)
            if character == "\"" { return result }
            guard character == "\\" else { result.append(character); continue }
            guard cursor < text.endIndex else { throw YAMLError(line: line, message: "a quoted value ends in '\\'") }
            let escape = text[cursor]
            cursor = text.index(after: cursor)
            switch escape {
            case "\"": result.append("\"")
            case "\\": result.append("\\")
            case "/": result.append("/")
            case "n": result.append("\n")
            case "t": result.append("\t")
            case "u":
                let end = text.index(cursor, offsetBy: 4, limitedBy: text.endIndex) ?? text.endIndex
                guard let code = UInt32(text[cursor ..< end], radix: 16), text.distance(from: cursor, to: end) == 4,
                      let scalar = Unicode.Scalar(code), scalar.value >= 0x20 else {
                    throw YAMLError(line: line, message: "'\\u' needs four hex digits of a printable character")
                }
                result.unicodeScalars.append(scalar)
                cursor = end
            default: throw YAMLError(line: line, message: "unknown escape '\\\(escape)'")
            }
        }
    }
}

extension PublicationRequest {
    /// Reads the YAML form (the same fields as the JSON one).
    public static func parse(yaml bytes: [UInt8]) throws(PublicationError) -> PublicationRequest {
        let value: YAMLValue
        do { value = try StructuredYAML.parse(bytes) } catch {
            throw PublicationError([.init(field: "", message: error.description)])
        }
        guard let data = try? JSONSerialization.data(withJSONObject: value.jsonObject) else {
            throw PublicationError([.init(field: "", message: "cannot be read as a publication")])
        }
        return try parse(json: data)
    }
}
