public import FairwayCatalog
public import Foundation
public import Logging
public import PostgresNIO

/// What a policy asks for on one object at a given time.
public enum ActionKind: String, Sendable, Codable, CaseIterable {
    /// Copy to the policy's vault and verify (also repairs a stale vault copy).
    case replicate
    /// Remove the landing copy once a verified replica exists.
    case cleanBuffer = "clean-buffer"
    /// Copy to cold, verify, remove the hot replicas.
    case tier
    /// Copy back from cold to hot storage on request.
    case restage
    /// Remove every replica and mark the object expired.
    case delete
    /// Rewrite a stale or missing replica from a good one (fixity).
    case repair

    /// Removes a replica: scheduled first and run no earlier than the grace period later.
    public var isDestructive: Bool { self == .cleanBuffer || self == .tier || self == .delete }
}

/// One action the planner would schedule.
public struct PlannedAction: Sendable, Equatable {
    public let objectID: UUID
    public let kind: ActionKind
    public let logicalPath: String
    public let investigation: String
    public let resource: String?
    /// The earliest time it runs: the policy's date, and for destructive actions no earlier than
    /// the grace period after scheduling.
    public let notBefore: Date
    public let reason: String
}

/// One notice due: the objects of one owner in one investigation that expire on the same day.
public struct PlannedNotice: Sendable, Equatable {
    public let investigationID: UUID
    public let investigation: String
    public let owner: String
    public let expiresOn: String
    public let expiresAt: Date
    public let daysBefore: Int
    public let objectCount: Int
    public let totalBytes: Int64
    /// The first objects (at most `PlannedNotice.listedObjects`), for the message.
    public let objectIDs: [UUID]
    public let logicalPaths: [String]

    public static let listedObjects = 1000
}

/// An action already in `retention_actions` that has not finished.
public struct OpenAction: Sendable, Equatable {
    public let id: Int64
    public let objectID: UUID
    public let kind: ActionKind
    public let state: String
    public let logicalPath: String
    public let resource: String?
    public let notBefore: Date
    public let reason: String
    public let requestedBy: String
}

/// Everything the policies would do at one time: a pure read of the catalog, in a few set-based
/// statements (one scan of the objects with their effective policy per statement), so planning
/// a million objects is a matter of seconds.
public struct RetentionPlanner: Sendable {
    public let client: PostgresClient
    public let logger: Logger

    public init(client: PostgresClient, logger: Logger) {
        self.client = client; self.logger = logger
    }

    /// Each object that is not expired, with its policy, its grace period, its expiry date and
    /// whether a hold covers it. `$1` is the planning time. The policy's periods are worked out
    /// once per investigation (`pol`), so each object costs a few timestamp additions, and holds
    /// are looked up in hashed sets, whatever their number.
    static let objectsWithPolicy = objectsWithPolicy(only: nil)

    /// The same, for the objects in the `uuid[]` parameter `only` names, when given (a run for new
    /// objects reads those, not the whole catalog).
    static func objectsWithPolicy(only ids: String?) -> String {
        """
        pol AS MATERIALIZED (
            SELECT e.investigation_id, e.investigation, e.policy,
                   e.policy->>'replicateTo' AS replicate_to,
                   coalesce(e.policy->>'tierTo', (SELECT min(name) FROM resources WHERE role = 'cold')) AS tier_to,
                   retention_period(e.policy, 'cleanBufferAfter') AS clean_after,
                   retention_period(e.policy, 'tierToColdAfterNoAccess') AS tier_after,
                   coalesce(retention_period(e.policy, 'gracePeriod'), interval '7 days') AS grace,
                   retention_period(e.policy, 'expireAfter') AS expire_after,
                   e.investigation_created_at + retention_period(e.policy, 'groupLifetime') AS group_end,
                   -- An extension, once granted, moves both kinds of expiry.
                   CASE WHEN e.extended_at IS NULL THEN interval '0'
                        ELSE coalesce(retention_period(e.policy, 'extension'), interval '0') END AS extension
            FROM retention_effective_policies e
        ),
        held_objects AS MATERIALIZED (SELECT object_id FROM retention_holds WHERE released_at IS NULL AND object_id IS NOT NULL),
        held_studies AS MATERIALIZED (SELECT study_id FROM retention_holds WHERE released_at IS NULL AND study_id IS NOT NULL),
        o AS (
            SELECT o.id, o.logical_path, o.size_bytes, o.checksum, o.owner, o.created_at,
                   coalesce(o.last_accessed_at, o.created_at) AS last_access,
                   coalesce(p.created_at, o.created_at) AS born,
                   pol.investigation_id, pol.investigation, pol.policy, pol.replicate_to, pol.tier_to,
                   pol.clean_after, pol.tier_after, pol.grace,
                   -- Expiry: the object's age or its group's lifetime, whichever ends first.
                   -- Derived data expires with the data it came from.
                   least(coalesce(p.created_at, o.created_at) + pol.expire_after, pol.group_end) + pol.extension AS expires_at,
                   coalesce(o.id IN (SELECT object_id FROM held_objects) OR o.parent_id IN (SELECT object_id FROM held_objects)
                            OR s.id IN (SELECT study_id FROM held_studies), false) AS held
            FROM objects o
            LEFT JOIN objects p ON p.id = o.parent_id
            JOIN assays a ON a.id = o.assay_id
            JOIN studies s ON s.id = a.study_id
            JOIN pol ON pol.investigation_id = s.investigation_id
            WHERE o.state <> 'expired'\(ids.map { " AND o.id = ANY(\($0)::uuid[])" } ?? "")
        )
        """
    }

    /// New actions at `$1`, one row per object and kind, without those already open and those
    /// that failed in the hour before (so a broken disk is not hammered every run).
    static let proposals = proposals(only: nil)

    /// The same, for the objects in the `uuid[]` parameter `only` names, when given.
    static func proposals(only ids: String?) -> String {
        let restricted = ids.map { " AND object_id = ANY(\($0)::uuid[])" } ?? ""
        return """
        WITH \(objectsWithPolicy(only: ids)),
        good AS (
            SELECT r.object_id, r.resource_id, x.role, r.checksum, r.last_verified_at
            FROM replicas r JOIN resources x ON x.id = r.resource_id
            WHERE r.status = 'good'\(restricted.replacingOccurrences(of: "object_id", with: "r.object_id"))
        ),
        proposals AS (
            SELECT o.id AS object_id, 'replicate' AS kind, v.id AS resource_id, $1::timestamptz AS not_before,
                   'landing copy has no verified replica on ' || v.name AS reason
            FROM o JOIN resources v ON v.name = o.replicate_to AND v.role = 'vault'
            WHERE EXISTS (SELECT 1 FROM good g WHERE g.object_id = o.id AND g.role = 'landing')
              AND NOT EXISTS (SELECT 1 FROM good g WHERE g.object_id = o.id AND g.role IN ('vault', 'cold')
                              AND g.checksum IS NOT DISTINCT FROM o.checksum)
            UNION ALL
            SELECT o.id, 'clean-buffer', r.resource_id,
                   greatest(o.born + o.clean_after, $1::timestamptz + o.grace),
                   'landing copy older than ' || (o.policy->>'cleanBufferAfter') || ' with a verified replica on ' || v.name
            FROM o
            JOIN replicas r ON r.object_id = o.id
            JOIN resources l ON l.id = r.resource_id AND l.role = 'landing'
            JOIN resources v ON v.name = o.replicate_to AND v.role = 'vault'
            WHERE o.born + o.clean_after <= $1::timestamptz + o.grace
              AND EXISTS (SELECT 1 FROM good g WHERE g.object_id = o.id AND g.resource_id = v.id
                          AND g.checksum = o.checksum AND g.last_verified_at IS NOT NULL)
            UNION ALL
            SELECT o.id, 'tier', c.id,
                   greatest(o.last_access + o.tier_after, $1::timestamptz + o.grace),
                   'not accessed for ' || (o.policy->>'tierToColdAfterNoAccess')
            FROM o JOIN resources c ON c.role = 'cold' AND c.name = o.tier_to
            WHERE NOT o.held AND o.last_access + o.tier_after <= $1::timestamptz + o.grace
              AND EXISTS (SELECT 1 FROM good g WHERE g.object_id = o.id AND g.role IN ('vault', 'derived'))
            UNION ALL
            SELECT o.id, 'delete', NULL::uuid, greatest(o.expires_at, $1::timestamptz + o.grace),
                   'expires on ' || to_char(o.expires_at AT TIME ZONE 'UTC', 'YYYY-MM-DD') || ' under the retention policy'
            FROM o
            WHERE NOT o.held AND o.expires_at <= $1::timestamptz + o.grace
        ),
        -- Read once before anything is inserted: when scheduling, the table grows during the
        -- statement, and a plan probing it row by row would slow down with every insert.
        open_actions AS MATERIALIZED (
            SELECT object_id, kind FROM retention_actions
            WHERE (state IN ('scheduled', 'running') OR (state = 'failed' AND finished_at > $1::timestamptz - interval '1 hour'))\(restricted)
        )
        SELECT pr.object_id, pr.kind, pr.resource_id, pr.not_before, pr.reason
        FROM proposals pr
        WHERE NOT EXISTS (SELECT 1 FROM open_actions a WHERE a.object_id = pr.object_id AND a.kind = pr.kind)
        """
    }

    /// Notices due at `$1`: per object the nearest step already reached, grouped by investigation,
    /// owner and day of expiry, without the steps already sent (a later step also covers an
    /// earlier one that was missed while the service was down).
    static let notices = """
        WITH \(objectsWithPolicy),
        reached AS (
            SELECT o.id, o.investigation_id, o.investigation, o.owner, o.size_bytes, o.logical_path, o.expires_at,
                   (o.expires_at AT TIME ZONE 'UTC')::date AS expires_on,
                   min(round(extract(epoch FROM step::interval) / 86400)::int) AS days_before
            FROM o CROSS JOIN LATERAL jsonb_array_elements_text(
                CASE WHEN jsonb_typeof(o.policy->'noticeBefore') = 'array' THEN o.policy->'noticeBefore' ELSE '[]'::jsonb END) AS step
            WHERE NOT o.held AND o.expires_at > $1::timestamptz AND o.expires_at - step::interval <= $1::timestamptz
            GROUP BY o.id, o.investigation_id, o.investigation, o.owner, o.size_bytes, o.logical_path, o.expires_at
        )
        SELECT r.investigation_id, r.investigation, r.owner, r.expires_on::text, min(r.expires_at), r.days_before,
               count(*)::int, sum(r.size_bytes)::bigint,
               (array_agg(r.id ORDER BY r.logical_path))[1:\(PlannedNotice.listedObjects)],
               (array_agg(r.logical_path ORDER BY r.logical_path))[1:\(PlannedNotice.listedObjects)]
        FROM reached r
        WHERE NOT EXISTS (SELECT 1 FROM retention_notices n WHERE n.investigation_id = r.investigation_id AND n.owner = r.owner
                          AND n.expires_on = r.expires_on AND n.days_before <= r.days_before)
        GROUP BY r.investigation_id, r.investigation, r.owner, r.expires_on, r.days_before
        ORDER BY r.investigation, r.owner, r.expires_on
        """

    /// The actions the policies would schedule at `now`, with the object and resource named.
    public func proposals(at now: Date) async throws -> [PlannedAction] {
        var bindings = PostgresBindings()
        bindings.append(now)
        let query = PostgresQuery(unsafeSQL: """
            WITH planned AS (\(Self.proposals))
            SELECT p.object_id, p.kind, o.logical_path, i.name, x.name, p.not_before, p.reason
            FROM planned p
            JOIN objects o ON o.id = p.object_id
            JOIN assays a ON a.id = o.assay_id JOIN studies s ON s.id = a.study_id JOIN investigations i ON i.id = s.investigation_id
            LEFT JOIN resources x ON x.id = p.resource_id
            ORDER BY p.not_before, i.name, o.logical_path, p.kind
            """, binds: bindings)
        var planned: [PlannedAction] = []
        for try await (id, kind, path, investigation, resource, notBefore, reason) in try await client.query(query, logger: logger)
            .decode((UUID, String, String, String, String?, Date, String).self) {
            guard let kind = ActionKind(rawValue: kind) else { continue }
            planned.append(PlannedAction(objectID: id, kind: kind, logicalPath: path, investigation: investigation,
                                         resource: resource, notBefore: notBefore, reason: reason))
        }
        return planned
    }

    /// How many actions of each kind the policies would schedule at `now`, without listing them.
    public func proposalCounts(at now: Date) async throws -> [ActionKind: Int] {
        var bindings = PostgresBindings()
        bindings.append(now)
        let query = PostgresQuery(unsafeSQL: "WITH planned AS (\(Self.proposals)) SELECT kind, count(*)::int FROM planned GROUP BY kind", binds: bindings)
        var counts: [ActionKind: Int] = [:]
        for try await (kind, count) in try await client.query(query, logger: logger).decode((String, Int).self) {
            if let kind = ActionKind(rawValue: kind) { counts[kind] = count }
        }
        return counts
    }

    /// Inserts the proposals at `now` as scheduled actions, for every object or only for `objects`;
    /// returns how many of each kind.
    public func schedule(at now: Date, requestedBy: String, objects: [UUID]? = nil,
                         on transaction: CatalogTransaction) async throws -> [ActionKind: Int] {
        var bindings = PostgresBindings()
        bindings.append(now)
        bindings.append(requestedBy)
        if let objects { bindings.append(objects) }
        let query = PostgresQuery(unsafeSQL: """
            WITH planned AS (\(Self.proposals(only: objects == nil ? nil : "$3"))),
            inserted AS (
                INSERT INTO retention_actions (object_id, kind, state, resource_id, reason, requested_by, scheduled_at, not_before)
                SELECT object_id, kind, 'scheduled', resource_id, reason, $2, $1::timestamptz, not_before FROM planned
                ON CONFLICT (object_id, kind) WHERE state IN ('scheduled', 'running') DO NOTHING
                RETURNING kind
            )
            SELECT kind, count(*)::int FROM inserted GROUP BY kind
            """, binds: bindings)
        var counts: [ActionKind: Int] = [:]
        for try await (kind, count) in try await transaction.query(query).decode((String, Int).self) {
            if let kind = ActionKind(rawValue: kind) { counts[kind] = count }
        }
        return counts
    }

    /// Notices due at `now` that were not sent yet.
    public func dueNotices(at now: Date) async throws -> [PlannedNotice] {
        var bindings = PostgresBindings()
        bindings.append(now)
        var notices: [PlannedNotice] = []
        let rows = try await client.query(PostgresQuery(unsafeSQL: Self.notices, binds: bindings), logger: logger)
        for try await (investigationID, investigation, owner, expiresOn, expiresAt, days, count, bytes, ids, paths) in rows
            .decode((UUID, String, String, String, Date, Int, Int, Int64, [UUID], [String]).self) {
            notices.append(PlannedNotice(investigationID: investigationID, investigation: investigation, owner: owner,
                                         expiresOn: expiresOn, expiresAt: expiresAt, daysBefore: days, objectCount: count,
                                         totalBytes: bytes, objectIDs: ids, logicalPaths: paths))
        }
        return notices
    }

    /// Actions scheduled or running, in the order they run.
    public func openActions() async throws -> [OpenAction] {
        let rows = try await client.query("""
            SELECT a.id, a.object_id, a.kind, a.state, o.logical_path, x.name, a.not_before, a.reason, a.requested_by
            FROM retention_actions a JOIN objects o ON o.id = a.object_id LEFT JOIN resources x ON x.id = a.resource_id
            WHERE a.state IN ('scheduled', 'running')
            ORDER BY a.not_before, a.id
            """, logger: logger)
        var open: [OpenAction] = []
        for try await (id, objectID, kind, state, path, resource, notBefore, reason, requestedBy) in rows
            .decode((Int64, UUID, String, String, String, String?, Date, String, String).self) {
            guard let kind = ActionKind(rawValue: kind) else { continue }
            open.append(OpenAction(id: id, objectID: objectID, kind: kind, state: state, logicalPath: path, resource: resource,
                                   notBefore: notBefore, reason: reason, requestedBy: requestedBy))
        }
        return open
    }
}
