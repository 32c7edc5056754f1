public import FairwayPublication
public import FairwayServiceKit
public import Foundation
public import Logging
public import PostgresNIO

/// How the repository describes itself to harvesters (`FAIRWAY_OAI_*`), with what it can take
/// from the publishing settings.
public struct OAISettings: Sendable {
    public var baseURL: String
    public var repositoryName: String
    public var adminEmail: String
    /// The domain in `oai:<domain>:<doi>` identifiers.
    public var repositoryIdentifier: String
    /// DataCite's repository id, written as `datacentreSymbol` in oai_datacite.
    public var dataCentre: String?
    public var pageSize = 100

    public static let helpText = """
        FAIRWAY_OAI_BASE_URL       public address of GET /oai (default: the landing base URL's site + /oai)
        FAIRWAY_OAI_ADMIN_EMAIL    the repository's contact for harvesters (default: FAIRWAY_MAIL_FROM)
        FAIRWAY_OAI_PAGE_SIZE      records per page before a resumptionToken (default 100)
        """

    public init(baseURL: String, repositoryName: String, adminEmail: String, dataCentre: String?, pageSize: Int = 100) {
        self.baseURL = baseURL; self.repositoryName = repositoryName; self.adminEmail = adminEmail
        self.dataCentre = dataCentre; self.pageSize = pageSize
        repositoryIdentifier = URL(string: baseURL)?.host ?? "localhost"
    }

    /// The settings, or why OAI-PMH cannot be offered yet (the settings to give).
    public static func read(_ values: [String: String]) -> Result<OAISettings, FairwayConfiguration.Invalid> {
        func setting(_ key: String) -> String? { values[key].flatMap { $0.isEmpty ? nil : $0 } }
        guard let landing = setting("FAIRWAY_LANDING_BASE_URL"), let publisher = setting("FAIRWAY_PUBLISHER_NAME") else {
            return .failure(.init(description: "set FAIRWAY_LANDING_BASE_URL and FAIRWAY_PUBLISHER_NAME to offer OAI-PMH"))
        }
        guard let email = setting("FAIRWAY_OAI_ADMIN_EMAIL") ?? setting("FAIRWAY_MAIL_FROM") else {
            return .failure(.init(description: "set FAIRWAY_OAI_ADMIN_EMAIL (the contact harvesters see) to offer OAI-PMH"))
        }
        guard email.contains("@"), !email.contains(where: \.isWhitespace), email.count <= 254 else {
            return .failure(.init(description: "FAIRWAY_OAI_ADMIN_EMAIL \(email.prefix(80)) is not an e-mail address"))
        }
        var base = setting("FAIRWAY_OAI_BASE_URL")
        if base == nil, var site = URLComponents(string: landing) {
            site.path = "/oai"; site.query = nil; site.fragment = nil
            base = site.string
        }
        guard let base, let url = URL(string: base), ["http", "https"].contains(url.scheme ?? ""), url.host != nil else {
            return .failure(.init(description: "FAIRWAY_OAI_BASE_URL must be an http(s) URL"))
        }
        var settings = OAISettings(baseURL: base, repositoryName: publisher + " datasets", adminEmail: email,
                                   dataCentre: setting("FAIRWAY_DATACITE_USER")?.uppercased())
        if let size = setting("FAIRWAY_OAI_PAGE_SIZE") {
            guard let pageSize = Int(size), (1...10_000).contains(pageSize) else {
                return .failure(.init(description: "FAIRWAY_OAI_PAGE_SIZE must be a number from 1 to 10000"))
            }
            settings.pageSize = pageSize
        }
        return .success(settings)
    }
}

/// One harvestable item: a dataset whose DOI reached DataCite. A withdrawn one stays as a deleted
/// record (the repository keeps deletions persistently), so harvesters learn it is gone.
public struct OAIRecord: Sendable {
    public let doi: String
    public let datestamp: Date
    public let setSpec: String
    public let deleted: Bool
    public let attributes: DataCiteAttributes
}

/// The catalog as an OAI-PMH repository: published datasets only, ordered by datestamp and DOI.
public struct OAIRepository: Sendable {
    let client: PostgresClient
    let logger: Logger

    public init(client: PostgresClient, logger: Logger) { self.client = client; self.logger = logger }

    /// A record's datestamp is the last time its public record changed: registration, a synced
    /// update, or withdrawal. Seconds, the repository's granularity.
    private static let records = """
        SELECT p.doi, date_trunc('second', greatest(p.registered_at, p.synced_at, p.withdrawn_at)) AS datestamp,
               i.name AS set_spec, p.withdrawn_at IS NOT NULL AS deleted, p.record::text AS record
        FROM publications p JOIN studies s ON s.id = p.study_id JOIN investigations i ON i.id = s.investigation_id
        WHERE p.registered_at IS NOT NULL AND p.record IS NOT NULL
        """

    public func earliestDatestamp() async throws -> Date? {
        var earliest: Date?
        for try await value in try await client.query(PostgresQuery(unsafeSQL: "SELECT min(datestamp) FROM (\(Self.records)) r"), logger: logger)
            .decode(Date?.self) { earliest = value }
        return earliest
    }

    /// Investigations with at least one harvestable dataset: (setSpec, setName).
    public func sets() async throws -> [(spec: String, name: String)] {
        var sets: [(String, String)] = []
        for try await row in try await client.query(PostgresQuery(unsafeSQL: """
            SELECT i.name, coalesce(nullif(i.description, ''), i.name) FROM investigations i
            WHERE i.name IN (SELECT set_spec FROM (\(Self.records)) r) ORDER BY i.name
            """), logger: logger).decode((String, String).self) { sets.append(row) }
        return sets
    }

    public func record(doi: String) async throws -> OAIRecord? {
        try await fetch("SELECT * FROM (\(unescaped: Self.records)) r WHERE r.doi = \(doi)").first
    }

    /// One page of a list after `token`'s position, and how many records the whole list has.
    public func page(_ token: ResumptionToken, limit: Int) async throws -> (records: [OAIRecord], total: Int) {
        let (from, until, set) = (token.from, token.until, token.set)
        let records = try await fetch("""
            SELECT * FROM (\(unescaped: Self.records)) r
            WHERE (\(from)::timestamptz IS NULL OR r.datestamp >= \(from)) AND (\(until)::timestamptz IS NULL OR r.datestamp <= \(until))
              AND (\(set)::text IS NULL OR r.set_spec = \(set))
              AND (\(token.afterDatestamp)::timestamptz IS NULL OR (r.datestamp, r.doi) > (\(token.afterDatestamp), \(token.afterKey)::text))
            ORDER BY r.datestamp, r.doi LIMIT \(unescaped: String(max(1, limit)))
            """)
        var total = 0
        for try await value in try await client.query("""
            SELECT count(*)::int FROM (\(unescaped: Self.records)) r
            WHERE (\(from)::timestamptz IS NULL OR r.datestamp >= \(from)) AND (\(until)::timestamptz IS NULL OR r.datestamp <= \(until))
              AND (\(set)::text IS NULL OR r.set_spec = \(set))
            """, logger: logger).decode(Int.self) { total = value }
        return (records, total)
    }

    private func fetch(_ query: PostgresQuery) async throws -> [OAIRecord] {
        var records: [OAIRecord] = []
        for try await (doi, datestamp, setSpec, deleted, record) in try await client.query(query, logger: logger)
            .decode((String, Date, String, Bool, String).self) {
            records.append(OAIRecord(doi: doi, datestamp: datestamp, setSpec: setSpec, deleted: deleted,
                                     attributes: try DataCiteAttributes(document: Data(record.utf8))))
        }
        return records
    }
}
