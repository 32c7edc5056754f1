import ArgumentParser
import FairwayAMQP
import FairwayCatalog
import FairwayRetention
import FairwayServiceKit
import Foundation
import Logging
import PostgresNIO

/// `fairway retention …`: policies, the plan at any date, applying it, extensions, holds, restage.
struct RetentionCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "retention",
        abstract: "Lifecycle policies: set and show them, plan and apply them at any date, extend, hold, restage, cancel.",
        subcommands: [Policy.self, Plan.self, Apply.self, Log.self, Extend.self, Hold.self, Release.self, Restage.self, Cancel.self]
    )

    /// Who the catalog records for an operator's change.
    static var operatorName: String { "cli:" + (ProcessInfo.processInfo.environment["USER"] ?? "operator") }

    struct Policy: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Set or show retention policies (per investigation, over the facility default).",
            subcommands: [Set.self, Show.self]
        )

        struct Set: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Set the policy of an investigation (or the facility default) from a YAML file.",
                discussion: "Keys:\n" + RetentionPolicy.keys.map { "  \($0.name): \($0.meaning)" }.joined(separator: "\n") + """


                    Periods are whole numbers of h, d, w or y (60d, 2y); `never` switches a facility \
                    default off for one investigation. The file replaces the previous policy of the same scope.
                    """
            )
            @Option(help: "Investigation the policy is for.") var investigation: String?
            @Flag(help: "Set the facility default, which applies where an investigation sets nothing.") var facility = false
            @Option(help: "YAML policy file.") var file: String
            @OptionGroup var catalog: CatalogOptions

            func validate() throws {
                guard (investigation == nil) != !facility else { throw ValidationError("give --investigation or --facility") }
            }

            func run() async throws {
                let bytes: [UInt8]
                do { bytes = Array(try Data(contentsOf: URL(fileURLWithPath: file))) } catch {
                    throw CommandFailure("cannot read \(file): \(error.localizedDescription)")
                }
                let policy: RetentionPolicy
                do { policy = try RetentionPolicy.parse(yaml: bytes) } catch { throw CommandFailure("\(file): \(error)") }
                let source = String(decoding: bytes, as: UTF8.self)
                let investigation = investigation
                try await catalog.withCatalog { client, logger in
                    var investigationID: UUID?
                    if let investigation {
                        for try await id in try await client.query("SELECT id FROM investigations WHERE name = \(investigation)", logger: logger).decode(UUID.self) {
                            investigationID = id
                        }
                        guard investigationID != nil else { throw CommandFailure("no investigation named \(investigation)") }
                    }
                    // The rules between keys hold for what will apply: this policy over the facility's.
                    var facility = RetentionPolicy()
                    if investigationID != nil {
                        for try await json in try await client.query("SELECT policy::text FROM retention_policies WHERE investigation_id IS NULL", logger: logger).decode(String.self) {
                            facility = (try? RetentionPolicy.parse(json: Data(json.utf8))) ?? RetentionPolicy()
                        }
                    }
                    let effective = policy.over(facility)
                    var problems = effective.consistencyProblems().map(\.description)
                    for (key, name, role) in [("replicateTo", policy.replicateTo.value, "vault"), ("tierTo", policy.tierTo.value, "cold")] {
                        guard let name else { continue }
                        var found: String?
                        for try await actual in try await client.query("SELECT role FROM resources WHERE name = \(name)", logger: logger).decode(String.self) { found = actual }
                        if found == nil { problems.append("\(key): no resource named \(name) (see fairway zone list)") }
                        else if found != role { problems.append("\(key): \(name) is a \(found!) resource, not a \(role) one") }
                    }
                    guard problems.isEmpty else { throw CommandFailure("policy refused:\n  " + problems.joined(separator: "\n  ")) }
                    try await client.query("""
                        WITH saved AS (
                            INSERT INTO retention_policies (investigation_id, policy, source, updated_by)
                            VALUES (\(investigationID), \(policy.jsonText)::jsonb, \(source), \(RetentionCommand.operatorName))
                            ON CONFLICT (investigation_id) DO UPDATE
                            SET policy = EXCLUDED.policy, source = EXCLUDED.source, updated_by = EXCLUDED.updated_by, updated_at = now()
                            RETURNING policy
                        )
                        INSERT INTO audit_log (actor, action, target_kind, target_id, details)
                        SELECT \(RetentionCommand.operatorName), 'retention.policy.set', \(investigationID == nil ? "facility" : "investigation"),
                               \(investigation ?? "facility"), jsonb_build_object('policy', policy) FROM saved
                        """, logger: logger)
                    // Ingest refuses acquisitions over quota from now on, not from the next retention run.
                    try await Quotas.sync(client: client, logger: logger)
                }
                print("retention policy of \(investigation.map { "investigation \($0)" } ?? "the facility") set:")
                print(policy.yaml)
            }
        }

        struct Show: AsyncParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Show the facility default, and an investigation's own and effective policy.")
            @Option(help: "Investigation to show (default: every policy set).") var investigation: String?
            @Flag(help: "Print JSON.") var json = false
            @OptionGroup var catalog: CatalogOptions

            func run() async throws {
                let investigation = investigation
                let rows = try await catalog.withCatalog { client, logger in
                    var rows: [(scope: String, own: String?, effective: String, extended: Date?)] = []
                    let query: PostgresQuery = if let investigation {
                        """
                        SELECT e.investigation, p.policy::text, e.policy::text, e.extended_at
                        FROM retention_effective_policies e LEFT JOIN retention_policies p ON p.investigation_id = e.investigation_id
                        WHERE e.investigation = \(investigation)
                        """
                    } else {
                        """
                        SELECT 'facility', policy::text, policy::text, NULL::timestamptz FROM retention_policies WHERE investigation_id IS NULL
                        UNION ALL
                        SELECT e.investigation, p.policy::text, e.policy::text, e.extended_at
                        FROM retention_policies p JOIN retention_effective_policies e ON e.investigation_id = p.investigation_id
                        """
                    }
                    for try await row in try await client.query(query, logger: logger).decode((String, String?, String, Date?).self) {
                        rows.append((row.0, row.1, row.2, row.3))
                    }
                    return rows
                }
                if let investigation, rows.isEmpty { throw CommandFailure("no investigation named \(investigation)") }
                if json {
                    let objects: [[String: Any]] = rows.map { row in
                        var object: [String: Any] = ["scope": row.scope, "effective": (try? JSONSerialization.jsonObject(with: Data(row.effective.utf8))) ?? [:]]
                        object["own"] = row.own.flatMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) } ?? NSNull()
                        object["extendedAt"] = row.extended.map { ISO8601DateFormatter().string(from: $0) } ?? NSNull()
                        return object
                    }
                    let data = try JSONSerialization.data(withJSONObject: objects, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
                    print(String(decoding: data, as: UTF8.self))
                    return
                }
                if rows.isEmpty { print("no retention policy is set: nothing is replicated, cleaned, tiered or expired"); return }
                for row in rows {
                    let effective = (try? RetentionPolicy.parse(json: Data(row.effective.utf8))) ?? RetentionPolicy()
                    print(row.scope == "facility" ? "# facility default" : "# investigation \(row.scope) (its own keys over the facility default)")
                    print(effective.yaml.isEmpty ? "# (empty)" : effective.yaml)
                    if let extended = row.extended { print("# extension granted \(ISO8601DateFormatter().string(from: extended))") }
                    print("")
                }
            }
        }
    }

    /// `--at`: an ISO 8601 date or date-time; the default is now.
    struct When: ParsableArguments {
        @Option(help: "Time to plan or apply at, ISO 8601 (2031-06-01 or 2031-06-01T12:00:00Z); default now.") var at: String?

        func date() throws -> Date {
            guard let at else { return Date() }
            let full = ISO8601DateFormatter()
            if let date = full.date(from: at) { return date }
            let day = ISO8601DateFormatter()
            day.formatOptions = [.withFullDate]
            if let date = day.date(from: at) { return date }
            throw ValidationError("--at \(at) is not an ISO 8601 date (2031-06-01) or date-time (2031-06-01T12:00:00Z)")
        }
    }

    struct Plan: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List every action and notice the policies would run at a time (no side effects).",
            discussion: "STATUS is `runs` (due at that time), `waits` (scheduled, runs at WHEN) or `new` (would be scheduled then, runs at WHEN)."
        )
        @OptionGroup var when: When
        @Flag(help: "Print JSON.") var json = false
        @Flag(help: "Print only how many new actions of each kind would be scheduled (fast on large catalogs).") var summary = false
        @OptionGroup var catalog: CatalogOptions

        func run() async throws {
            let at = try when.date()
            if summary {
                let started = ContinuousClock.now
                let counts = try await catalog.withCatalog { client, logger in
                    try await RetentionPlanner(client: client, logger: logger).proposalCounts(at: at)
                }
                let seconds = (ContinuousClock.now - started).seconds
                let byKind = Dictionary(uniqueKeysWithValues: ActionKind.allCases.map { ($0.rawValue, counts[$0] ?? 0) })
                if json {
                    let data = try JSONSerialization.data(withJSONObject: ["at": ISO8601DateFormatter().string(from: at), "new": byKind, "seconds": seconds] as [String: Any],
                                                          options: [.sortedKeys])
                    print(String(decoding: data, as: UTF8.self))
                } else {
                    print(byKind.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ") + String(format: " (planned in %.2f s)", seconds))
                }
                return
            }
            let (open, planned, notices) = try await catalog.withCatalog { client, logger in
                let planner = RetentionPlanner(client: client, logger: logger)
                return (try await planner.openActions(), try await planner.proposals(at: at), try await planner.dueNotices(at: at))
            }
            let stamp = ISO8601DateFormatter()
            var rows: [[String]] = open.map { action in
                [stamp.string(from: action.notBefore), action.kind.rawValue, action.notBefore <= at ? "runs" : "waits", action.logicalPath,
                 action.resource ?? "", action.reason, "\(action.id)"]
            }
            rows += planned.map { action in
                [stamp.string(from: action.notBefore), action.kind.rawValue, "new", action.logicalPath, action.resource ?? "", action.reason, ""]
            }
            let noticeRows = notices.map { notice in
                [notice.investigation, notice.owner, notice.expiresOn, "\(notice.daysBefore)", "\(notice.objectCount)", "\(notice.totalBytes)"]
            }
            if json {
                let document: [String: Any] = [
                    "at": stamp.string(from: at),
                    "actions": rows.map { Dictionary(uniqueKeysWithValues: zip(["when", "action", "status", "object", "resource", "reason", "id"], $0)) },
                    "notices": noticeRows.map { Dictionary(uniqueKeysWithValues: zip(["investigation", "owner", "expiresOn", "daysBefore", "objects", "bytes"], $0)) },
                ]
                let data = try JSONSerialization.data(withJSONObject: document, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
                print(String(decoding: data, as: UTF8.self))
                return
            }
            print("retention plan at \(stamp.string(from: at)): \(rows.count) action(s), \(noticeRows.count) notice(s)")
            if !rows.isEmpty { printTable(["WHEN", "ACTION", "STATUS", "OBJECT", "RESOURCE", "REASON", "ID"], rows, json: false) }
            if !noticeRows.isEmpty {
                print("")
                printTable(["INVESTIGATION", "OWNER", "EXPIRES", "DAYS BEFORE", "OBJECTS", "BYTES"], noticeRows, json: false)
            }
        }
    }

    struct Apply: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Schedule what is due, send due notices and run the actions whose time has come (what the service does on its schedule).",
            discussion: FairwayConfiguration.helpText
        )
        @OptionGroup var when: When
        @Flag(help: "Print JSON.") var json = false
        @OptionGroup var catalog: CatalogOptions

        func run() async throws {
            let at = try when.date()
            let configuration = try catalog.configuration()
            let settings: RetentionSettings
            do { settings = try RetentionSettings(configuration) } catch { throw ValidationError(error.description) }
            let progress = LazyProgress("retention")
            let report = try await catalog.withCatalog { client, logger in
                // Messages go to the outbox as the retention service's: its relay sends them.
                let names = FairwayBrokerNames(namespace: configuration.brokerNamespace)
                let engine = settings.engine(catalog: Catalog(client: client, service: "retention", exchange: names.exchange, logger: logger),
                                             actor: RetentionCommand.operatorName)
                return try await engine.apply(at: at) { progress.update(done: $0, total: $1, bytes: $2, totalBytes: $3) }
            }
            progress.finish()
            let stamp = ISO8601DateFormatter()
            if json {
                let document: [String: Any] = [
                    "at": stamp.string(from: at),
                    "scheduled": Dictionary(uniqueKeysWithValues: report.scheduled.map { ($0.key.rawValue, $0.value) }) as [String: Int],
                    "notices": report.notices.map { ["investigation": $0.investigation, "owner": $0.owner, "expiresOn": $0.expiresOn,
                                                     "daysBefore": $0.daysBefore, "objects": $0.objectCount] as [String: Any] },
                    "noticeFailures": report.noticeFailures,
                    "quotaNotices": report.quotaNotices,
                    "ran": report.ran.map { ["id": $0.id, "object": $0.objectID.uuidString.lowercased(), "action": $0.kind.rawValue,
                                             "state": $0.state, "detail": $0.detail] as [String: Any] },
                ]
                let data = try JSONSerialization.data(withJSONObject: document, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
                print(String(decoding: data, as: UTF8.self))
            } else {
                let scheduled = report.scheduled.sorted { $0.key.rawValue < $1.key.rawValue }.map { "\($0.value) \($0.key.rawValue)" }
                print("retention at \(stamp.string(from: at)): scheduled \(scheduled.isEmpty ? "nothing" : scheduled.joined(separator: ", ")); "
                      + "\(report.notices.count) notice(s) sent; \(report.ran.count) action(s) run")
                for failure in report.noticeFailures { print("notice not sent: \(failure)") }
                for quota in report.quotaNotices { print("quota notice: \(quota)") }
                printTable(["ID", "ACTION", "OBJECT", "STATE", "DETAIL"],
                           report.ran.map { ["\($0.id)", $0.kind.rawValue, $0.objectID.uuidString.lowercased(), $0.state, $0.detail] }, json: false)
            }
            if report.ran.contains(where: { $0.state == "failed" }) || !report.noticeFailures.isEmpty { throw ExitCode(1) }
        }
    }

    struct Log: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "The audit trail of retention actions, newest first: who asked, why, when, and what happened.")
        @Option(help: "Only this object's actions.") var object: String?
        @Option(help: "Only this kind: \(ActionKind.allCases.map(\.rawValue).joined(separator: ", ")).") var kind: String?
        @Option(help: "Only actions in this state: scheduled, running, done, failed, cancelled.") var state: String?
        @Option(help: "At most this many.") var limit = 50
        @Flag(help: "Print JSON.") var json = false
        @OptionGroup var catalog: CatalogOptions

        func validate() throws {
            if let object, UUID(uuidString: object) == nil { throw ValidationError("--object \(object) is not an object id") }
            if let kind, ActionKind(rawValue: kind) == nil { throw ValidationError("--kind must be one of \(ActionKind.allCases.map(\.rawValue).joined(separator: ", "))") }
            if let state, !["scheduled", "running", "done", "failed", "cancelled"].contains(state) { throw ValidationError("--state must be scheduled, running, done, failed or cancelled") }
            guard (1 ... 100_000).contains(limit) else { throw ValidationError("--limit must be between 1 and 100000") }
        }

        func run() async throws {
            let objectID = object.flatMap(UUID.init(uuidString:)), kind = kind, state = state, limit = limit
            let rows = try await catalog.withCatalog { client, logger in
                var rows: [[String]] = []
                for try await (id, object, path, kind, state, resource, scheduled, notBefore, finished, by, reason, outcome) in try await client.query("""
                    SELECT a.id, a.object_id::text, o.logical_path, a.kind, a.state, coalesce(x.name, ''),
                           to_char(a.scheduled_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'),
                           to_char(a.not_before AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'),
                           coalesce(to_char(a.finished_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'), ''),
                           a.requested_by, a.reason, coalesce(a.error, a.outcome, '')
                    FROM retention_actions a JOIN objects o ON o.id = a.object_id LEFT JOIN resources x ON x.id = a.resource_id
                    WHERE (\(objectID)::uuid IS NULL OR a.object_id = \(objectID))
                      AND (\(kind)::text IS NULL OR a.kind = \(kind)) AND (\(state)::text IS NULL OR a.state = \(state))
                    ORDER BY a.id DESC LIMIT \(limit)
                    """, logger: logger).decode((Int64, String, String, String, String, String, String, String, String, String, String, String).self) {
                    rows.append(["\(id)", object, path, kind, state, resource, scheduled, notBefore, finished, by, reason, outcome])
                }
                return rows
            }
            if json {
                printTable(["id", "object", "path", "action", "state", "resource", "scheduledAt", "notBefore", "finishedAt", "requestedBy", "reason", "outcome"], rows, json: true)
            } else {
                printTable(["ID", "ACTION", "STATE", "PATH", "RESOURCE", "SCHEDULED", "FINISHED", "BY", "OUTCOME"],
                           rows.map { [$0[0], $0[3], $0[4], $0[2], $0[5], $0[6], $0[8], $0[9], $0[11]] }, json: false)
            }
        }
    }

    struct Extend: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Grant an investigation its one extension (the policy's `extension` period).")
        @Option(help: "Investigation.") var investigation: String
        @Option(help: "Why (kept in the catalog).") var reason: String
        @OptionGroup var catalog: CatalogOptions

        func run() async throws {
            let investigation = investigation, reason = reason
            let result = try await catalog.withCatalog { client, logger in
                var state: (exists: Bool, period: String?, granted: Date?) = (false, nil, nil)
                for try await (period, granted) in try await client.query("""
                    SELECT e.policy->>'extension', x.granted_at FROM retention_effective_policies e
                    LEFT JOIN retention_extensions x ON x.investigation_id = e.investigation_id WHERE e.investigation = \(investigation)
                    """, logger: logger).decode((String?, Date?).self) { state = (true, period, granted) }
                guard state.exists else { throw CommandFailure("no investigation named \(investigation)") }
                if let granted = state.granted { throw CommandFailure("investigation \(investigation) was already extended on \(ISO8601DateFormatter().string(from: granted)); the policy allows one extension") }
                guard let period = state.period, period != "never" else { throw CommandFailure("the retention policy of \(investigation) grants no extension (set `extension:` in its policy)") }
                var cancelled = 0
                for try await count in try await client.query("""
                    WITH granted AS (
                        INSERT INTO retention_extensions (investigation_id, granted_by, granted_at, reason)
                        SELECT id, \(RetentionCommand.operatorName), now(), \(reason) FROM investigations WHERE name = \(investigation)
                        RETURNING investigation_id
                    ),
                    audit AS (INSERT INTO audit_log (actor, action, target_kind, target_id, details)
                              SELECT \(RetentionCommand.operatorName), 'retention.extend', 'investigation', \(investigation),
                                     jsonb_build_object('extension', \(period)::text, 'reason', \(reason)::text) FROM granted),
                    cancelled AS (
                        UPDATE retention_actions a SET state = 'cancelled', outcome = 'extension granted', finished_at = now()
                        FROM objects o JOIN assays s ON s.id = o.assay_id JOIN studies st ON st.id = s.study_id, granted g
                        WHERE a.object_id = o.id AND st.investigation_id = g.investigation_id AND a.kind = 'delete' AND a.state = 'scheduled'
                        RETURNING a.id
                    )
                    SELECT count(*)::int FROM cancelled
                    """, logger: logger).decode(Int.self) { cancelled = count }
                return (period, cancelled)
            }
            print("investigation \(investigation) extended by \(result.0); \(result.1) scheduled deletion(s) cancelled")
        }
    }

    /// What a hold covers: one object, or a study (all its objects).
    struct HoldTarget: ParsableArguments {
        @Option(help: "Object id.") var object: String?
        @Option(help: "Investigation of the study.") var investigation: String?
        @Option(help: "Study.") var study: String?

        var objectID: UUID? { object.flatMap(UUID.init(uuidString:)) }

        func validate() throws {
            guard (object != nil) != (investigation != nil && study != nil) else { throw ValidationError("give --object, or --investigation and --study") }
            if let object, UUID(uuidString: object) == nil { throw ValidationError("--object \(object) is not an object id") }
        }
    }

    struct Hold: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Place an object or a study on hold: never tiered away, never deleted, until released.")
        @OptionGroup var target: HoldTarget
        @Option(help: "Why (kept in the catalog).") var reason: String
        @OptionGroup var catalog: CatalogOptions

        func run() async throws {
            let objectID = target.objectID, investigation = target.investigation, study = target.study, reason = reason
            let (targets, placed) = try await catalog.withCatalog { client, logger in
                var counts = (0, 0)
                for try await row in try await client.query("""
                    WITH target AS (
                        SELECT id AS object_id, NULL::uuid AS study_id FROM objects WHERE id = \(objectID)
                        UNION ALL
                        SELECT NULL, s.id FROM studies s JOIN investigations i ON i.id = s.investigation_id
                        WHERE i.name = \(investigation) AND s.name = \(study)
                    ),
                    placed AS (
                        INSERT INTO retention_holds (object_id, study_id, source, reason, created_by)
                        SELECT object_id, study_id, 'operator', \(reason), \(RetentionCommand.operatorName) FROM target
                        ON CONFLICT DO NOTHING RETURNING id
                    ),
                    cancelled AS (
                        UPDATE retention_actions a SET state = 'cancelled', outcome = 'on hold', finished_at = now()
                        FROM target t, objects o JOIN assays s ON s.id = o.assay_id
                        WHERE a.object_id = o.id AND (o.id = t.object_id OR o.parent_id = t.object_id OR s.study_id = t.study_id)
                          AND a.kind IN ('tier', 'delete') AND a.state = 'scheduled'
                    ),
                    audit AS (INSERT INTO audit_log (actor, action, target_kind, target_id, details)
                              SELECT \(RetentionCommand.operatorName), 'retention.hold', 'hold', id::text, jsonb_build_object('reason', \(reason)::text) FROM placed)
                    SELECT (SELECT count(*)::int FROM target), (SELECT count(*)::int FROM placed)
                    """, logger: logger).decode((Int, Int).self) { counts = row }
                return counts
            }
            guard targets > 0 else { throw CommandFailure("no such \(objectID != nil ? "object" : "study")") }
            print(placed > 0 ? "hold placed" : "already on hold")
        }
    }

    struct Release: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Release an operator's hold on an object or a study (publication holds stay).")
        @OptionGroup var target: HoldTarget
        @OptionGroup var catalog: CatalogOptions

        func run() async throws {
            let objectID = target.objectID, investigation = target.investigation, study = target.study
            let released = try await catalog.withCatalog { client, logger in
                var count = 0
                for try await n in try await client.query("""
                    WITH released AS (
                        UPDATE retention_holds h SET released_at = now(), released_by = \(RetentionCommand.operatorName)
                        WHERE h.released_at IS NULL AND h.source = 'operator'
                          AND (h.object_id = \(objectID) OR h.study_id = (SELECT s.id FROM studies s JOIN investigations i ON i.id = s.investigation_id
                                                                           WHERE i.name = \(investigation) AND s.name = \(study)))
                        RETURNING h.id
                    ),
                    audit AS (INSERT INTO audit_log (actor, action, target_kind, target_id, details)
                              SELECT \(RetentionCommand.operatorName), 'retention.release', 'hold', id::text, '{}'::jsonb FROM released)
                    SELECT count(*)::int FROM released
                    """, logger: logger).decode(Int.self) { count = n }
                return count
            }
            print(released > 0 ? "hold released" : "no operator hold to release")
        }
    }

    struct Restage: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Copy a tiered object back from cold to hot storage now, and count it as accessed.")
        @Argument(help: "Object id.") var object: String
        @Option(help: "Vault resource to restage to (default: the policy's replicateTo, else the first vault).") var to: String?
        @OptionGroup var catalog: CatalogOptions

        func run() async throws {
            guard let objectID = UUID(uuidString: object) else { throw ValidationError("\(object) is not an object id") }
            let configuration = try catalog.configuration()
            let settings: RetentionSettings
            do { settings = try RetentionSettings(configuration) } catch { throw ValidationError(error.description) }
            let target = to
            let ran = try await catalog.withCatalog { client, logger in
                var actionID: Int64?
                for try await id in try await client.query("""
                    INSERT INTO retention_actions (object_id, kind, state, resource_id, reason, requested_by, scheduled_at, not_before)
                    SELECT o.id, 'restage', 'scheduled', v.id, 'restage requested by an operator', \(RetentionCommand.operatorName), now(), now()
                    FROM objects o JOIN assays a ON a.id = o.assay_id JOIN studies s ON s.id = a.study_id
                    JOIN retention_effective_policies e ON e.investigation_id = s.investigation_id
                    JOIN LATERAL (SELECT id FROM resources WHERE role = 'vault'
                                  AND name = coalesce(\(target), e.policy->>'replicateTo', (SELECT min(name) FROM resources WHERE role = 'vault'))) v ON true
                    WHERE o.id = \(objectID) AND o.state <> 'expired'
                    ON CONFLICT (object_id, kind) WHERE state IN ('scheduled', 'running') DO NOTHING
                    RETURNING id
                    """, logger: logger).decode(Int64.self) { actionID = id }
                guard let actionID else {
                    throw CommandFailure("cannot restage \(objectID): no such live object, no vault resource\(target.map { " named \($0)" } ?? ""), or a restage is already running")
                }
                let names = FairwayBrokerNames(namespace: configuration.brokerNamespace)
                let engine = settings.engine(catalog: Catalog(client: client, service: "retention", exchange: names.exchange, logger: logger),
                                             actor: RetentionCommand.operatorName)
                return try await engine.runAction(actionID, at: Date())
            }
            guard let ran else { throw CommandFailure("the restage action was taken by another run") }
            print("\(ran.state): \(ran.detail)")
            if ran.state != "done" { throw ExitCode(1) }
        }
    }

    struct Cancel: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Cancel a scheduled action (see the ID column of `fairway retention plan`).")
        @Argument(help: "Action id.") var id: Int64
        @Option(help: "Why (kept in the catalog).") var reason: String
        @OptionGroup var catalog: CatalogOptions

        func run() async throws {
            let id = id, reason = reason
            let cancelled = try await catalog.withCatalog { client, logger in
                var count = 0
                for try await n in try await client.query("""
                    WITH cancelled AS (
                        UPDATE retention_actions SET state = 'cancelled', outcome = 'cancelled by ' || \(RetentionCommand.operatorName) || ': ' || \(reason),
                               finished_at = now()
                        WHERE id = \(id) AND state = 'scheduled' RETURNING id
                    ),
                    audit AS (INSERT INTO audit_log (actor, action, target_kind, target_id, details)
                              SELECT \(RetentionCommand.operatorName), 'retention.cancel', 'action', id::text, jsonb_build_object('reason', \(reason)::text) FROM cancelled)
                    SELECT count(*)::int FROM cancelled
                    """, logger: logger).decode(Int.self) { count = n }
                return count
            }
            guard cancelled == 1 else { throw CommandFailure("action \(id) is not scheduled (running, finished or unknown)") }
            print("action \(id) cancelled")
        }
    }
}

/// `fairway contact set USER EMAIL`: where notices for a user go.
struct ContactCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "contact",
        abstract: "Set the e-mail address retention notices for a user go to.",
        subcommands: [Set.self]
    )

    struct Set: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Set a user's e-mail address.")
        @Argument(help: "User name, as objects and investigations record it.") var user: String
        @Argument(help: "E-mail address.") var email: String
        @OptionGroup var catalog: CatalogOptions

        func validate() throws {
            guard email.range(of: "^[^@\\s<>\",;]+@[^@\\s<>\",;]+$", options: .regularExpression) != nil else {
                throw ValidationError("\(email) is not an e-mail address")
            }
        }

        func run() async throws {
            let user = user, email = email
            _ = try await catalog.withCatalog { client, logger in
                try await client.query("""
                    INSERT INTO contacts (username, email) VALUES (\(user), \(email))
                    ON CONFLICT (username) DO UPDATE SET email = EXCLUDED.email, updated_at = now()
                    """, logger: logger)
            }
            print("\(user): notices go to \(email)")
        }
    }
}
