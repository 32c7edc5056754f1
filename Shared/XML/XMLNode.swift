/// An XML element to be written: a small tree built in Swift and serialized with every text and
/// attribute escaped. Characters XML 1.0 cannot carry (C0 controls but tab and line breaks, U+FFFE,
/// U+FFFF; a Swift string holds no lone surrogate) are dropped, so catalog text never makes a
/// document ill-formed.
public struct XMLNode: Sendable {
    public var name: String
    public var attributes: [(name: String, value: String)]
    public var text: String?
    public var children: [XMLNode]

    /// Attributes whose value is nil are left out, so optional facts need no `if`.
    public init(_ name: String, _ attributes: [(String, String?)] = [], text: String? = nil, children: [XMLNode] = []) {
        self.name = name
        self.attributes = attributes.compactMap { pair in pair.1.map { (name: pair.0, value: $0) } }
        self.text = text
        self.children = children
    }

    /// The document, with its XML declaration.
    public func document() -> String {
        var out = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
        write(to: &out)
        out += "\n"
        return out
    }

    public func write(to out: inout String) {
        out += "<" + name
        for attribute in attributes { out += " " + attribute.name + "=\"" + Self.escaped(attribute.value, quotes: true) + "\"" }
        guard text != nil || !children.isEmpty else { out += "/>"; return }
        out += ">"
        if let text { out += Self.escaped(text, quotes: false) }
        for child in children { child.write(to: &out) }
        out += "</" + name + ">"
    }

    /// `quotes`: for an attribute value (quotes and line breaks as character references).
    public static func escaped(_ value: String, quotes: Bool) -> String {
        var out = ""
        out.reserveCapacity(value.utf8.count)
        for scalar in value.unicodeScalars {
            switch scalar {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"" where quotes: out += "&quot;"
            case "\t", "\n", "\r":
                // In an attribute a literal newline would be normalized to a space by readers.
                if quotes { out += "&#\(scalar.value);" } else { out.unicodeScalars.append(scalar) }
            default:
                let v = scalar.value
                if v < 0x20 || v == 0xFFFE || v == 0xFFFF { continue }
                out.unicodeScalars.append(scalar)
            }
        }
        return out
    }
}
