import FairwayCatalog
import FairwayContracts
public import Foundation
public import Logging
public import PostgresNIO

/// An investigation's storage against its quota.
public struct QuotaState: Sendable, Equatable {
    public let investigationID: UUID
    public let investigation: String
    public let usageBytes: Int64
    public let quotaBytes: Int64

    /// 100 when full, 80 from four fifths, else nil.
    public var level: Int? {
        if usageBytes >= quotaBytes { return 100 }
        if usageBytes * 5 >= quotaBytes * 4 { return 80 }
        return nil
    }
}

/// Quotas live in the policies (`quota: 100GB`); `investigations.quota_bytes` holds the bytes of
/// the policy that applies, so ingest can refuse an acquisition with one indexed lookup. Usage is
/// the size of every live object of the investigation (derived images included).
public enum Quotas {
    /// Writes each investigation's effective quota to `investigations.quota_bytes`; returns how many changed.
    @discardableResult
    public static func sync(client: PostgresClient, logger: Logger) async throws -> Int {
        var wanted: [(UUID, Int64?)] = []
        for try await (id, text, current) in try await client.query("""
            SELECT e.investigation_id, e.policy->>'quota', i.quota_bytes
            FROM retention_effective_policies e JOIN investigations i ON i.id = e.investigation_id
            """, logger: logger).decode((UUID, String?, Int64?).self) {
            let bytes = text.flatMap(ByteCount.init)?.bytes
            if bytes != current { wanted.append((id, bytes)) }
        }
        guard !wanted.isEmpty else { return 0 }
        try await client.query("""
            UPDATE investigations i SET quota_bytes = NULLIF(x.q, -1)
            FROM unnest(\(wanted.map(\.0)), \(wanted.map { $0.1 ?? -1 })) AS x(id, q) WHERE i.id = x.id
            """, logger: logger)
        return wanted.count
    }

    /// Usage of every investigation that has a quota.
    public static func states(client: PostgresClient, logger: Logger) async throws -> [QuotaState] {
        var states: [QuotaState] = []
        for try await (id, name, usage, quota) in try await client.query("""
            SELECT i.id, i.name, coalesce(sum(o.size_bytes) FILTER (WHERE o.state <> 'expired'), 0)::bigint, i.quota_bytes
            FROM investigations i
            LEFT JOIN studies s ON s.investigation_id = i.id LEFT JOIN assays a ON a.study_id = s.id LEFT JOIN objects o ON o.assay_id = a.id
            WHERE i.quota_bytes IS NOT NULL
            GROUP BY i.id, i.name, i.quota_bytes ORDER BY i.name
            """, logger: logger).decode((UUID, String, Int64, Int64).self) {
            states.append(QuotaState(investigationID: id, investigation: name, usageBytes: usage, quotaBytes: quota))
        }
        return states
    }
}

extension RetentionEngine {
    /// Quota notices due: the 80 % and 100 % marks crossed since the last notice (a level is
    /// forgotten once usage drops below it, so crossing it again notifies again).
    func sendQuotaNotices(at now: Date) async throws -> [String] {
        try await Quotas.sync(client: catalog.client, logger: logger)
        var sent: [String] = []
        for state in try await Quotas.states(client: catalog.client, logger: logger) {
            let level = state.level ?? 0
            var notified: Set<Int> = []
            for try await known in try await catalog.client.query("""
                WITH forgotten AS (DELETE FROM quota_notices WHERE investigation_id = \(state.investigationID) AND level > \(level))
                SELECT level FROM quota_notices WHERE investigation_id = \(state.investigationID) AND level <= \(level)
                """, logger: logger).decode(Int.self) { notified.insert(known) }
            guard level > 0, !notified.contains(level) else { continue }
            var recipients: [String] = []
            for try await email in try await catalog.client.query("""
                SELECT DISTINCT c.email FROM investigation_members m JOIN contacts c ON c.username = m.username
                WHERE m.investigation_id = \(state.investigationID) AND m.role IN ('owner', 'member') ORDER BY 1
                """, logger: logger).decode(String.self) { recipients.append(email) }
            _ = try await delivery.deliver(NoticeMail(quota: state, level: level, recipients: recipients, date: now))
            try await catalog.transaction { transaction in
                try await transaction.query("""
                    INSERT INTO quota_notices (investigation_id, level, usage_bytes, quota_bytes, sent_at)
                    VALUES (\(state.investigationID), \(level), \(state.usageBytes), \(state.quotaBytes), \(now))
                    ON CONFLICT DO NOTHING
                    """)
                transaction.emit(Envelope(payload: RetentionNotice(
                    investigation: state.investigation, action: "quota-\(level)", objectIDs: [], dueAt: now,
                    recipient: recipients.isEmpty ? nil : recipients.joined(separator: ", "))))
            }
            sent.append("\(state.investigation) at \(level) % (\(state.usageBytes) of \(state.quotaBytes) bytes)")
        }
        return sent
    }
}
