public import FairwayCatalog
import FairwayContracts
public import Foundation
import Logging
import FairwayServiceKit
import PostgresNIO

/// What one `apply` did.
public struct ApplyReport: Sendable {
    public var scheduled: [ActionKind: Int] = [:]
    public var notices: [PlannedNotice] = []
    public var noticeFailures: [String] = []
    public var quotaNotices: [String] = []
    public var ran: [RanAction] = []

    public struct RanAction: Sendable {
        public let id: Int64
        public let objectID: UUID
        public let kind: ActionKind
        /// done, failed or cancelled.
        public let state: String
        public let detail: String
    }
}

/// Why an action could not be carried out; the action is recorded as failed with this text.
struct ActionFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// Runs the policies at a given time: schedules what is due, sends the notices, then carries out
/// the actions whose time has come. The clock is a parameter so that an operator (`--at`) and the
/// tests can look years ahead; the service passes the time of day.
///
/// Crash safety: a replica row is deleted, and the action records the path it is about to remove,
/// in one transaction, before the file is unlinked; copies are written beside their name and
/// renamed when complete. A run killed at any point leaves every recorded replica on disk, and the
/// next run (the lease of the killed one expires) finishes the removal it recorded.
public struct RetentionEngine: Sendable {
    public let catalog: Catalog
    public let delivery: any NoticeDelivery
    /// Who is recorded as having requested the actions this engine schedules.
    public let actor: String
    public let leaseSeconds: Int
    let slots: BlockingSlots

    public init(catalog: Catalog, delivery: any NoticeDelivery, actor: String, copiesAtOnce: Int = 2, leaseSeconds: Int = 120) {
        self.catalog = catalog
        self.delivery = delivery
        self.actor = actor
        self.leaseSeconds = leaseSeconds
        self.slots = BlockingSlots(limit: copiesAtOnce)
    }

    var logger: Logger { catalog.logger }
    var planner: RetentionPlanner { RetentionPlanner(client: catalog.client, logger: catalog.logger) }

    /// Schedules, notifies and runs everything due at `now`.
    /// `progress(done, total, bytes, total bytes)` follows the actions run, for a progress bar.
    public func apply(at now: Date, progress: (@Sendable (Int, Int, Int64, Int64) -> Void)? = nil) async throws -> ApplyReport {
        var report = ApplyReport()
        report.scheduled = try await catalog.transaction { try await planner.schedule(at: now, requestedBy: actor, on: $0) }
        return try await notifyAndRun(report, at: now, progress: progress)
    }

    /// Schedules what the policies ask for `objects` alone (new ones: their replication) and runs
    /// everything due. Notices are left to the full runs: they follow dates, not arrivals.
    public func apply(at now: Date, objects: [UUID]) async throws -> ApplyReport {
        var report = ApplyReport()
        report.scheduled = try await catalog.transaction { try await planner.schedule(at: now, requestedBy: actor, objects: objects, on: $0) }
        report.ran = try await runDue(at: now)
        return report
    }

    private func notifyAndRun(_ scheduled: ApplyReport, at now: Date,
                              progress: (@Sendable (Int, Int, Int64, Int64) -> Void)?) async throws -> ApplyReport {
        var report = scheduled
        for notice in try await planner.dueNotices(at: now) {
            do {
                try await send(notice, at: now)
                report.notices.append(notice)
            } catch {
                // The mail server may be down: the notice stays due and is tried again next run.
                logger.error("retention notice not sent", metadata: ["investigation": "\(notice.investigation)", "owner": "\(notice.owner)", "error": "\(error)"])
                report.noticeFailures.append("\(notice.investigation)/\(notice.owner): \(error)")
            }
        }
        do {
            report.quotaNotices = try await sendQuotaNotices(at: now)
        } catch {
            logger.error("quota notices not sent", metadata: ["error": "\(error)"])
            report.noticeFailures.append("quota notices: \(error)")
        }
        report.ran = try await runDue(at: now, progress: progress)
        return report
    }

    /// Carries out the scheduled actions due at `now` (and any a killed run left unfinished).
    public func runDue(at now: Date, progress: (@Sendable (Int, Int, Int64, Int64) -> Void)? = nil) async throws -> [ApplyReport.RanAction] {
        // What is due now, with the bytes its objects hold: the progress bar's totals.
        var due = (count: 0, bytes: Int64(0))
        var sizes: [UUID: Int64] = [:]
        if progress != nil {
            for try await (objectID, size) in try await catalog.client.query("""
                SELECT a.object_id, o.size_bytes FROM retention_actions a JOIN objects o ON o.id = a.object_id
                WHERE (a.state = 'scheduled' AND a.not_before <= \(now)) OR (a.state = 'running' AND a.lease_until < clock_timestamp())
                """, logger: logger).decode((UUID, Int64).self) {
                due.count += 1; due.bytes += size; sizes[objectID] = size
            }
        }
        var ran: [ApplyReport.RanAction] = []
        var bytes: Int64 = 0
        while true {
            let batch = try await claim(at: now, limit: 64)
            if batch.isEmpty { break }
            // The batch stays ours while this process lives; should it die, the leases run out
            // within `leaseSeconds` and another run takes the actions over.
            let renewal = Task { await renewLeases(of: batch.map(\.id)) }
            for action in batch {
                ran.append(await run(action, at: now))
                bytes += sizes[action.objectID] ?? 0
                progress?(ran.count, max(due.count, ran.count), bytes, max(due.bytes, bytes))
            }
            renewal.cancel()
        }
        return ran
    }

    /// Runs one scheduled action now, whatever its date (an operator's restage).
    public func runAction(_ id: Int64, at now: Date) async throws -> ApplyReport.RanAction? {
        let rows = try await catalog.client.query("""
            UPDATE retention_actions SET state = 'running', started_at = \(now),
                   lease_until = clock_timestamp() + make_interval(secs => \(leaseSeconds))
            WHERE id = \(id) AND state = 'scheduled'
            RETURNING id, object_id, kind, phase, resource_id, target_path, reason, requested_by
            """, logger: logger)
        for try await (id, objectID, kind, phase, resourceID, targetPath, reason, requestedBy) in rows
            .decode((Int64, UUID, String, String?, UUID?, String?, String, String).self) {
            guard let kind = ActionKind(rawValue: kind) else { return nil }
            let renewal = Task { await renewLeases(of: [id]) }
            defer { renewal.cancel() }
            return await run(ClaimedAction(id: id, objectID: objectID, kind: kind, phase: phase, resourceID: resourceID,
                                           targetPath: targetPath, reason: reason, requestedBy: requestedBy), at: now)
        }
        return nil
    }

    // MARK: - Claiming

    struct ClaimedAction: Sendable {
        let id: Int64
        let objectID: UUID
        let kind: ActionKind
        let phase: String?
        let resourceID: UUID?
        let targetPath: String?
        let reason: String
        let requestedBy: String
    }

    /// Takes due actions with a lease, copies and repairs before removals; an action whose runner
    /// died is taken again once its lease has run out.
    func claim(at now: Date, limit: Int) async throws -> [ClaimedAction] {
        let rows = try await catalog.client.query("""
            UPDATE retention_actions a
            SET state = 'running', started_at = coalesce(a.started_at, \(now)),
                lease_until = clock_timestamp() + make_interval(secs => \(leaseSeconds))
            FROM (SELECT id FROM retention_actions
                  WHERE (state = 'scheduled' AND not_before <= \(now)) OR (state = 'running' AND lease_until < clock_timestamp())
                  ORDER BY kind IN ('clean-buffer', 'tier', 'delete'), not_before, id
                  LIMIT \(limit) FOR UPDATE SKIP LOCKED) due
            WHERE a.id = due.id
            RETURNING a.id, a.object_id, a.kind, a.phase, a.resource_id, a.target_path, a.reason, a.requested_by
            """, logger: logger)
        var claimed: [ClaimedAction] = []
        for try await (id, objectID, kind, phase, resourceID, targetPath, reason, requestedBy) in rows
            .decode((Int64, UUID, String, String?, UUID?, String?, String, String).self) {
            guard let kind = ActionKind(rawValue: kind) else { continue }
            claimed.append(ClaimedAction(id: id, objectID: objectID, kind: kind, phase: phase, resourceID: resourceID,
                                         targetPath: targetPath, reason: reason, requestedBy: requestedBy))
        }
        return claimed.sorted { ($0.kind.isDestructive ? 1 : 0, $0.id) < ($1.kind.isDestructive ? 1 : 0, $1.id) }
    }

    /// Extends the leases of `ids` while they run, every third of a lease, until cancelled.
    func renewLeases(of ids: [Int64]) async {
        let every = Duration.milliseconds(max(100, leaseSeconds * 1000 / 3))
        while !Task.isCancelled {
            do {
                try await Task.sleep(for: every)
                try await catalog.client.query("""
                    UPDATE retention_actions SET lease_until = clock_timestamp() + make_interval(secs => \(leaseSeconds))
                    WHERE id = ANY(\(ids)) AND state = 'running'
                    """, logger: logger)
            } catch is CancellationError {
                return
            } catch {
                logger.warning("retention leases not renewed", metadata: ["error": "\(error)"])
            }
        }
    }

    // MARK: - Running one action

    enum Outcome {
        case done(String)
        case cancelled(String)
    }

    func run(_ action: ClaimedAction, at now: Date) async -> ApplyReport.RanAction {
        var state = "done", detail = ""
        do {
            try await finishRecordedRemoval(action)
            guard let object = try await CatalogObject.load(action.objectID, client: catalog.client, logger: logger) else {
                throw ActionFailure("the object is not in the catalog")
            }
            let outcome: Outcome
            if object.state == "expired" {
                outcome = .cancelled("the object has expired")
            } else {
                switch action.kind {
                case .replicate, .repair: outcome = try await replicate(object, action, at: now)
                case .restage: outcome = try await restage(object, action, at: now)
                case .cleanBuffer: outcome = try await cleanBuffer(object, action, at: now)
                case .tier: outcome = try await tier(object, action, at: now)
                case .delete: outcome = try await delete(object, action, at: now)
                }
            }
            switch outcome {
            case .done(let text):
                detail = text
                try await finish(action, state: "done", outcome: text, error: nil, at: now)
            case .cancelled(let text):
                state = "cancelled"; detail = text
                try await finish(action, state: "cancelled", outcome: text, error: nil, at: now)
            }
        } catch {
            state = "failed"
            detail = (error as? ActionFailure)?.description ?? describeDatabaseError(error)
            logger.error("retention action failed", metadata: ["action": "\(action.id)", "kind": "\(action.kind.rawValue)",
                                                               "object": "\(action.objectID)", "error": "\(detail)"])
            do {
                try await finish(action, state: "failed", outcome: nil, error: detail, at: now)
            } catch {
                // The lease runs out and a later run takes the action again.
                logger.error("retention action outcome not recorded", metadata: ["action": "\(action.id)", "error": "\(error)"])
            }
        }
        if state != "failed" {
            logger.info("retention action \(state)", metadata: ["action": "\(action.id)", "kind": "\(action.kind.rawValue)",
                                                             "object": "\(action.objectID)", "detail": "\(detail)"])
        }
        return .init(id: action.id, objectID: action.objectID, kind: action.kind, state: state, detail: detail)
    }

    private func finish(_ action: ClaimedAction, state: String, outcome: String?, error: String?, at now: Date) async throws {
        let resource: String? = if let id = action.resourceID { try await ResourceRecord.load(id, client: catalog.client, logger: logger)?.name } else { nil }
        try await catalog.transaction { transaction in
            try await transaction.query("""
                UPDATE retention_actions
                SET state = \(state), outcome = \(outcome), error = \(error), finished_at = \(now), lease_until = NULL, phase = NULL
                WHERE id = \(action.id)
                """)
            if state != "cancelled" || action.kind.isDestructive {
                transaction.emit(Envelope(payload: RetentionApplied(objectID: action.objectID, action: action.kind.rawValue, resource: resource,
                                                                    outcome: state == "done" ? (outcome ?? "done") : "\(state): \(outcome ?? error ?? "")")))
            }
        }
    }

    /// A killed run may have deleted a replica's row and not yet its file: the path it recorded is
    /// removed now, unless a replica row points at it again.
    private func finishRecordedRemoval(_ action: ClaimedAction) async throws {
        guard action.phase == "removing", let path = action.targetPath else { return }
        var stillRecorded = false
        for try await _ in try await catalog.client.query("SELECT 1 FROM replicas WHERE physical_path = \(path)", logger: logger) { stillRecorded = true }
        if !stillRecorded { try await removeFile(path) }
    }

    // MARK: - Kinds

    private func replicate(_ object: CatalogObject, _ action: ClaimedAction, at now: Date) async throws -> Outcome {
        guard let resourceID = action.resourceID, let target = try await ResourceRecord.load(resourceID, client: catalog.client, logger: logger) else {
            throw ActionFailure("the action names no target resource")
        }
        return .done(try await ensureReplica(of: object, on: target, level: object.policy.verification.value ?? RetentionPolicy.builtInVerification, at: now))
    }

    private func restage(_ object: CatalogObject, _ action: ClaimedAction, at now: Date) async throws -> Outcome {
        guard let resourceID = action.resourceID, let target = try await ResourceRecord.load(resourceID, client: catalog.client, logger: logger) else {
            throw ActionFailure("the action names no target resource")
        }
        let text = try await ensureReplica(of: object, on: target, level: object.policy.verification.value ?? RetentionPolicy.builtInVerification, at: now)
        // A restaged object was just asked for: its time without access starts again.
        try await catalog.client.query("UPDATE objects SET last_accessed_at = \(now) WHERE id = \(object.id)", logger: logger)
        return .done(text)
    }

    private func cleanBuffer(_ object: CatalogObject, _ action: ClaimedAction, at now: Date) async throws -> Outcome {
        guard let landingID = action.resourceID, let landing = object.replica(on: landingID) else {
            return .done("the landing copy was already removed")
        }
        guard object.policy.cleanBufferAfter.value != nil, let vaultName = object.policy.replicateTo.value else {
            return .cancelled("the policy no longer cleans the buffer")
        }
        guard let vault = object.replicas.first(where: { $0.resource == vaultName && object.isIntact($0) && $0.verified }) else {
            throw ActionFailure("no verified replica on \(vaultName); the landing copy stays")
        }
        let level = object.policy.verification.value ?? RetentionPolicy.builtInVerification
        if let problem = try await check(vault, of: object, level: level) {
            // The copy that would remain is not the catalog's: keep the buffer, mark the copy and
            // rewrite it from the landing copy now.
            try await markReplica(vault, status: problem.missing ? "missing" : "stale")
            var repair = "not repaired: the landing copy is not intact"
            if object.isIntact(landing), !landing.rawPath, let target = try await ResourceRecord.load(vault.resourceID, client: catalog.client, logger: logger) {
                let refreshed = try await CatalogObject.load(object.id, client: catalog.client, logger: logger) ?? object
                repair = try await ensureReplica(of: refreshed, on: target, level: level, at: now)
            }
            throw ActionFailure("the replica on \(vaultName) does not match the catalog (\(problem.text)); the landing copy stays; repair: \(repair)")
        }
        try await removeReplica(landing, of: object, action: action, keepingAnother: true)
        return .done("landing copy \(landing.path) removed; verified replica on \(vaultName) (\(level.rawValue))")
    }

    private func tier(_ object: CatalogObject, _ action: ClaimedAction, at now: Date) async throws -> Outcome {
        guard let coldID = action.resourceID, let cold = try await ResourceRecord.load(coldID, client: catalog.client, logger: logger) else {
            throw ActionFailure("the action names no cold resource")
        }
        if try await isHeld(object.id) { return .cancelled("the object is on hold") }
        guard let period = object.policy.tierToColdAfterNoAccess.value else { return .cancelled("the policy no longer tiers") }
        var stillIdle = false
        for try await idle in try await catalog.client.query("""
            SELECT coalesce(last_accessed_at, created_at) + \(period.description)::interval <= \(now) FROM objects WHERE id = \(object.id)
            """, logger: logger).decode(Bool.self) { stillIdle = idle }
        guard stillIdle else { return .cancelled("the object was accessed after the tier move was scheduled") }
        let level = object.policy.verification.value ?? RetentionPolicy.builtInVerification
        let copy = try await ensureReplica(of: object, on: cold, level: level, at: now)
        guard let refreshed = try await CatalogObject.load(object.id, client: catalog.client, logger: logger) else { throw ActionFailure("the object vanished") }
        var removed: [String] = []
        for hot in refreshed.replicas where hot.role == "vault" || hot.role == "derived" {
            try await removeReplica(hot, of: refreshed, action: action, keepingAnother: true)
            removed.append(hot.resource)
        }
        return .done("\(copy); hot replicas removed: \(removed.isEmpty ? "none" : removed.joined(separator: ", "))")
    }

    private func delete(_ object: CatalogObject, _ action: ClaimedAction, at now: Date) async throws -> Outcome {
        var bindings = PostgresBindings()
        bindings.append(now)
        bindings.append(object.id)
        let query = PostgresQuery(unsafeSQL: """
            WITH \(RetentionPlanner.objectsWithPolicy)
            SELECT held, expires_at IS NOT NULL AND expires_at <= $1::timestamptz FROM o WHERE id = $2
            """, binds: bindings)
        var due: (held: Bool, expired: Bool)?
        for try await row in try await catalog.client.query(query, logger: logger).decode((Bool, Bool).self) { due = row }
        guard let due else { return .cancelled("the object is no longer in the catalog's live objects") }
        if due.held { return .cancelled("the object is on hold") }
        guard due.expired else { return .cancelled("no longer due: the expiry was extended or the policy changed") }
        for replica in object.replicas {
            try await removeReplica(replica, of: object, action: action, keepingAnother: false)
        }
        try await catalog.client.query("""
            UPDATE objects SET state = 'expired', deleted_at = \(now), deleted_by = \(action.requestedBy),
                   deletion_reason = \(action.reason), updated_at = now()
            WHERE id = \(object.id)
            """, logger: logger)
        return .done("deleted: \(object.replicas.count) replica(s) removed; the catalog row is kept as expired")
    }

    // MARK: - Replicas

    /// Makes sure `target` holds a verified copy of the object, copying from the best intact replica.
    private func ensureReplica(of object: CatalogObject, on target: ResourceRecord, level: VerificationLevel, at now: Date) async throws -> String {
        let existing = object.replica(on: target.id)
        if let existing, object.isIntact(existing), existing.verified { return "already on \(target.name)" }
        guard let expected = object.checksum else { throw ActionFailure("the object has no checksum to verify a copy against") }
        guard let source = object.bestSource(excluding: target.id) else {
            throw ActionFailure("no intact replica to copy from (\(object.replicas.map { "\($0.resource): \($0.status)" }.joined(separator: ", ")))")
        }
        let path: String
        if let existing, !existing.rawPath {
            path = existing.path
        } else {
            let components = object.layout.split(separator: "/", omittingEmptySubsequences: false)
            guard !components.contains(where: { $0.isEmpty || $0 == "." || $0 == ".." }) else {
                throw ActionFailure("the object's place \(object.layout) cannot be a path under \(target.name)")
            }
            path = (target.root.hasSuffix("/") ? target.root : target.root + "/") + object.layout
        }
        let digest: FileDigest
        do {
            digest = try await slots.run { () throws(ReplicaFileError) in try ReplicaFiles.copy(from: source.path, to: path) }
        } catch {
            if error.path == source.path, error.missing { try await markReplica(source, status: "missing") }
            throw ActionFailure("copy from \(source.resource) to \(target.name) failed: \(error)")
        }
        guard digest.checksum == expected, digest.size == object.size else {
            try await markReplica(source, status: "stale")
            if existing == nil { try? await removeFile(path) }
            throw ActionFailure("the replica on \(source.resource) does not match the catalog (read \(digest.size) bytes, \(digest.checksum)); marked stale")
        }
        let copied = ReplicaRecord(id: existing?.id ?? UUID(), resourceID: target.id, resource: target.name, role: target.role, root: target.root,
                                   path: path, status: "good", checksum: expected, verified: false, rawPath: false)
        if let problem = try await check(copied, of: object, level: level) {
            throw ActionFailure("the new copy on \(target.name) failed verification (\(level.rawValue)): \(problem.text)")
        }
        try await catalog.client.query("""
            INSERT INTO replicas (object_id, resource_id, physical_path, status, size_bytes, checksum, last_verified_at)
            VALUES (\(object.id), \(target.id), \(path), 'good', \(digest.size), \(expected), \(now))
            ON CONFLICT (object_id, resource_id) DO UPDATE
            SET physical_path = EXCLUDED.physical_path, physical_path_bytes = NULL, status = 'good', size_bytes = EXCLUDED.size_bytes,
                checksum = EXCLUDED.checksum, last_verified_at = EXCLUDED.last_verified_at, mtime_ns = NULL
            """, logger: logger)
        return "copied from \(source.resource) to \(target.name) (\(digest.size) bytes, verified by \(level.rawValue))"
    }

    struct VerificationProblem { let text: String; let missing: Bool }

    /// Whether `replica` still holds the object's bytes, at the given level.
    private func check(_ replica: ReplicaRecord, of object: CatalogObject, level: VerificationLevel) async throws -> VerificationProblem? {
        switch level {
        case .catalog:
            return nil
        case .size:
            guard let size = ReplicaFiles.size(of: replica.path) else { return VerificationProblem(text: "\(replica.path) is missing", missing: true) }
            return size == object.size ? nil : VerificationProblem(text: "\(size) bytes on disk, \(object.size) in the catalog", missing: false)
        case .checksum:
            do {
                let digest = try await slots.run { () throws(ReplicaFileError) in try ReplicaFiles.digest(of: replica.path) }
                return digest.checksum == object.checksum ? nil
                    : VerificationProblem(text: "checksum \(digest.checksum), the catalog has \(object.checksum ?? "none")", missing: false)
            } catch {
                return VerificationProblem(text: error.description, missing: error.missing)
            }
        }
    }

    /// Deletes the replica's row (refusing, when asked, to remove the last intact copy) and records
    /// the path in the action in the same transaction, then removes the file.
    private func removeReplica(_ replica: ReplicaRecord, of object: CatalogObject, action: ClaimedAction, keepingAnother: Bool) async throws {
        guard !replica.rawPath else { throw ActionFailure("\(replica.resource) replica has a path that is not UTF-8; remove it by hand") }
        try await catalog.transaction { transaction in
            try await transaction.query("SELECT 1 FROM objects WHERE id = \(object.id) FOR UPDATE")
            if keepingAnother {
                var others = 0
                for try await count in try await transaction.query("""
                    SELECT count(*)::int FROM replicas
                    WHERE object_id = \(object.id) AND id <> \(replica.id) AND status = 'good' AND checksum = \(object.checksum)
                    """).decode(Int.self) { others = count }
                guard others > 0 else { throw ActionFailure("refused to remove the \(replica.resource) replica: it is the last intact copy") }
            }
            try await transaction.query("DELETE FROM replicas WHERE id = \(replica.id)")
            try await transaction.query("""
                UPDATE retention_actions SET phase = 'removing', target_path = \(replica.path),
                       lease_until = clock_timestamp() + make_interval(secs => \(leaseSeconds))
                WHERE id = \(action.id)
                """)
        }
        try await removeFile(replica.path)
    }

    private func removeFile(_ path: String) async throws {
        do {
            try await slots.run { () throws(ReplicaFileError) in try ReplicaFiles.remove(path) }
        } catch {
            throw ActionFailure("\(error)")
        }
    }

    private func markReplica(_ replica: ReplicaRecord, status: String) async throws {
        try await catalog.client.query("UPDATE replicas SET status = \(status) WHERE id = \(replica.id)", logger: logger)
    }

    private func isHeld(_ objectID: UUID) async throws -> Bool {
        for try await held in try await catalog.client.query("""
            SELECT EXISTS (SELECT 1 FROM retention_holds h JOIN objects o ON o.id = \(objectID)
                           JOIN assays a ON a.id = o.assay_id
                           WHERE h.released_at IS NULL AND (h.object_id = o.id OR h.object_id = o.parent_id OR h.study_id = a.study_id))
            """, logger: logger).decode(Bool.self) { return held }
        return false
    }

    // MARK: - Notices

    private func send(_ notice: PlannedNotice, at now: Date) async throws {
        var recipients: [String] = []
        for try await email in try await catalog.client.query("""
            SELECT email FROM contacts WHERE username = \(notice.owner)
            UNION
            SELECT c.email FROM investigation_members m JOIN contacts c ON c.username = m.username
            WHERE m.investigation_id = \(notice.investigationID) AND m.role = 'owner'
            ORDER BY 1
            """, logger: logger).decode(String.self) { recipients.append(email) }
        let mail = NoticeMail(notice: notice, recipients: recipients, date: now)
        let channel = try await delivery.deliver(mail)
        if recipients.isEmpty {
            logger.warning("retention notice has no recipient address; set one with fairway contact set", metadata: ["owner": "\(notice.owner)"])
        }
        try await catalog.transaction { transaction in
            try await transaction.query("""
                INSERT INTO retention_notices (investigation_id, owner, expires_on, days_before, object_count, total_bytes, recipients, delivery, sent_at)
                VALUES (\(notice.investigationID), \(notice.owner), \(notice.expiresOn)::date, \(notice.daysBefore), \(notice.objectCount),
                        \(notice.totalBytes), \(recipients), \(channel), \(now))
                ON CONFLICT DO NOTHING
                """)
            transaction.emit(Envelope(payload: RetentionNotice(
                investigation: notice.investigation, action: "delete", objectIDs: notice.objectIDs, dueAt: notice.expiresAt,
                recipient: recipients.isEmpty ? nil : recipients.joined(separator: ", "))))
        }
    }
}
