public import FairwayPublication
public import Foundation
public import Logging
public import PostgresNIO

/// A publication as a user sees it: where it stands locally and at DataCite, why, and what to fix.
public struct PublicationStatus: Sendable, Encodable {
    public let doi: String
    public let investigation: String
    public let study: String
    /// reserved, registering, findable, hidden, withdrawn or failed.
    public let state: String
    public let detail: String?
    public let landingPage: String
    /// The state DataCite last reported (draft, registered, findable), if any.
    public let remoteState: String?
    /// Something is still to be sent to DataCite, or an unanswered call to be reconciled.
    public let pending: Bool
    public let attempts: Int
    public let nextAttemptAt: Date?
    public let fieldErrors: [FieldProblem]
    public let withdrawalReason: String?
    public let withdrawnAt: Date?
    public let registeredAt: Date?
    public let updatedAt: Date
    public var url: String

    init(doi: String, investigation: String, study: String, state: String, detail: String?, landingPage: String, remoteState: String?,
         pending: Bool, attempts: Int, nextAttemptAt: Date?, fieldErrors: [FieldProblem], withdrawalReason: String?, withdrawnAt: Date?,
         registeredAt: Date?, updatedAt: Date) {
        self.doi = doi; self.investigation = investigation; self.study = study; self.state = state; self.detail = detail
        self.landingPage = landingPage; self.remoteState = remoteState; self.pending = pending; self.attempts = attempts
        self.nextAttemptAt = nextAttemptAt; self.fieldErrors = fieldErrors; self.withdrawalReason = withdrawalReason
        self.withdrawnAt = withdrawnAt; self.registeredAt = registeredAt; self.updatedAt = updatedAt
        url = "https://doi.org/\(doi)"
    }

    /// The publication with this DOI, or of this study.
    public static func load(doi: String? = nil, investigation: String? = nil, study: String? = nil,
                            client: PostgresClient, logger: Logger) async throws -> [PublicationStatus] {
        var statuses: [PublicationStatus] = []
        let rows = try await client.query("""
            SELECT p.doi, i.name, s.name, p.state, p.status_detail, p.landing_url, p.remote_state,
                   (p.synced_revision < p.revision OR p.in_flight), p.attempts,
                   CASE WHEN p.synced_revision < p.revision OR p.in_flight THEN p.next_attempt_at END,
                   p.field_errors::text, p.withdrawal_reason, p.withdrawn_at, p.registered_at, p.updated_at
            FROM publications p JOIN studies s ON s.id = p.study_id JOIN investigations i ON i.id = s.investigation_id
            WHERE (\(doi)::text IS NULL OR p.doi = \(doi)) AND (\(investigation)::text IS NULL OR i.name = \(investigation))
              AND (\(study)::text IS NULL OR s.name = \(study))
            ORDER BY p.created_at
            """, logger: logger)
        for try await row in rows.decode((String, String, String, String, String?, String, String?, Bool, Int, Date?, String, String?, Date?, Date?, Date).self) {
            let problems = (try? JSONDecoder().decode([FieldProblem].self, from: Data(row.10.utf8))) ?? []
            statuses.append(PublicationStatus(doi: row.0, investigation: row.1, study: row.2, state: row.3, detail: row.4, landingPage: row.5,
                                              remoteState: row.6, pending: row.7, attempts: row.8, nextAttemptAt: row.9, fieldErrors: problems,
                                              withdrawalReason: row.11, withdrawnAt: row.12, registeredAt: row.13, updatedAt: row.14))
        }
        return statuses
    }

    /// Settled: DataCite holds the last revision, or refused it for reasons the user must fix.
    public var settled: Bool { !pending }

    /// Lines for a terminal.
    public var lines: [String] {
        var lines = ["\(url)  \(investigation)/\(study)", "  state: \(state)\(remoteState.map { " (DataCite: \($0))" } ?? "")"]
        if let detail { lines.append("  status: \(detail)") }
        if pending, let nextAttemptAt, attempts > 0 {
            lines.append("  next attempt: \(ISO8601DateFormatter().string(from: nextAttemptAt)) (after \(attempts) failed attempt\(attempts == 1 ? "" : "s"))")
        }
        for problem in fieldErrors { lines.append("  problem: \(problem)") }
        if let withdrawalReason { lines.append("  withdrawn: \(withdrawalReason)") }
        lines.append("  landing page: \(landingPage)")
        return lines
    }
}
