import FairwayCatalog
import FairwayContracts
public import Foundation
import Logging
import Metrics
import FairwayServiceKit
import PostgresNIO

/// The outcome of re-reading one replica.
public struct FixityResult: Sendable {
    public let replicaID: UUID
    public let objectID: UUID
    public let resource: String
    public let path: String
    /// ok, mismatch, missing or unreadable.
    public let outcome: String
    public let bytes: Int64
    public let seconds: Double
    public let detail: String?
    /// What happened to a damaged replica: repaired, repair failed (why), or not repairable (why).
    public let repair: String?
}

/// Re-reads replicas and compares them with the checksum recorded when they were written, within
/// a read budget shared by every file it checks. A damaged or missing replica is marked, announced
/// (`replica.damaged`) and rewritten from an intact one when there is one; landing buffers are
/// never written to, so a damaged landing copy is only marked and announced.
public struct FixityChecker: Sendable {
    public let engine: RetentionEngine
    public let throttle: ReplicaFiles.Throttle?
    private let reader = BlockingSlots(limit: 1)

    public init(engine: RetentionEngine, bytesPerSecond: Int64?) {
        self.engine = engine
        self.throttle = bytesPerSecond.map { ReplicaFiles.Throttle(bytesPerSecond: $0) }
    }

    var catalog: Catalog { engine.catalog }
    var logger: Logger { engine.catalog.logger }

    struct DueReplica: Sendable {
        let id: UUID
        let objectID: UUID
        let resourceID: UUID
        let resource: String
        let role: String
        let path: String
        let checksum: String
        let size: Int64
    }

    /// Checks up to `limit` good replicas last verified before `verifiedBefore` (never verified
    /// first), optionally of one resource.
    /// `progress(done, total, bytes read, total bytes)` follows the checks, for a progress bar.
    public func checkDue(verifiedBefore: Date, limit: Int, resource: String? = nil,
                         progress: (@Sendable (Int, Int, Int64, Int64) -> Void)? = nil) async throws -> [FixityResult] {
        var due: [DueReplica] = []
        for try await (id, objectID, resourceID, name, role, path, checksum, size) in try await catalog.client.query("""
            SELECT r.id, r.object_id, x.id, x.name, x.role, r.physical_path, coalesce(r.checksum, o.checksum), r.size_bytes
            FROM replicas r JOIN resources x ON x.id = r.resource_id JOIN objects o ON o.id = r.object_id
            WHERE r.status = 'good' AND o.state <> 'expired' AND r.physical_path_bytes IS NULL
              AND coalesce(r.checksum, o.checksum) IS NOT NULL
              AND (r.last_verified_at IS NULL OR r.last_verified_at < \(verifiedBefore))
              AND (\(resource)::text IS NULL OR x.name = \(resource))
              -- An unreadable file (a passing fault?) waits an hour before the next try.
              AND NOT EXISTS (SELECT 1 FROM fixity_checks f WHERE f.replica_id = r.id AND f.outcome = 'unreadable'
                              AND f.checked_at > now() - interval '1 hour')
            ORDER BY r.last_verified_at NULLS FIRST, r.id
            LIMIT \(limit)
            """, logger: logger).decode((UUID, UUID, UUID, String, String, String, String, Int64).self) {
            due.append(DueReplica(id: id, objectID: objectID, resourceID: resourceID, resource: name, role: role, path: path,
                                  checksum: checksum, size: size))
        }
        let totalBytes = due.reduce(Int64(0)) { $0 + $1.size }
        var results: [FixityResult] = []
        var read: Int64 = 0
        for replica in due {
            let result = try await check(replica)
            results.append(result)
            read += result.bytes
            progress?(results.count, due.count, read, totalBytes)
        }
        return results
    }

    private func check(_ replica: DueReplica) async throws -> FixityResult {
        let started = ContinuousClock.now
        let throttle = throttle
        var outcome = "ok", detail: String?, actual: String?, bytes: Int64 = 0
        do {
            let digest = try await reader.run { () throws(ReplicaFileError) in try ReplicaFiles.digest(of: replica.path, throttle: throttle) }
            bytes = digest.size
            if digest.checksum != replica.checksum {
                outcome = "mismatch"; actual = digest.checksum
                detail = "read \(digest.size) bytes with checksum \(digest.checksum); recorded \(replica.checksum)"
            }
        } catch {
            outcome = error.missing ? "missing" : "unreadable"
            detail = error.description
        }
        let seconds = (ContinuousClock.now - started).seconds
        Counter(label: "fairway_fixity_checks_total", dimensions: [("outcome", outcome)]).increment()
        Counter(label: "fairway_fixity_bytes_read_total").increment(by: Int(bytes))
        if outcome == "ok" {
            try await catalog.client.query("""
                WITH verified AS (UPDATE replicas SET last_verified_at = now() WHERE id = \(replica.id) AND status = 'good')
                INSERT INTO fixity_checks (replica_id, object_id, resource_id, physical_path, outcome, bytes, seconds)
                VALUES (\(replica.id), \(replica.objectID), \(replica.resourceID), \(replica.path), 'ok', \(bytes), \(seconds))
                """, logger: logger)
            return FixityResult(replicaID: replica.id, objectID: replica.objectID, resource: replica.resource, path: replica.path,
                                outcome: outcome, bytes: bytes, seconds: seconds, detail: nil, repair: nil)
        }
        // A landing buffer is the facility's, never written to; an unreadable file may be a passing
        // fault and is only reported.
        let writable = replica.role != "landing"
        let status = outcome == "missing" ? "missing" : "stale"
        let (repairAction, repairable) = try await catalog.transaction { transaction -> (Int64?, Bool) in
            if outcome != "unreadable" {
                try await transaction.query("UPDATE replicas SET status = \(status) WHERE id = \(replica.id)")
            }
            try await transaction.query("""
                INSERT INTO fixity_checks (replica_id, object_id, resource_id, physical_path, outcome, bytes, seconds, detail)
                VALUES (\(replica.id), \(replica.objectID), \(replica.resourceID), \(replica.path), \(outcome), \(bytes), \(seconds), \(detail))
                """)
            var intactElsewhere = false
            for try await found in try await transaction.query("""
                SELECT EXISTS (SELECT 1 FROM replicas r JOIN objects o ON o.id = r.object_id
                               WHERE r.object_id = \(replica.objectID) AND r.id <> \(replica.id) AND r.status = 'good' AND r.checksum = o.checksum)
                """).decode(Bool.self) { intactElsewhere = found }
            var actionID: Int64?
            if writable, intactElsewhere, outcome != "unreadable" {
                for try await id in try await transaction.query("""
                    INSERT INTO retention_actions (object_id, kind, state, resource_id, reason, requested_by, scheduled_at, not_before)
                    VALUES (\(replica.objectID), 'repair', 'scheduled', \(replica.resourceID), \("fixity: " + (detail ?? outcome)),
                            'fairway-retention fixity', now(), now())
                    ON CONFLICT (object_id, kind) WHERE state IN ('scheduled', 'running') DO NOTHING
                    RETURNING id
                    """).decode(Int64.self) { actionID = id }
            }
            transaction.emit(Envelope(payload: ReplicaDamaged(
                objectID: replica.objectID, resource: replica.resource, physicalPath: replica.path, problem: outcome,
                detail: detail ?? outcome, expectedChecksum: replica.checksum, actualChecksum: actual,
                repairable: writable && intactElsewhere && outcome != "unreadable")))
            return (actionID, writable && intactElsewhere)
        }
        logger.error("fixity check failed", metadata: ["object": "\(replica.objectID)", "resource": "\(replica.resource)",
                                                       "path": "\(replica.path)", "outcome": "\(outcome)", "detail": "\(detail ?? "")"])
        var repair: String?
        if let repairAction {
            let ran = try await engine.runAction(repairAction, at: Date())
            repair = ran.map { $0.state == "done" ? "repaired: \($0.detail)" : "repair \($0.state): \($0.detail)" } ?? "repair scheduled"
        } else if outcome == "unreadable" {
            repair = "not repaired: the file could not be read; checked again next cycle"
        } else if !writable {
            repair = "not repaired: landing buffers are not written to"
        } else if !repairable {
            repair = "not repaired: no intact replica to copy from"
        } else {
            repair = "a repair is already scheduled"
        }
        return FixityResult(replicaID: replica.id, objectID: replica.objectID, resource: replica.resource, path: replica.path,
                            outcome: outcome, bytes: bytes, seconds: seconds, detail: detail, repair: repair)
    }
}
