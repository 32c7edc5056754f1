import FairwayPublication
import FairwayServiceKit
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import PostgresNIO

/// `GET /datasets/{doi}`: where a DOI resolves. A human gets an HTML page (citation, the DOI as a
/// doi.org link, the DataCite mandatory fields, licence, files with sizes and checksums, and the
/// schema.org `Dataset` as JSON-LD inside it); a machine asking for `application/ld+json` gets the
/// JSON-LD, and for `application/vnd.datacite.datacite+json` the DataCite record. Every value
/// shown comes from the catalog and is escaped.
struct LandingPages: Sendable {
    let client: PostgresClient
    let logger: Logger
    /// `FAIRWAY_DATA_ACCESS_URL`: where each file can be fetched, `{doi}` and `{path}` replaced
    /// (the path percent-encoded); without it the page says data is available on request.
    var dataAccess: String?

    /// Checks the data access template: an http(s) URL, `{path}` in it.
    static func dataAccessTemplate(_ values: [String: String]) throws(FairwayConfiguration.Invalid) -> String? {
        guard let template = values["FAIRWAY_DATA_ACCESS_URL"], !template.isEmpty else { return nil }
        guard template.hasPrefix("https://") || template.hasPrefix("http://"), template.contains("{path}") else {
            throw .init(description: "FAIRWAY_DATA_ACCESS_URL must be an http(s) URL containing {path} (and optionally {doi})")
        }
        return template
    }

    func add(to router: Router<BasicRequestContext>) {
        router.get("/datasets/:prefix/:suffix") { request, context in
            await answer(request, doi: "\(context.parameters.get("prefix") ?? "")/\(context.parameters.get("suffix") ?? "")", tombstoneURL: false)
        }
        // Where DataCite points a withdrawn DOI; the landing page itself shows the same tombstone.
        router.get("/datasets/:prefix/:suffix/withdrawn") { request, context in
            await answer(request, doi: "\(context.parameters.get("prefix") ?? "")/\(context.parameters.get("suffix") ?? "")", tombstoneURL: true)
        }
    }

    struct Publication {
        let doi: DOIName
        let state: String
        let landing: String
        let record: DataCiteAttributes
        let files: [(path: String, size: Int64, checksum: String, format: String, url: String?)]
        let withdrawal: (reason: String, at: Date)?
    }

    private func answer(_ request: Request, doi text: String, tombstoneURL: Bool) async -> Response {
        guard let doi = DOIName(text) else { return Self.notFound(text) }
        let publication: Publication?
        do {
            publication = try await load(doi)
        } catch {
            logger.error("landing page failed", metadata: ["doi": "\(doi)", "error": "\(String(reflecting: error))"])
            return Response(status: .serviceUnavailable, headers: [.contentType: "text/plain; charset=utf-8"],
                            body: .init(byteBuffer: ByteBuffer(string: "The catalog could not be reached; retry later.\n")))
        }
        guard let publication, publication.withdrawal != nil || !tombstoneURL else { return Self.notFound(doi.description) }
        // A withdrawn dataset keeps answering, as 410 Gone: a tombstone with the reason, no data.
        let status: HTTPResponse.Status = publication.withdrawal == nil ? .ok : .gone
        let accept = request.headers[.accept] ?? ""
        if accept.contains("application/vnd.datacite.datacite+json") {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
            return Self.respond((try? encoder.encode(publication.record)) ?? Data(), type: "application/vnd.datacite.datacite+json", status: status)
        }
        let jsonLD = Self.jsonLD(publication)
        if accept.contains("application/ld+json") { return Self.respond(jsonLD, type: "application/ld+json", status: status) }
        return Self.respond(Data(Self.html(publication, jsonLD: jsonLD).utf8), type: "text/html; charset=utf-8", status: status)
    }

    private func load(_ doi: DOIName) async throws -> Publication? {
        var row: (String, String, String, UUID, String?, Date?)?
        for try await found in try await client.query("""
            SELECT state, landing_url, record::text, study_id, withdrawal_reason, withdrawn_at
            FROM publications WHERE doi = \(doi.description) AND record IS NOT NULL
            """, logger: logger).decode((String, String, String, UUID, String?, Date?).self) { row = found }
        guard let (state, landing, recordJSON, studyID, reason, withdrawnAt) = row else { return nil }
        let withdrawal = reason.flatMap { reason in withdrawnAt.map { (reason: reason, at: $0) } }
        let record = try DataCiteAttributes(document: Data(recordJSON.utf8))
        var files: [(String, Int64, String, String)] = []
        // A tombstone lists no data.
        if withdrawal == nil { for try await file in try await client.query("""
            SELECT o.logical_path, o.size_bytes, coalesce(o.checksum, ''), o.format
            FROM objects o JOIN assays a ON a.id = o.assay_id
            WHERE a.study_id = \(studyID) AND o.parent_id IS NULL AND o.state <> 'expired'
            ORDER BY o.logical_path LIMIT 10000
            """, logger: logger).decode((String, Int64, String, String).self) { files.append(file) } }
        return Publication(doi: doi, state: state, landing: landing, record: record,
                           files: files.map { (path: $0.0, size: $0.1, checksum: $0.2, format: $0.3, url: accessURL(doi, path: $0.0)) },
                           withdrawal: withdrawal)
    }

    private func accessURL(_ doi: DOIName, path: String) -> String? {
        guard let dataAccess else { return nil }
        var allowed = CharacterSet.urlPathAllowed
        allowed.remove(charactersIn: "?#;")
        let encoded = path.addingPercentEncoding(withAllowedCharacters: allowed) ?? ""
        return dataAccess.replacingOccurrences(of: "{doi}", with: doi.description).replacingOccurrences(of: "{path}", with: encoded)
    }

    // MARK: - Representations

    /// The schema.org `Dataset` of the publication.
    static func jsonLD(_ publication: Publication) -> Data {
        let record = publication.record
        var dataset: [String: Any] = [
            "@context": "https://schema.org",
            "@type": "Dataset",
            "@id": publication.doi.url,
            "identifier": publication.doi.url,
            "url": publication.landing,
            "name": record.titles.first?.title ?? "",
            "description": record.descriptions.first { $0.descriptionType == "Abstract" }?.description ?? "",
            "datePublished": record.publicationYear,
            "keywords": record.subjects.map(\.subject),
            "creator": record.creators.map { creator -> [String: Any] in
                var person: [String: Any] = ["@type": creator.nameType == "Personal" ? "Person" : "Organization", "name": creator.name]
                if let given = creator.givenName { person["givenName"] = given }
                if let family = creator.familyName { person["familyName"] = family }
                if let orcid = creator.nameIdentifiers?.first?.nameIdentifier { person["@id"] = orcid }
                if let affiliation = creator.affiliation?.first {
                    var organisation: [String: Any] = ["@type": "Organization", "name": affiliation.name]
                    if let ror = affiliation.affiliationIdentifier { organisation["@id"] = ror }
                    person["affiliation"] = organisation
                }
                return person
            },
            "publisher": ["@type": "Organization", "name": record.publisher.name].merging(
                record.publisher.publisherIdentifier.map { ["@id": $0] } ?? [:]) { $1 },
        ]
        if let license = record.rightsList.first?.rightsUri { dataset["license"] = license }
        if let withdrawal = publication.withdrawal {
            dataset["creativeWorkStatus"] = "Withdrawn"
            dataset["conditionsOfAccess"] = "Withdrawn: " + withdrawal.reason
        } else {
            dataset["distribution"] = publication.files.map { file in
                var download: [String: Any] = ["@type": "DataDownload", "name": file.path, "contentSize": "\(file.size) B", "encodingFormat": file.format]
                if let url = file.url { download["contentUrl"] = url }
                return download
            }
        }
        return (try? JSONSerialization.data(withJSONObject: dataset, options: [.sortedKeys, .withoutEscapingSlashes])) ?? Data()
    }

    static func html(_ publication: Publication, jsonLD: Data) -> String {
        let record = publication.record
        let title = record.titles.first?.title ?? ""
        let creators = record.creators.map(\.name).joined(separator: "; ")
        let citation = "\(creators) (\(record.publicationYear)). \(title). \(record.publisher.name). \(record.types.resourceTypeGeneral). \(publication.doi.url)"
        // Inside <script>, "</" would end the element early: JSON allows "<\/".
        let script = String(decoding: jsonLD, as: UTF8.self).replacingOccurrences(of: "</", with: "<\\/")
        var rows: [(String, String)] = [
            ("DOI", "<a href=\"\(escape(publication.doi.url))\">\(escape(publication.doi.url))</a>"),
            ("Creators", record.creators.map { creator in
                let orcid = creator.nameIdentifiers?.first.map { " (<a href=\"\(escape($0.nameIdentifier))\">ORCID</a>)" } ?? ""
                let affiliation = creator.affiliation?.first.map { ", \(escape($0.name))" } ?? ""
                return escape(creator.name) + orcid + affiliation
            }.joined(separator: "<br>")),
            ("Publisher", escape(record.publisher.name)),
            ("Publication year", escape(record.publicationYear)),
            ("Resource type", escape(record.types.resourceTypeGeneral)),
            ("Licence", record.rightsList.first.map { "<a href=\"\(escape($0.rightsUri))\">\(escape($0.rights))</a> (\(escape($0.rightsIdentifier)))" } ?? ""),
            ("Keywords", escape(record.subjects.map(\.subject).joined(separator: ", "))),
            ("Sizes", escape(record.sizes.joined(separator: ", "))),
            ("Formats", escape(record.formats.joined(separator: ", "))),
        ]
        if let related = record.relatedIdentifiers.first {
            rows.append(("Related publication", "<a href=\"https://doi.org/\(escape(related.relatedIdentifier))\">\(escape(related.relatedIdentifier))</a>"))
        }
        if let withdrawal = publication.withdrawal {
            let day = ISO8601DateFormatter()
            day.formatOptions = [.withFullDate]
            rows.insert(("Withdrawn", "\(escape(day.string(from: withdrawal.at))): \(escape(withdrawal.reason))"), at: 0)
        } else {
            let onRequest = "on request from \(escape(record.publisher.name))"
            rows.append(("Data access", publication.files.contains { $0.url != nil } ? "download links in the file list" : onRequest))
            if publication.state == "reserved" || publication.state == "registering" {
                rows.append(("Status", "registration at DataCite pending"))
            }
        }
        let table = rows.map { "<tr><th>\($0.0)</th><td>\($0.1)</td></tr>" }.joined(separator: "\n")
        let heading = publication.withdrawal == nil ? escape(title) : "Withdrawn: " + escape(title)
        let notice = publication.withdrawal == nil ? "" : "<p class=\"tombstone\">This dataset has been withdrawn. Its DOI and citation remain; its data is no longer available here.</p>\n"
        let files = publication.files.map { file in
            let name = file.url.map { "<a href=\"\(escape($0))\">\(escape(file.path))</a>" } ?? escape(file.path)
            return "<tr><td>\(name)</td><td>\(file.size)</td><td><code>\(escape(file.checksum))</code></td><td>\(escape(file.format))</td></tr>"
        }.joined(separator: "\n")
        let abstract = escape(record.descriptions.first { $0.descriptionType == "Abstract" }?.description ?? "")
        return """
            <!DOCTYPE html>
            <html lang="en">
            <head>
            <meta charset="utf-8">
            <title>\(escape(title))</title>
            <link rel="canonical" href="\(escape(publication.doi.url))">
            <script type="application/ld+json">\(script)</script>
            </head>
            <body>
            <h1>\(heading)</h1>
            \(notice)<p class="citation">\(escape(citation))</p>
            <p>\(abstract)</p>
            <table class="metadata">
            \(table)
            </table>
            \(publication.withdrawal == nil ? "<h2>Files</h2>\n<table class=\"files\">\n<tr><th>Path</th><th>Bytes</th><th>SHA-256</th><th>Format</th></tr>\n\(files)\n</table>" : "")
            </body>
            </html>

            """
    }

    static func escape(_ text: String) -> String { HTMLText.escape(text) }

    static func respond(_ body: Data, type: String, status: HTTPResponse.Status = .ok) -> Response {
        Response(status: status, headers: [.contentType: type, .vary: "Accept"], body: .init(byteBuffer: ByteBuffer(bytes: body)))
    }

    static func notFound(_ doi: String) -> Response {
        Response(status: .notFound, headers: [.contentType: "text/plain; charset=utf-8"],
                 body: .init(byteBuffer: ByteBuffer(string: "No dataset has the DOI \(escape(String(doi.prefix(128)))).\n")))
    }
}
