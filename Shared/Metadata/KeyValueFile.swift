/// One key-value pair from a user metadata file, with the 1-based line it starts on.
public struct KeyValueEntry: Sendable, Equatable {
    public var key: String
    public var value: String
    public var line: Int

    public init(key: String, value: String, line: Int) {
        self.key = key
        self.value = value
        self.line = line
    }
}

/// Why a metadata file was refused, with the line to look at when there is one.
public struct KeyValueFileError: Error, Sendable, Equatable, CustomStringConvertible {
    public let line: Int?
    public let message: String

    public init(line: Int?, message: String) {
        self.line = line
        self.message = message
    }

    public var description: String {
        if let line { "line \(line): \(message)" } else { message }
    }
}

/// User metadata files: what `fairway annotate` imports and the `fairway.yaml` sidecar of an
/// acquisition folder. CSV and TSV hold `key,value` records; YAML is a small documented subset
/// (see `parse`) and anything outside it is refused rather than guessed at.
///
/// Every pass is linear in the input and nothing recurses: nesting is an explicit stack capped
/// at `maxDepth`, so hostile files cost at most one scan of `maxBytes`.
public enum KeyValueFile {
    public enum Format: String, Sendable { case csv, tsv, yaml }

    public static let maxBytes = 1 << 20
    public static let maxEntries = 10_000
    /// Bytes of UTF-8, for keys after flattening (`study.title`).
    public static let maxKeyLength = 256
    /// Bytes of UTF-8.
    public static let maxValueLength = 65_536
    /// Levels of nested YAML mappings, the top level included.
    static let maxDepth = 8

    /// The format a file name announces: `.csv`, `.tsv`/`.tab`, `.yaml`/`.yml`, any case.
    public static func format(forFileName name: String) -> Format? {
        let base = name.split(separator: "/", omittingEmptySubsequences: false).last ?? Substring(name)
        guard let dot = base.lastIndex(of: ".") else { return nil }
        switch base[base.index(after: dot)...].lowercased() {
        case "csv": return .csv
        case "tsv", "tab": return .tsv
        case "yaml", "yml": return .yaml
        default: return nil
        }
    }

    /// The entries of a file in file order; repeated keys give several entries.
    ///
    /// All formats: at most `maxBytes`; UTF-8 (a BOM is skipped); LF or CRLF line ends; no control
    /// characters but tab. Keys are trimmed of spaces and tabs and must be non-empty.
    ///
    /// CSV (RFC 4180) and TSV (no quoting): exactly two fields per record; a first record
    /// `key,value` is a header; blank lines and lines starting with `#` are skipped; unquoted
    /// fields are trimmed, quoted ones kept as written.
    ///
    /// YAML subset: one block mapping, nested mappings flattened to dotted keys (8 levels), lists
    /// of scalars (block or one-line flow) giving one entry per item, plain, quoted and block
    /// scalars. Anchors, aliases, tags, flow mappings, complex keys, lists of mappings, multi-line
    /// plain or quoted scalars and several documents are refused with the line.
    public static func parse(_ bytes: [UInt8], format: Format) throws(KeyValueFileError) -> [KeyValueEntry] {
        guard bytes.count <= maxBytes else {
            throw KeyValueFileError(line: nil, message: "the file is \(bytes.count) bytes; the limit is \(maxBytes) bytes")
        }
        let text = try checkedText(bytes)
        switch format {
        case .csv: return try parseDelimited(text, separator: ASCII.comma, quoting: true)
        case .tsv: return try parseDelimited(text, separator: ASCII.tab, quoting: false)
        case .yaml:
            var parser = YAMLSubsetParser(text)
            return try parser.parse()
        }
    }
}

// MARK: - Shared checks

private enum ASCII {
    static let tab = UInt8(ascii: "\t"), lf = UInt8(ascii: "\n"), cr = UInt8(ascii: "\r"), space = UInt8(ascii: " ")
    static let quote = UInt8(ascii: "\""), apostrophe = UInt8(ascii: "'"), backslash = UInt8(ascii: "\\"), slash = UInt8(ascii: "/")
    static let comma = UInt8(ascii: ","), colon = UInt8(ascii: ":"), hash = UInt8(ascii: "#"), dash = UInt8(ascii: "-")
    static let dot = UInt8(ascii: "."), plus = UInt8(ascii: "+"), question = UInt8(ascii: "?"), percent = UInt8(ascii: "%")
    static let ampersand = UInt8(ascii: "&"), star = UInt8(ascii: "*"), bang = UInt8(ascii: "!"), at = UInt8(ascii: "@")
    static let backtick = UInt8(ascii: "`"), bar = UInt8(ascii: "|"), greater = UInt8(ascii: ">")
    static let openBracket = UInt8(ascii: "["), closeBracket = UInt8(ascii: "]")
    static let openBrace = UInt8(ascii: "{"), closeBrace = UInt8(ascii: "}")
    static let zero = UInt8(ascii: "0"), nine = UInt8(ascii: "9")

    static func isBlank(_ byte: UInt8?) -> Bool { byte == space || byte == tab }
    static func isBlankOrEnd(_ byte: UInt8?) -> Bool { byte == nil || byte == space || byte == tab }
}

extension KeyValueFile {
    /// The text without BOM and with LF line ends, once UTF-8 and control characters are checked,
    /// so the parsers only meet well-formed text and line numbers stay those of the file.
    static func checkedText(_ bytes: [UInt8]) throws(KeyValueFileError) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        var index = bytes.starts(with: [0xEF, 0xBB, 0xBF]) ? 3 : 0
        var line = 1
        while index < bytes.count {
            let byte = bytes[index]
            if byte >= 0x80 {
                let length = utf8SequenceLength(bytes, at: index)
                guard length > 0 else { throw KeyValueFileError(line: line, message: "invalid UTF-8") }
                out.append(contentsOf: bytes[index ..< index + length])
                index += length
                continue
            }
            if byte == ASCII.cr {
                // A lone CR would be an invisible character in a value or a line end some tools ignore.
                guard index + 1 < bytes.count, bytes[index + 1] == ASCII.lf else {
                    throw KeyValueFileError(line: line, message: "carriage return without a line feed; save the file with LF or CRLF line ends")
                }
                index += 1
                continue
            }
            if byte == ASCII.lf {
                line += 1
            } else if byte < 0x20, byte != ASCII.tab {
                throw KeyValueFileError(line: line, message: "control character \(codePoint(UInt32(byte))) is not allowed")
            }
            out.append(byte)
            index += 1
        }
        return out
    }

    /// Length of the well-formed UTF-8 sequence at `index` (no overlongs, surrogates or values
    /// above U+10FFFF), or 0.
    static func utf8SequenceLength(_ bytes: [UInt8], at index: Int) -> Int {
        let length: Int, second: ClosedRange<UInt8>
        switch bytes[index] {
        case 0xC2 ... 0xDF: (length, second) = (2, 0x80 ... 0xBF)
        case 0xE0: (length, second) = (3, 0xA0 ... 0xBF)
        case 0xE1 ... 0xEC, 0xEE ... 0xEF: (length, second) = (3, 0x80 ... 0xBF)
        case 0xED: (length, second) = (3, 0x80 ... 0x9F)
        case 0xF0: (length, second) = (4, 0x90 ... 0xBF)
        case 0xF1 ... 0xF3: (length, second) = (4, 0x80 ... 0xBF)
        case 0xF4: (length, second) = (4, 0x80 ... 0x8F)
        default: return 0
        }
        guard index + length <= bytes.count, second.contains(bytes[index + 1]) else { return 0 }
        for next in index + 2 ..< index + length where !(0x80 ... 0xBF).contains(bytes[next]) { return 0 }
        return length
    }

    static func codePoint(_ value: UInt32) -> String {
        let hex = String(value, radix: 16, uppercase: true)
        return "U+" + String(repeating: "0", count: max(0, 4 - hex.count)) + hex
    }

    static func trimmed(_ bytes: some Collection<UInt8>) -> ArraySlice<UInt8> {
        let array = ArraySlice(bytes)
        guard let first = array.firstIndex(where: { !ASCII.isBlank($0) }), let last = array.lastIndex(where: { !ASCII.isBlank($0) }) else {
            return []
        }
        return array[first ... last]
    }
}

/// Entries as they are accepted, with the checks every format shares.
private struct EntryList {
    private(set) var entries: [KeyValueEntry] = []

    /// A key trimmed and checked: non-empty, within the length limit, no control characters.
    static func key(_ raw: some Collection<UInt8>, line: Int) throws(KeyValueFileError) -> [UInt8] {
        let key = Array(KeyValueFile.trimmed(raw))
        guard !key.isEmpty else { throw KeyValueFileError(line: line, message: "empty key") }
        try checkLength(key, line: line)
        for (offset, byte) in key.enumerated() {
            // C0, DEL and C1 (U+0080–U+009F, encoded C2 80–C2 9F): keys are shown and matched, never hidden text.
            let c1 = byte == 0xC2 && offset + 1 < key.count && (0x80 ... 0x9F).contains(key[offset + 1])
            if byte < 0x20 || byte == 0x7F || c1 {
                throw KeyValueFileError(line: line, message: "key contains a control character")
            }
        }
        return key
    }

    static func checkLength(_ key: [UInt8], line: Int) throws(KeyValueFileError) {
        guard key.count <= KeyValueFile.maxKeyLength else {
            throw KeyValueFileError(line: line, message: "key is \(key.count) bytes long; the limit is \(KeyValueFile.maxKeyLength)")
        }
    }

    /// `key` has been through `key(_:line:)`.
    mutating func add(key: [UInt8], value: some Collection<UInt8>, line: Int) throws(KeyValueFileError) {
        guard value.count <= KeyValueFile.maxValueLength else {
            throw KeyValueFileError(line: line, message: "value is \(value.count) bytes long; the limit is \(KeyValueFile.maxValueLength)")
        }
        guard entries.count < KeyValueFile.maxEntries else {
            throw KeyValueFileError(line: line, message: "more than \(KeyValueFile.maxEntries) entries")
        }
        entries.append(KeyValueEntry(key: String(decoding: key, as: UTF8.self), value: String(decoding: value, as: UTF8.self), line: line))
    }
}

// MARK: - CSV and TSV

extension KeyValueFile {
    /// RFC 4180 records when `quoting`, otherwise plain separated fields; each record `key,value`.
    static func parseDelimited(_ text: [UInt8], separator: UInt8, quoting: Bool) throws(KeyValueFileError) -> [KeyValueEntry] {
        var list = EntryList()
        let count = text.count
        var index = 0
        var line = 1
        var firstRecord = true
        while index < count {
            let recordLine = line
            var probe = index
            while probe < count, ASCII.isBlank(text[probe]) { probe += 1 }
            if probe == count || text[probe] == ASCII.lf || text[probe] == ASCII.hash {
                while probe < count, text[probe] != ASCII.lf { probe += 1 }
                index = probe + 1
                line += 1
                continue
            }
            var fields: [ArraySlice<UInt8>] = []
            var fieldCount = 0
            var position = index
            while true {
                var field: ArraySlice<UInt8>?
                if quoting {
                    var cursor = position
                    while cursor < count, ASCII.isBlank(text[cursor]) { cursor += 1 }
                    if cursor < count, text[cursor] == ASCII.quote {
                        let openLine = line
                        var value: [UInt8] = []
                        cursor += 1
                        while true {
                            guard cursor < count else {
                                throw KeyValueFileError(line: openLine, message: "unterminated quoted field (the quote opens on this line)")
                            }
                            let byte = text[cursor]
                            if byte == ASCII.quote {
                                if cursor + 1 < count, text[cursor + 1] == ASCII.quote {
                                    value.append(ASCII.quote)
                                    cursor += 2
                                    continue
                                }
                                cursor += 1
                                break
                            }
                            if byte == ASCII.lf { line += 1 }
                            value.append(byte)
                            cursor += 1
                        }
                        while cursor < count, ASCII.isBlank(text[cursor]) { cursor += 1 }
                        guard cursor == count || text[cursor] == separator || text[cursor] == ASCII.lf else {
                            throw KeyValueFileError(line: line, message: "text after a closing quote; write a quote inside a quoted field as \"\"")
                        }
                        field = value[...]
                        position = cursor
                    }
                }
                if field == nil {
                    var cursor = position
                    while cursor < count, text[cursor] != separator, text[cursor] != ASCII.lf { cursor += 1 }
                    field = trimmed(text[position ..< cursor])
                    position = cursor
                }
                fieldCount += 1
                // Only two fields are ever used; a row of many separators costs a count, not copies.
                if fieldCount <= 2, let field { fields.append(field) }
                guard position < count, text[position] == separator else { break }
                position += 1
            }
            index = position + 1
            line += 1
            guard fieldCount == 2 else {
                throw KeyValueFileError(line: recordLine, message: "expected 2 fields (key,value), found \(fieldCount)")
            }
            if firstRecord {
                firstRecord = false
                if isWord(fields[0], "key"), isWord(fields[1], "value") { continue }
            }
            try list.add(key: EntryList.key(fields[0], line: recordLine), value: fields[1], line: recordLine)
        }
        return list.entries
    }

    static func isWord(_ bytes: ArraySlice<UInt8>, _ word: String) -> Bool {
        bytes.count == word.utf8.count && zip(bytes, word.utf8).allSatisfy { ($0 | 0x20) == $1 }
    }
}

// MARK: - YAML subset

/// Line-oriented reader of the YAML subset: a loop over lines with a stack of open mappings.
private struct YAMLSubsetParser {
    private let text: [UInt8]
    private var lines: [Range<Int>] = []
    private var lastLineEnded = true
    /// Lines from here on belong to a document marker or what follows it.
    private var end = 0
    private var list = EntryList()

    private struct Frame {
        var indent: Int
        /// The dotted path of the enclosing keys, ending with ".", empty at the top.
        var prefix: [UInt8]
        var depth: Int
        var seen: [[UInt8]: Int] = [:]
    }

    init(_ text: [UInt8]) {
        self.text = text
        var start = 0
        for (index, byte) in text.enumerated() where byte == ASCII.lf {
            lines.append(start ..< index)
            start = index + 1
        }
        if start < text.count {
            lines.append(start ..< text.count)
            lastLineEnded = false
        }
    }

    private static let anchors = "anchors (&) and aliases (*) are not supported"
    private static let tags = "tags (!) are not supported; write the value as plain text or quote it"
    private static let flowMappings = "flow mappings ({...}) are not supported; write one 'key: value' per line"
    private static let complexKeys = "complex keys ('? ') are not supported"
    private static let listsOfMappings = "lists of mappings ('- key: value') are not supported; list items are plain values"
    private static let nestedLists = "nested lists are not supported"

    mutating func parse() throws(KeyValueFileError) -> [KeyValueEntry] {
        var start = 0
        while start < lines.count, isBlankOrComment(start) { start += 1 }
        if start < lines.count, byte(start, 0) == ASCII.percent {
            throw fail(start, "directives (%YAML, %TAG) are not supported")
        }
        if start < lines.count, marker(start) == ASCII.dash {
            if markerHasContent(start) { throw fail(start, "content on the '---' line is not supported; start it on the next line") }
            start += 1
        }
        end = start
        while end < lines.count, marker(end) == nil { end += 1 }
        if end < lines.count {
            let several = "several documents in one file are not supported (the first ends on line \(end + 1))"
            if markerHasContent(end) { throw fail(end, several) }
            for after in end + 1 ..< lines.count where !isBlankOrComment(after) { throw fail(after, several) }
        }

        guard let first = nextContent(from: start) else { return list.entries }
        var stack = [Frame(indent: try indentation(first), prefix: [], depth: 1)]
        var current: Int? = first
        while let line = current {
            let indent = try indentation(line)
            var closed = false
            while stack.count > 1, stack[stack.count - 1].indent > indent {
                stack.removeLast()
                closed = true
            }
            let top = stack.count - 1
            if indent != stack[top].indent {
                throw fail(line, indent > stack[top].indent && !closed ? "unexpected indentation" : "inconsistent indentation: \(indent) spaces match no enclosing level")
            }
            let (localKey, afterColon) = try keyAndValueColumn(line, indent)
            let key = stack[top].prefix + localKey
            try EntryList.checkLength(key, line: line + 1)
            if let previous = stack[top].seen[localKey] {
                throw fail(line, "key '\(String(decoding: key, as: UTF8.self))' repeated (lines \(previous) and \(line + 1))")
            }
            stack[top].seen[localKey] = line + 1

            let column = skipBlanks(line, afterColon)
            switch byte(line, column) {
            case nil, .some(ASCII.hash):
                // An empty value opens a nested mapping or a list when one follows; otherwise it is "".
                let next = nextContent(from: line + 1)
                if let next {
                    let nextIndent = try indentation(next)
                    if isListItem(next, nextIndent), nextIndent >= indent {
                        current = try listItems(key: key, itemIndent: nextIndent, keyIndent: indent, first: next)
                        continue
                    }
                    if nextIndent > indent {
                        guard stack[top].depth < KeyValueFile.maxDepth else {
                            throw fail(next, "nesting deeper than \(KeyValueFile.maxDepth) levels is not supported")
                        }
                        stack.append(Frame(indent: nextIndent, prefix: key + [ASCII.dot], depth: stack[top].depth + 1))
                        current = next
                        continue
                    }
                }
                try list.add(key: key, value: [], line: line + 1)
                current = next
            case ASCII.bar, ASCII.greater:
                let (value, after) = try blockScalar(line, column, parentIndent: indent)
                try list.add(key: key, value: value, line: line + 1)
                current = nextContent(from: after)
            case ASCII.openBracket:
                for item in try flowSequence(line, column) { try list.add(key: key, value: item, line: line + 1) }
                current = nextContent(from: line + 1)
            default:
                try list.add(key: key, value: try scalar(line, column, inList: false), line: line + 1)
                current = nextContent(from: line + 1)
            }
        }
        return list.entries
    }

    // MARK: Lines

    private func fail(_ line: Int, _ message: String) -> KeyValueFileError {
        KeyValueFileError(line: line + 1, message: message)
    }

    private func byte(_ line: Int, _ column: Int) -> UInt8? {
        let range = lines[line]
        let index = range.lowerBound + column
        return column >= 0 && index < range.upperBound ? text[index] : nil
    }

    private func length(_ line: Int) -> Int { lines[line].count }

    private func bytes(_ line: Int, _ columns: Range<Int>) -> ArraySlice<UInt8> {
        text[lines[line].lowerBound + columns.lowerBound ..< lines[line].lowerBound + columns.upperBound]
    }

    private func ended(_ line: Int) -> Bool { line < lines.count - 1 || lastLineEnded }

    private func leadingSpaces(_ line: Int) -> Int {
        var column = 0
        while byte(line, column) == ASCII.space { column += 1 }
        return column
    }

    private func isAllSpaces(_ line: Int) -> Bool { leadingSpaces(line) == length(line) }

    private func skipBlanks(_ line: Int, _ from: Int) -> Int {
        var column = from
        while ASCII.isBlank(byte(line, column)) { column += 1 }
        return column
    }

    private func isBlankOrComment(_ line: Int) -> Bool {
        let first = byte(line, skipBlanks(line, 0))
        return first == nil || first == ASCII.hash
    }

    private func nextContent(from line: Int) -> Int? {
        var line = line
        while line < end {
            if !isBlankOrComment(line) { return line }
            line += 1
        }
        return nil
    }

    /// The indentation of a content line, which is spaces only.
    private func indentation(_ line: Int) throws(KeyValueFileError) -> Int {
        let indent = leadingSpaces(line)
        if byte(line, indent) == ASCII.tab { throw fail(line, "tabs are not allowed for indentation") }
        return indent
    }

    /// `-` or `.` when the line is a `---` or `...` marker.
    private func marker(_ line: Int) -> UInt8? {
        guard let first = byte(line, 0), first == ASCII.dash || first == ASCII.dot,
              byte(line, 1) == first, byte(line, 2) == first, ASCII.isBlankOrEnd(byte(line, 3)) else { return nil }
        return first
    }

    private func markerHasContent(_ line: Int) -> Bool {
        let after = byte(line, skipBlanks(line, 3))
        return after != nil && after != ASCII.hash
    }

    private func isListItem(_ line: Int, _ column: Int) -> Bool {
        byte(line, column) == ASCII.dash && ASCII.isBlankOrEnd(byte(line, column + 1))
    }

    private func character(_ line: Int, _ column: Int) -> String {
        var stop = column + 1
        while let next = byte(line, stop), (0x80 ... 0xBF).contains(next) { stop += 1 }
        return String(decoding: bytes(line, column ..< stop), as: UTF8.self)
    }

    // MARK: Keys and scalars

    /// The checked key of a `key: value` line and the column after its colon.
    private func keyAndValueColumn(_ line: Int, _ column: Int) throws(KeyValueFileError) -> ([UInt8], Int) {
        guard let first = byte(line, column) else { throw fail(line, "expected 'key: value'") }
        let second = byte(line, column + 1)
        switch first {
        case ASCII.dash where ASCII.isBlankOrEnd(second):
            throw fail(line, "expected 'key: value', found a list item; a list follows its 'key:' line")
        case ASCII.question where ASCII.isBlankOrEnd(second): throw fail(line, Self.complexKeys)
        case ASCII.colon where ASCII.isBlankOrEnd(second): throw fail(line, "empty key")
        case ASCII.ampersand, ASCII.star: throw fail(line, Self.anchors)
        case ASCII.bang: throw fail(line, Self.tags)
        case ASCII.openBrace: throw fail(line, Self.flowMappings)
        case ASCII.openBracket: throw fail(line, "expected 'key: value'; flow sequences ([...]) are only supported as values")
        case ASCII.quote, ASCII.apostrophe:
            let (raw, after) = first == ASCII.quote ? try doubleQuoted(line, column) : try singleQuoted(line, column)
            let colon = skipBlanks(line, after)
            guard byte(line, colon) == ASCII.colon, ASCII.isBlankOrEnd(byte(line, colon + 1)) else {
                throw fail(line, "expected 'key: value'")
            }
            return (try EntryList.key(raw, line: line + 1), colon + 1)
        case ASCII.bar, ASCII.greater, ASCII.closeBracket, ASCII.closeBrace, ASCII.comma, ASCII.percent, ASCII.at, ASCII.backtick:
            throw fail(line, "a key cannot start with '\(character(line, column))'; quote the key")
        default: break
        }
        var position = column
        var colonWithoutSpace = false
        while let current = byte(line, position) {
            if current == ASCII.hash, ASCII.isBlank(byte(line, position - 1)) { break }
            if current == ASCII.colon {
                if ASCII.isBlankOrEnd(byte(line, position + 1)) {
                    return (try EntryList.key(bytes(line, column ..< position), line: line + 1), position + 1)
                }
                colonWithoutSpace = true
            }
            position += 1
        }
        throw fail(line, "expected 'key: value'" + (colonWithoutSpace ? " (put a space after the colon)" : ""))
    }

    /// A plain or quoted scalar that is the rest of the line (a trailing comment aside).
    private func scalar(_ line: Int, _ column: Int, inList: Bool) throws(KeyValueFileError) -> [UInt8] {
        guard let first = byte(line, column) else { return [] }
        let second = byte(line, column + 1)
        switch first {
        case ASCII.quote, ASCII.apostrophe:
            let (value, after) = first == ASCII.quote ? try doubleQuoted(line, column) : try singleQuoted(line, column)
            let rest = skipBlanks(line, after)
            guard let next = byte(line, rest) else { return value }
            if next == ASCII.hash, rest > after { return value }
            if inList, next == ASCII.colon { throw fail(line, Self.listsOfMappings) }
            throw fail(line, "text after the closing quote")
        case ASCII.ampersand, ASCII.star: throw fail(line, Self.anchors)
        case ASCII.bang: throw fail(line, Self.tags)
        case ASCII.openBrace: throw fail(line, Self.flowMappings)
        case ASCII.openBracket: throw fail(line, Self.nestedLists)
        case ASCII.dash where ASCII.isBlankOrEnd(second):
            throw fail(line, inList ? Self.nestedLists : "a list cannot start on the line of its key; put each '- item' on a line of its own")
        case ASCII.question where ASCII.isBlankOrEnd(second): throw fail(line, Self.complexKeys)
        case ASCII.colon where ASCII.isBlankOrEnd(second), ASCII.closeBracket, ASCII.closeBrace, ASCII.comma,
             ASCII.percent, ASCII.at, ASCII.backtick, ASCII.bar, ASCII.greater:
            throw fail(line, "a plain value cannot start with '\(character(line, column))'; quote the value")
        default: break
        }
        var position = column
        while let current = byte(line, position) {
            if current == ASCII.hash, ASCII.isBlank(byte(line, position - 1)) { break }
            if current == ASCII.colon, ASCII.isBlankOrEnd(byte(line, position + 1)) {
                throw fail(line, inList ? Self.listsOfMappings : "': ' inside a plain value; quote the value")
            }
            position += 1
        }
        return Self.nullAsEmpty(KeyValueFile.trimmed(bytes(line, column ..< position)))
    }

    private static func nullAsEmpty(_ value: ArraySlice<UInt8>) -> [UInt8] {
        switch String(decoding: value, as: UTF8.self) {
        case "~", "null", "Null", "NULL": []
        default: Array(value)
        }
    }

    /// A double-quoted scalar closing on its line, and the column after the closing quote.
    private func doubleQuoted(_ line: Int, _ column: Int) throws(KeyValueFileError) -> ([UInt8], Int) {
        let unterminated = "unterminated double-quoted value; quoted values must close on the line they open"
        var value: [UInt8] = []
        var position = column + 1
        while true {
            guard let current = byte(line, position) else { throw fail(line, unterminated) }
            if current == ASCII.quote { return (value, position + 1) }
            guard current == ASCII.backslash else {
                value.append(current)
                position += 1
                continue
            }
            guard let escaped = byte(line, position + 1) else { throw fail(line, unterminated) }
            position += 2
            switch escaped {
            case ASCII.quote, ASCII.backslash, ASCII.slash: value.append(escaped)
            case UInt8(ascii: "n"): value.append(ASCII.lf)
            case UInt8(ascii: "t"): value.append(ASCII.tab)
            case UInt8(ascii: "r"): value.append(ASCII.cr)
            case UInt8(ascii: "u"):
                guard var scalar = hex4(line, position) else { throw fail(line, "\\u must be followed by 4 hexadecimal digits") }
                position += 4
                if (0xD800 ... 0xDBFF).contains(scalar) {
                    guard byte(line, position) == ASCII.backslash, byte(line, position + 1) == UInt8(ascii: "u"),
                          let low = hex4(line, position + 2), (0xDC00 ... 0xDFFF).contains(low) else {
                        throw fail(line, "\\u escape of an unpaired surrogate")
                    }
                    scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                    position += 6
                } else if (0xDC00 ... 0xDFFF).contains(scalar) {
                    throw fail(line, "\\u escape of an unpaired surrogate")
                }
                // The same rule as for the file's own bytes: no control characters but tab and line ends.
                if scalar < 0x20, scalar != 0x09, scalar != 0x0A, scalar != 0x0D {
                    throw fail(line, "escape of control character \(KeyValueFile.codePoint(scalar)) is not allowed")
                }
                guard let unicode = Unicode.Scalar(scalar) else { throw fail(line, "\\u escape of an invalid code point") }
                value.append(contentsOf: String(unicode).utf8)
            default:
                throw fail(line, "unsupported escape '\\\(character(line, position - 1))'; use \\\" \\\\ \\/ \\n \\t \\r or \\uXXXX")
            }
        }
    }

    private func hex4(_ line: Int, _ column: Int) -> UInt32? {
        var value: UInt32 = 0
        for offset in 0 ..< 4 {
            guard let current = byte(line, column + offset), let digit = Int(String(UnicodeScalar(current)), radix: 16) else { return nil }
            value = value << 4 | UInt32(digit)
        }
        return value
    }

    private func singleQuoted(_ line: Int, _ column: Int) throws(KeyValueFileError) -> ([UInt8], Int) {
        var value: [UInt8] = []
        var position = column + 1
        while true {
            guard let current = byte(line, position) else {
                throw fail(line, "unterminated single-quoted value; quoted values must close on the line they open")
            }
            if current == ASCII.apostrophe {
                guard byte(line, position + 1) == ASCII.apostrophe else { return (value, position + 1) }
                position += 1
            }
            value.append(current)
            position += 1
        }
    }

    // MARK: Lists

    /// Block list items of `key` at `itemIndent`; returns the first content line after them.
    private mutating func listItems(key: [UInt8], itemIndent: Int, keyIndent: Int, first: Int) throws(KeyValueFileError) -> Int? {
        var line = first
        while true {
            let column = skipBlanks(line, itemIndent + 1)
            var after = line + 1
            switch byte(line, column) {
            case nil, .some(ASCII.hash):
                try list.add(key: key, value: [], line: line + 1)
            case ASCII.bar, ASCII.greater:
                let (value, next) = try blockScalar(line, column, parentIndent: itemIndent)
                try list.add(key: key, value: value, line: line + 1)
                after = next
            default:
                try list.add(key: key, value: try scalar(line, column, inList: true), line: line + 1)
            }
            guard let next = nextContent(from: after) else { return nil }
            let indent = try indentation(next)
            if indent == itemIndent, isListItem(next, indent) {
                line = next
                continue
            }
            if indent > itemIndent { throw fail(next, "unexpected indentation") }
            if indent == itemIndent, itemIndent > keyIndent { throw fail(next, "expected a '- ' list item at this indentation") }
            return next
        }
    }

    /// A one-line flow sequence of scalars.
    private func flowSequence(_ line: Int, _ column: Int) throws(KeyValueFileError) -> [[UInt8]] {
        let unclosed = "a flow sequence ([...]) must close on the line it opens"
        var items: [[UInt8]] = []
        var position = column + 1
        while true {
            position = skipBlanks(line, position)
            guard let first = byte(line, position) else { throw fail(line, unclosed) }
            if first == ASCII.closeBracket {
                position += 1
                break
            }
            let second = byte(line, position + 1)
            switch first {
            case ASCII.quote, ASCII.apostrophe:
                let (value, after) = first == ASCII.quote ? try doubleQuoted(line, position) : try singleQuoted(line, position)
                items.append(value)
                position = after
            case ASCII.openBracket: throw fail(line, Self.nestedLists)
            case ASCII.openBrace: throw fail(line, Self.flowMappings)
            case ASCII.ampersand, ASCII.star: throw fail(line, Self.anchors)
            case ASCII.bang: throw fail(line, Self.tags)
            case ASCII.comma: throw fail(line, "empty item in a flow sequence")
            case ASCII.hash: throw fail(line, unclosed)
            case ASCII.dash where ASCII.isBlankOrEnd(second) || second == ASCII.comma || second == ASCII.closeBracket,
                 ASCII.question where ASCII.isBlankOrEnd(second) || second == ASCII.comma || second == ASCII.closeBracket,
                 ASCII.colon where ASCII.isBlankOrEnd(second) || second == ASCII.comma || second == ASCII.closeBracket,
                 ASCII.closeBrace, ASCII.percent, ASCII.at, ASCII.backtick, ASCII.bar, ASCII.greater:
                throw fail(line, "a flow sequence item cannot start with '\(character(line, position))'; quote the item")
            default:
                var stop = position
                while let current = byte(line, stop), current != ASCII.comma, current != ASCII.closeBracket {
                    if current == ASCII.hash, ASCII.isBlank(byte(line, stop - 1)) { break }
                    if current == ASCII.openBracket || current == ASCII.openBrace || current == ASCII.closeBrace {
                        throw fail(line, "quote flow sequence items that contain brackets or braces")
                    }
                    if current == ASCII.colon {
                        let next = byte(line, stop + 1)
                        if ASCII.isBlankOrEnd(next) || next == ASCII.comma || next == ASCII.closeBracket {
                            throw fail(line, "'key: value' pairs inside a flow sequence are not supported")
                        }
                    }
                    stop += 1
                }
                items.append(Self.nullAsEmpty(KeyValueFile.trimmed(bytes(line, position ..< stop))))
                position = stop
            }
            // A long one-line list must not cost memory beyond what the entry limit allows.
            if items.count > KeyValueFile.maxEntries { throw fail(line, "more than \(KeyValueFile.maxEntries) entries") }
            position = skipBlanks(line, position)
            switch byte(line, position) {
            case ASCII.comma: position += 1
            case ASCII.closeBracket:
                position += 1
                let rest = skipBlanks(line, position)
                if let next = byte(line, rest), !(next == ASCII.hash && rest > position) { throw fail(line, "text after ']'") }
                return items
            case nil, .some(ASCII.hash): throw fail(line, unclosed)
            default: throw fail(line, "expected ',' or ']' in a flow sequence")
            }
        }
        let rest = skipBlanks(line, position)
        if let next = byte(line, rest), !(next == ASCII.hash && rest > position) { throw fail(line, "text after ']'") }
        return items
    }

    // MARK: Block scalars

    /// A `|` or `>` scalar whose header is at `column`; returns its text and the first line after it.
    /// Content is indented more than `parentIndent`, its indentation set by its first non-empty line.
    private func blockScalar(_ line: Int, _ column: Int, parentIndent: Int) throws(KeyValueFileError) -> ([UInt8], Int) {
        let folded = byte(line, column) == ASCII.greater
        enum Chomping { case strip, clip, keep }
        var chomping = Chomping.clip
        var position = column + 1
        func isDigit(_ value: UInt8?) -> Bool { value.map { (ASCII.zero ... ASCII.nine).contains($0) } ?? false }
        if isDigit(byte(line, position)) { throw fail(line, "block scalar indentation indicators (such as |2) are not supported") }
        if byte(line, position) == ASCII.dash || byte(line, position) == ASCII.plus {
            chomping = byte(line, position) == ASCII.dash ? .strip : .keep
            position += 1
        }
        if isDigit(byte(line, position)) { throw fail(line, "block scalar indentation indicators (such as |2) are not supported") }
        let rest = skipBlanks(line, position)
        if let next = byte(line, rest), !(next == ASCII.hash && rest > position) {
            throw fail(line, "text after the block scalar indicator; the text starts on the next line")
        }

        var current = line + 1
        var breaks = 0
        var widest = (spaces: 0, line: 0)
        while current < end, isAllSpaces(current) {
            if length(current) > widest.spaces { widest = (length(current), current) }
            if ended(current) { breaks += 1 }
            current += 1
        }
        guard current < end, leadingSpaces(current) > parentIndent else {
            return (chomping == .keep ? Array(repeating: ASCII.lf, count: breaks) : [], current)
        }
        let indent = leadingSpaces(current)
        if widest.spaces > indent { throw fail(widest.line, "an empty line at the start of a block scalar has more spaces than its first line") }

        var value: [UInt8] = []
        var lineBreak = false
        while true {
            value.append(contentsOf: repeatElement(ASCII.lf, count: breaks))
            let content = bytes(current, indent ..< length(current))
            let startsWithText = !ASCII.isBlank(content.first)
            value.append(contentsOf: content)
            lineBreak = ended(current)
            current += 1
            breaks = 0
            while current < end, isAllSpaces(current), length(current) <= indent {
                if ended(current) { breaks += 1 }
                current += 1
            }
            guard current < end, leadingSpaces(current) >= indent else { break }
            // Folding joins two lines of text with a space; empty lines and more-indented lines keep their breaks.
            if folded, lineBreak, startsWithText, !ASCII.isBlank(byte(current, indent)) {
                if breaks == 0 { value.append(ASCII.space) }
            } else if lineBreak {
                value.append(ASCII.lf)
            }
        }
        if chomping != .strip, lineBreak { value.append(ASCII.lf) }
        if chomping == .keep { value.append(contentsOf: repeatElement(ASCII.lf, count: breaks)) }
        return (value, current)
    }
}
