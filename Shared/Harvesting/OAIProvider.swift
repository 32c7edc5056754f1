public import FairwayXML
public import Foundation

/// Answers OAI-PMH 2.0 requests from the repository: every answer is a complete `OAI-PMH`
/// document, errors included (the protocol reports them in the body, with HTTP 200).
public struct OAIProvider: Sendable {
    public let settings: OAISettings
    let repository: OAIRepository

    public init(settings: OAISettings, repository: OAIRepository) { self.settings = settings; self.repository = repository }

    static let namespace = "http://www.openarchives.org/OAI/2.0/"

    /// The response to a query string or form body. Catalog failures are thrown (the caller
    /// answers 503); everything a harvester did wrong is an OAI error in the document.
    public func respond(to query: String, now: Date = Date()) async throws -> String {
        switch OAIRequest.parse(query) {
        case .failure(let error):
            // badVerb and badArgument echo no arguments: they may be the bad part.
            return envelope(now: now, request: nil, body: [Self.error(error)])
        case .success(let request):
            do {
                return envelope(now: now, request: request, body: try await answer(request))
            } catch let error as OAIError {
                return envelope(now: now, request: error.code == .badArgument ? nil : request, body: [Self.error(error)])
            }
        }
    }

    private func answer(_ request: OAIRequest) async throws -> [XMLNode] {
        switch request.verb {
        case .identify: return [try await identify()]
        case .listMetadataFormats:
            if let identifier = request.arguments["identifier"], try await record(identifier) == nil {
                throw OAIError(.idDoesNotExist, "no dataset \(OAIRequest.clip(identifier)) in this repository")
            }
            return [XMLNode("ListMetadataFormats", children: RecordFormat.allCases.map { format in
                XMLNode("metadataFormat", children: [XMLNode("metadataPrefix", text: format.rawValue), XMLNode("schema", text: format.schema),
                                                     XMLNode("metadataNamespace", text: format.namespace)])
            })]
        case .listSets:
            if request.arguments["resumptionToken"] != nil {
                throw OAIError(.badResumptionToken, "ListSets is answered in one page; this token was not issued")
            }
            let sets = try await repository.sets()
            guard !sets.isEmpty else { throw OAIError(.noSetHierarchy, "no dataset is published yet, so there are no sets") }
            return [XMLNode("ListSets", children: sets.map { set in
                XMLNode("set", children: [XMLNode("setSpec", text: set.spec), XMLNode("setName", text: set.name)])
            })]
        case .getRecord:
            let format = try Self.format(request.arguments["metadataPrefix"]!)
            guard let record = try await record(request.arguments["identifier"]!) else {
                throw OAIError(.idDoesNotExist, "no dataset \(OAIRequest.clip(request.arguments["identifier"]!)) in this repository")
            }
            return [XMLNode("GetRecord", children: [item(record, format: format)])]
        case .listIdentifiers, .listRecords:
            return [try await list(request)]
        }
    }

    private func identify() async throws -> XMLNode {
        let earliest = try await repository.earliestDatestamp() ?? Date(timeIntervalSince1970: 0)
        let identifier = "http://www.openarchives.org/OAI/2.0/oai-identifier"
        return XMLNode("Identify", children: [
            XMLNode("repositoryName", text: settings.repositoryName),
            XMLNode("baseURL", text: settings.baseURL),
            XMLNode("protocolVersion", text: "2.0"),
            XMLNode("adminEmail", text: settings.adminEmail),
            XMLNode("earliestDatestamp", text: OAIDate.format(earliest)),
            XMLNode("deletedRecord", text: "persistent"),
            XMLNode("granularity", text: "YYYY-MM-DDThh:mm:ssZ"),
            XMLNode("description", children: [
                XMLNode("oai-identifier", [("xmlns", identifier), ("xmlns:xsi", "http://www.w3.org/2001/XMLSchema-instance"),
                                           ("xsi:schemaLocation", "\(identifier) http://www.openarchives.org/OAI/2.0/oai-identifier.xsd")], children: [
                    XMLNode("scheme", text: "oai"),
                    XMLNode("repositoryIdentifier", text: settings.repositoryIdentifier),
                    XMLNode("delimiter", text: ":"),
                    XMLNode("sampleIdentifier", text: oaiIdentifier("10.1234/ABCD-EFGHJ")),
                ]),
            ]),
        ])
    }

    private func list(_ request: OAIRequest) async throws -> XMLNode {
        var position: ResumptionToken
        if let text = request.arguments["resumptionToken"] {
            position = try ResumptionToken(decoding: text)
        } else {
            guard case .success(let range) = request.dateRange() else { throw OAIError(.badArgument, "bad dates") }
            position = ResumptionToken(prefix: request.arguments["metadataPrefix"], from: range.from, until: range.until,
                                       set: request.arguments["set"], afterDatestamp: nil, afterKey: "", cursor: 0)
        }
        let format = try Self.format(position.prefix ?? "")
        let (records, total) = try await repository.page(position, limit: settings.pageSize)
        guard !records.isEmpty else {
            if position.cursor > 0 { throw OAIError(.badResumptionToken, "the list this token continues has no more records") }
            throw OAIError(.noRecordsMatch, "no published dataset matches these arguments")
        }
        var children = records.map { request.verb == .listRecords ? item($0, format: format) : header($0) }
        let sent = position.cursor + records.count
        if position.cursor > 0 || sent < total {
            var next = position
            next.cursor = sent
            next.afterDatestamp = records.last!.datestamp
            next.afterKey = records.last!.doi
            // The last page of a list carries an empty token, as the protocol asks.
            children.append(XMLNode("resumptionToken", [("completeListSize", String(total)), ("cursor", String(position.cursor))],
                                    text: sent < total ? next.encoded : nil))
        }
        return XMLNode(request.verb.rawValue, children: children)
    }

    private func item(_ record: OAIRecord, format: RecordFormat) -> XMLNode {
        // A deleted record has a header only.
        XMLNode("record", children: [header(record)]
                + (record.deleted ? [] : [XMLNode("metadata", children: [format.metadata(record.attributes, dataCentre: settings.dataCentre)])]))
    }

    private func header(_ record: OAIRecord) -> XMLNode {
        XMLNode("header", [("status", record.deleted ? "deleted" : nil)], children: [
            XMLNode("identifier", text: oaiIdentifier(record.doi)),
            XMLNode("datestamp", text: OAIDate.format(record.datestamp)),
            XMLNode("setSpec", text: record.setSpec),
        ])
    }

    /// `oai:<domain>:<doi>`; a bare DOI is accepted too when asked for a record.
    func oaiIdentifier(_ doi: String) -> String { "oai:\(settings.repositoryIdentifier):\(doi)" }

    private func record(_ identifier: String) async throws -> OAIRecord? {
        let prefix = "oai:\(settings.repositoryIdentifier):"
        let doi = identifier.hasPrefix(prefix) ? String(identifier.dropFirst(prefix.count)) : identifier
        // DOIs are case-insensitive; the catalog keeps them upper-case.
        guard doi.utf8.count <= 256, doi.hasPrefix("10.") else { return nil }
        return try await repository.record(doi: doi.uppercased())
    }

    static func format(_ prefix: String) throws(OAIError) -> RecordFormat {
        guard let format = RecordFormat(rawValue: prefix) else {
            throw OAIError(.cannotDisseminateFormat, "\(OAIRequest.clip(prefix)) is not offered; use oai_dc or oai_datacite")
        }
        return format
    }

    static func error(_ error: OAIError) -> XMLNode { XMLNode("error", [("code", error.code.rawValue)], text: error.message) }

    private func envelope(now: Date, request: OAIRequest?, body: [XMLNode]) -> String {
        var echo: [(String, String?)] = []
        if let request {
            echo.append(("verb", request.verb.rawValue))
            echo += request.arguments.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
        }
        return XMLNode("OAI-PMH", [("xmlns", Self.namespace), ("xmlns:xsi", "http://www.w3.org/2001/XMLSchema-instance"),
                                   ("xsi:schemaLocation", "\(Self.namespace) http://www.openarchives.org/OAI/2.0/OAI-PMH.xsd")], children: [
            XMLNode("responseDate", text: OAIDate.format(now)),
            XMLNode("request", echo, text: settings.baseURL),
        ] + body).document()
    }
}
