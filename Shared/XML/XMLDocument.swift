import CXML

/// Why XML was refused: the parser's message and line, or the rule it broke.
public struct XMLError: Error, Sendable, Equatable, CustomStringConvertible {
    public let description: String
    public let line: Int?
    public init(_ description: String, line: Int? = nil) {
        self.description = line.map { "line \($0): \(description)" } ?? description
        self.line = line
    }
}

/// Bounds for XML from outside (OME-XML in a TIFF, a request body).
public struct XMLLimits: Sendable {
    public var maxBytes = 16 << 20
    public init() {}
}

/// An XML document parsed by libxml2 with the network off, no DTD loaded or accepted, entities never
/// substituted, and libxml2's own depth and size limits (no XML_PARSE_HUGE). Documents that declare
/// a DTD are refused outright, so no external or expanding entity can take effect anywhere.
/// A document belongs to one thread at a time.
public final class XMLDocument {
    let document: xmlDocPtr

    public init(parsing bytes: [UInt8], limits: XMLLimits = XMLLimits()) throws(XMLError) {
        guard bytes.count <= limits.maxBytes else { throw XMLError("document of \(bytes.count) bytes is over the \(limits.maxBytes) accepted") }
        guard !bytes.isEmpty else { throw XMLError("empty document") }
        guard let context = xmlNewParserCtxt() else { throw XMLError("cannot allocate a parser") }
        defer { xmlFreeParserCtxt(context) }
        let options = Int32(XML_PARSE_NONET.rawValue | XML_PARSE_NOERROR.rawValue | XML_PARSE_NOWARNING.rawValue)
        let parsed = bytes.withUnsafeBufferPointer { buffer in
            buffer.withMemoryRebound(to: CChar.self) { xmlCtxtReadMemory(context, $0.baseAddress, Int32(buffer.count), "input.xml", nil, options) }
        }
        guard let parsed else {
            if let error = xmlCtxtGetLastError(context) {
                var message = error.pointee.message.map { String(cString: $0) } ?? "not well-formed"
                // libxml2's advice (XML_PARSE_HUGE) is not the operator's to follow.
                if message.hasPrefix("Excessive depth") { message = "elements nested deeper than 256 levels" }
                throw XMLError(String(message.reversed().drop { $0 == "\n" || $0 == " " }.reversed()), line: Int(error.pointee.line))
            }
            throw XMLError("not well-formed")
        }
        if parsed.pointee.intSubset != nil || parsed.pointee.extSubset != nil {
            xmlFreeDoc(parsed)
            throw XMLError("a DTD (<!DOCTYPE …>) is not accepted: external entities and entity expansion are refused")
        }
        guard xmlDocGetRootElement(parsed) != nil else {
            xmlFreeDoc(parsed)
            throw XMLError("no root element")
        }
        document = parsed
    }

    public convenience init(parsing text: String, limits: XMLLimits = XMLLimits()) throws(XMLError) {
        try self.init(parsing: Array(text.utf8), limits: limits)
    }

    deinit { xmlFreeDoc(document) }

    public var root: XMLElement { XMLElement(node: xmlDocGetRootElement(document), document: self) }

    /// The document as UTF-8 text with an XML declaration.
    public func serialized() -> String {
        var buffer: UnsafeMutablePointer<xmlChar>?
        var size: Int32 = 0
        xmlDocDumpMemoryEnc(document, &buffer, &size, "UTF-8")
        defer { fw_xml_free(buffer) }
        guard let buffer else { return "" }
        return String(decoding: UnsafeBufferPointer(start: buffer, count: Int(size)), as: UTF8.self)
    }
}

/// An element of an `XMLDocument` (which it keeps alive).
public struct XMLElement {
    let node: xmlNodePtr
    let document: XMLDocument

    /// The local name (without prefix).
    public var name: String { String(cString: node.pointee.name) }
    public var namespace: String? { node.pointee.ns.flatMap { $0.pointee.href }.map { String(cString: $0) } }

    public subscript(attribute: String) -> String? {
        guard let value = xmlGetProp(node, attribute) else { return nil }
        defer { fw_xml_free(value) }
        return String(cString: value)
    }

    /// The element's text content (of all its descendants).
    public var text: String {
        guard let content = xmlNodeGetContent(node) else { return "" }
        defer { fw_xml_free(content) }
        return String(cString: content)
    }

    public var children: [XMLElement] {
        var result: [XMLElement] = []
        var child = node.pointee.children
        while let current = child {
            if current.pointee.type == XML_ELEMENT_NODE { result.append(XMLElement(node: current, document: document)) }
            child = current.pointee.next
        }
        return result
    }

    public func children(named name: String) -> [XMLElement] { children.filter { $0.name == name } }
    public func first(_ name: String) -> XMLElement? { children.first { $0.name == name } }

    public func set(_ attribute: String, _ value: String) { xmlSetProp(node, attribute, value) }

    /// Removes every child element named one of `names`.
    public func remove(childrenNamed names: Set<String>) {
        for child in children where names.contains(child.name) {
            xmlUnlinkNode(child.node)
            xmlFreeNode(child.node)
        }
    }

    /// Adds a new element in this element's namespace, before `sibling` (a child) or at the end.
    @discardableResult
    public func add(_ name: String, attributes: [(String, String)] = [], text: String? = nil, before sibling: XMLElement? = nil) -> XMLElement {
        let element = xmlNewDocNode(document.document, node.pointee.ns, name, nil)!
        for (key, value) in attributes { xmlSetProp(element, key, value) }
        if let text { xmlNodeAddContent(element, text) }
        if let sibling { xmlAddPrevSibling(sibling.node, element) } else { xmlAddChild(node, element) }
        return XMLElement(node: element, document: document)
    }
}
