import CXML

/// An XSD schema compiled by libxml2 from a local file, to validate `XMLDocument`s against.
///
/// The network stays off: the schema and everything it imports, includes or redefines is read from
/// local files only (relative locations resolve next to the file that names them). A reference to
/// a URL fails the load with the URL named, and no socket is ever opened. The one exception is the
/// XML namespace's own schema (`http://www.w3.org/2001/xml.xsd`, imported by OME's and most others
/// for xml:lang and friends), which is built in.
///
/// `@unchecked Sendable`: the compiled schema is never written after `init`, and each validation
/// makes its own libxml2 validation context, so validations may run on several threads at once.
public final class XMLSchema: @unchecked Sendable {
    /// The schema file, as given.
    public let path: String
    private let schema: xmlSchemaPtr

    /// At most this many errors are returned by `validate`.
    public static let maxErrors = 20

    /// Once, before the first schema is read: the local-only loader (see the shim) and libxml2's tables.
    private static let setup: Void = fw_xml_schema_setup()

    public init(path: String) throws(XMLError) {
        self.path = path
        guard !path.isEmpty else { throw XMLError("no schema file named") }
        _ = Self.setup
        guard let parser = xmlSchemaNewParserCtxt(path) else { throw XMLError("cannot allocate a schema parser") }
        defer { xmlSchemaFreeParserCtxt(parser) }
        let reports = Reports(limit: .max)
        let compiled = withExtendedLifetime(reports) {
            fw_xml_schema_parse(parser, { context, error in Reports.record(context, error) }, Unmanaged.passUnretained(reports).toOpaque())
        }
        // A refused URL fails the load even where libxml2 would have carried on without it.
        if let refused = reports.all.first(where: \.networkRefused) {
            if let compiled { xmlSchemaFree(compiled) }
            // libxml2 names the line of the import or include right after the refusal.
            let at = reports.all.first { $0.line != nil && $0.message.contains(refused.url ?? "\u{0}") }
            throw XMLError(refused.message + (at.map { Self.located($0.file, schema: path) } ?? ""), line: at?.line)
        }
        guard let compiled else {
            let first = reports.all.first { $0.isError } ?? reports.all.first
            throw first.map { XMLError($0.message + Self.located($0.file, schema: path), line: $0.line) } ?? XMLError("\(path) is not a usable XSD schema")
        }
        schema = compiled
    }

    deinit { xmlSchemaFree(schema) }

    /// The document's errors against the schema (at most `maxErrors`, in document order), each
    /// with its line; empty when the document is valid. The document is not changed.
    public func validate(_ document: XMLDocument) -> [XMLError] {
        guard let validator = xmlSchemaNewValidCtxt(schema) else { return [XMLError("cannot allocate a schema validator")] }
        defer { xmlSchemaFreeValidCtxt(validator) }
        let reports = Reports(limit: Self.maxErrors)
        let status = withExtendedLifetime(reports) {
            fw_xml_schema_validate(validator, document.document, { context, error in Reports.record(context, error) }, Unmanaged.passUnretained(reports).toOpaque())
        }
        let errors = reports.all.filter(\.isError).map { XMLError($0.message, line: $0.line) }
        if errors.isEmpty && status != 0 {
            return [XMLError(status < 0 ? "libxml2 could not validate the document (internal error)" : "the document does not validate")]
        }
        return errors
    }

    /// " (in FILE)" for a report about an imported or included file rather than the schema itself.
    private static func located(_ file: String?, schema path: String) -> String {
        guard let file, file != path else { return "" }
        return " (in \(file))"
    }
}

/// What libxml2 reported during one schema load or validation, copied out of its structs.
private final class Reports {
    struct Report {
        let message: String
        let line: Int?
        let file: String?
        let url: String?
        let isError: Bool
        let networkRefused: Bool
    }

    let limit: Int
    var all: [Report] = []
    var errors = 0

    init(limit: Int) { self.limit = limit }

    static func record(_ context: UnsafeMutableRawPointer?, _ error: xmlErrorPtr?) {
        guard let context, let error else { return }
        let reports = Unmanaged<Reports>.fromOpaque(context).takeUnretainedValue()
        let isError = error.pointee.level.rawValue >= XML_ERR_ERROR.rawValue
        // Past the limit, errors (and warnings, counted apart) are dropped.
        guard isError ? reports.errors < reports.limit : reports.all.count - reports.errors < reports.limit else { return }
        if isError { reports.errors += 1 }
        let message = error.pointee.message.map { String(cString: $0) } ?? "error \(error.pointee.code)"
        reports.all.append(Report(
            message: String(message.reversed().drop { $0 == "\n" || $0 == " " }.reversed()),
            line: error.pointee.line > 0 ? Int(error.pointee.line) : nil,
            file: error.pointee.file.map { String(cString: $0) },
            url: error.pointee.str1.map { String(cString: $0) },
            isError: isError,
            networkRefused: error.pointee.domain == Int32(XML_FROM_IO.rawValue) && error.pointee.code == Int32(XML_IO_NETWORK_ATTEMPT.rawValue)
        ))
    }
}
