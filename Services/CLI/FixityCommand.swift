import ArgumentParser
import FairwayAMQP
import FairwayCatalog
import FairwayRetention
import FairwayServiceKit
import Foundation
import PostgresNIO

/// `fairway fixity check|report`: re-read replicas now; what the continuous checks found.
struct FixityCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fixity",
        abstract: "Check replicas against their checksums now, or report what fixity checks found.",
        subcommands: [Check.self, Report.self]
    )

    struct Check: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Re-read replicas not verified within --older-than (all with --all) and compare their checksums; repair damaged ones from intact replicas.",
            discussion: "Exit code 1 when a replica was found damaged or missing (repaired or not)."
        )
        @Option(help: "Only replicas on this resource.") var resource: String?
        @Option(help: "Check replicas last verified longer ago than this, e.g. 30d, 12h (default: FAIRWAY_FIXITY_INTERVAL, 30d).") var olderThan: String?
        @Flag(help: "Check every good replica, however recently verified.") var all = false
        @Option(help: "Check at most this many replicas.") var limit = 1_000_000
        @Option(help: "Read budget in bytes per second (default: FAIRWAY_FIXITY_BYTES_PER_SECOND, else unlimited).") var budget: Int64?
        @Flag(help: "Print JSON.") var json = false
        @OptionGroup var catalog: CatalogOptions

        func run() async throws {
            let configuration = try catalog.configuration()
            let settings: RetentionSettings
            do { settings = try RetentionSettings(configuration) } catch { throw ValidationError(error.description) }
            var interval = settings.fixityInterval
            if let olderThan {
                guard let parsed = RetentionSettings.longDuration(olderThan) else { throw ValidationError("--older-than \(olderThan) is not a duration such as 30d or 12h") }
                interval = parsed
            }
            let before = all ? Date().addingTimeInterval(1) : Date().addingTimeInterval(-Double(interval.components.seconds))
            let budget = budget ?? settings.fixityBytesPerSecond, resource = resource, limit = limit
            let started = ContinuousClock.now
            let progress = LazyProgress("fixity")
            let results = try await catalog.withCatalog { client, logger in
                let names = FairwayBrokerNames(namespace: configuration.brokerNamespace)
                let engine = settings.engine(catalog: Catalog(client: client, service: "retention", exchange: names.exchange, logger: logger),
                                             actor: RetentionCommand.operatorName)
                return try await FixityChecker(engine: engine, bytesPerSecond: budget)
                    .checkDue(verifiedBefore: before, limit: limit, resource: resource) { progress.update(done: $0, total: $1, bytes: $2, totalBytes: $3) }
            }
            progress.finish()
            let seconds = (ContinuousClock.now - started).seconds
            let bytes = results.reduce(Int64(0)) { $0 + $1.bytes }
            let damaged = results.filter { $0.outcome != "ok" }
            if json {
                let document: [String: Any] = [
                    "checked": results.count, "bytes": bytes, "seconds": seconds,
                    "bytesPerSecond": seconds > 0 ? Double(bytes) / seconds : 0,
                    "damaged": damaged.map { ["object": $0.objectID.uuidString.lowercased(), "resource": $0.resource, "path": $0.path,
                                              "outcome": $0.outcome, "detail": $0.detail ?? "", "repair": $0.repair ?? ""] },
                ]
                let data = try JSONSerialization.data(withJSONObject: document, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
                print(String(decoding: data, as: UTF8.self))
            } else {
                let rate = seconds > 0 ? Double(bytes) / seconds / 1e6 : 0
                print("checked \(results.count) replica(s), \(bytes) bytes in \(String(format: "%.1f", seconds)) s (\(String(format: "%.1f", rate)) MB/s); \(damaged.count) damaged")
                if !damaged.isEmpty {
                    printTable(["RESOURCE", "OUTCOME", "PATH", "DETAIL", "REPAIR"], damaged.map { [$0.resource, $0.outcome, $0.path, $0.detail ?? "", $0.repair ?? ""] }, json: false)
                }
            }
            if !damaged.isEmpty { throw ExitCode(1) }
        }
    }

    struct Report: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Replicas per resource by status and verification age; the last 24 hours of checks; recent problems.")
        @Flag(help: "Print JSON.") var json = false
        @OptionGroup var catalog: CatalogOptions

        func run() async throws {
            let (resources, day, problems) = try await catalog.withCatalog { client, logger in
                var resources: [[String]] = []
                for try await (name, role, total, good, stale, missing, never, oldest) in try await client.query("""
                    SELECT x.name, x.role, count(r.id)::int, (count(*) FILTER (WHERE r.status = 'good'))::int,
                           (count(*) FILTER (WHERE r.status = 'stale'))::int, (count(*) FILTER (WHERE r.status = 'missing'))::int,
                           (count(*) FILTER (WHERE r.id IS NOT NULL AND r.last_verified_at IS NULL))::int,
                           coalesce(to_char(min(r.last_verified_at) AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'), '')
                    FROM resources x LEFT JOIN replicas r ON r.resource_id = x.id
                    GROUP BY x.name, x.role ORDER BY x.name
                    """, logger: logger).decode((String, String, Int, Int, Int, Int, Int, String).self) {
                    resources.append([name, role, "\(total)", "\(good)", "\(stale)", "\(missing)", "\(never)", oldest])
                }
                var day: [String] = []
                for try await (checks, bytes, seconds, failures) in try await client.query("""
                    SELECT count(*)::int, coalesce(sum(bytes), 0)::bigint, coalesce(sum(seconds), 0)::float8,
                           (count(*) FILTER (WHERE outcome <> 'ok'))::int
                    FROM fixity_checks WHERE checked_at > now() - interval '24 hours'
                    """, logger: logger).decode((Int, Int64, Double, Int).self) {
                    day = ["\(checks)", "\(bytes)", seconds > 0 ? String(format: "%.1f", Double(bytes) / seconds / 1e6) : "0", "\(failures)"]
                }
                var problems: [[String]] = []
                for try await (at, name, path, outcome, detail, status) in try await client.query("""
                    SELECT to_char(f.checked_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'), x.name, f.physical_path, f.outcome,
                           coalesce(f.detail, ''), coalesce(r.status, 'removed')
                    FROM fixity_checks f JOIN resources x ON x.id = f.resource_id LEFT JOIN replicas r ON r.id = f.replica_id
                    WHERE f.outcome <> 'ok' ORDER BY f.checked_at DESC LIMIT 20
                    """, logger: logger).decode((String, String, String, String, String, String).self) {
                    problems.append([at, name, outcome, status, path, detail])
                }
                return (resources, day, problems)
            }
            if json {
                let document: [String: Any] = [
                    "resources": resources.map { Dictionary(uniqueKeysWithValues: zip(["resource", "role", "replicas", "good", "stale", "missing", "neverVerified", "oldestVerification"], $0)) },
                    "last24Hours": Dictionary(uniqueKeysWithValues: zip(["checks", "bytes", "megabytesPerSecond", "damaged"], day)),
                    "recentProblems": problems.map { Dictionary(uniqueKeysWithValues: zip(["checkedAt", "resource", "outcome", "replicaNow", "path", "detail"], $0)) },
                ]
                let data = try JSONSerialization.data(withJSONObject: document, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
                print(String(decoding: data, as: UTF8.self))
                return
            }
            printTable(["RESOURCE", "ROLE", "REPLICAS", "GOOD", "STALE", "MISSING", "NEVER VERIFIED", "OLDEST VERIFICATION"], resources, json: false)
            print("\nlast 24 hours: \(day[0]) checks, \(day[1]) bytes, \(day[2]) MB/s while reading, \(day[3]) damaged")
            if !problems.isEmpty {
                print("")
                printTable(["CHECKED", "RESOURCE", "OUTCOME", "REPLICA NOW", "PATH", "DETAIL"], problems, json: false)
            }
        }
    }
}

/// `fairway owner transfer`: reassign a leaving person's data, audited.
struct OwnerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "owner",
        abstract: "Reassign data to another person (someone who leaves, to their team leader).",
        subcommands: [Transfer.self]
    )

    struct Transfer: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Give every object, acquisition and membership of one user to another, in one investigation or everywhere.",
            discussion: "One transaction; the audit log keeps who did it and how many rows moved."
        )
        @Option(help: "Current owner.") var from: String
        @Option(help: "New owner.") var to: String
        @Option(help: "Only this investigation.") var investigation: String?
        @OptionGroup var catalog: CatalogOptions

        func validate() throws {
            guard !from.isEmpty, !to.isEmpty, from != to else { throw ValidationError("--from and --to must be two different user names") }
        }

        func run() async throws {
            let from = from, to = to, investigation = investigation
            let moved = try await catalog.withCatalog { client, logger in
                var scopeExists = investigation == nil
                if let investigation {
                    for try await _ in try await client.query("SELECT 1 FROM investigations WHERE name = \(investigation)", logger: logger) { scopeExists = true }
                }
                guard scopeExists else { throw CommandFailure("no investigation named \(investigation ?? "")") }
                var counts = (objects: 0, acquisitions: 0, memberships: 0)
                for try await row in try await client.query("""
                    WITH scope AS (
                        SELECT a.id AS assay_id, i.id AS investigation_id FROM assays a JOIN studies s ON s.id = a.study_id
                        JOIN investigations i ON i.id = s.investigation_id
                        WHERE \(investigation)::text IS NULL OR i.name = \(investigation)
                    ),
                    objects_moved AS (
                        UPDATE objects SET owner = \(to), updated_at = now()
                        WHERE owner = \(from) AND assay_id IN (SELECT assay_id FROM scope) RETURNING 1
                    ),
                    acquisitions_moved AS (
                        UPDATE acquisitions SET owner = \(to), updated_at = now()
                        WHERE owner = \(from) AND assay_id IN (SELECT assay_id FROM scope) RETURNING 1
                    ),
                    -- The new owner keeps the stronger of the two roles where both were members.
                    memberships_added AS (
                        INSERT INTO investigation_members (investigation_id, username, role)
                        SELECT m.investigation_id, \(to), m.role FROM investigation_members m
                        WHERE m.username = \(from) AND m.investigation_id IN (SELECT investigation_id FROM scope)
                        ON CONFLICT (investigation_id, username) DO UPDATE
                        SET role = CASE WHEN 'owner' IN (investigation_members.role, EXCLUDED.role) THEN 'owner'
                                        WHEN 'member' IN (investigation_members.role, EXCLUDED.role) THEN 'member' ELSE 'viewer' END
                        RETURNING 1
                    ),
                    memberships_removed AS (
                        DELETE FROM investigation_members WHERE username = \(from) AND investigation_id IN (SELECT investigation_id FROM scope) RETURNING 1
                    ),
                    counted AS (
                        SELECT (SELECT count(*) FROM objects_moved)::int AS o, (SELECT count(*) FROM acquisitions_moved)::int AS a,
                               (SELECT count(*) FROM memberships_removed)::int AS m, (SELECT count(*) FROM memberships_added)::int AS added
                    ),
                    audit AS (
                        INSERT INTO audit_log (actor, action, target_kind, target_id, details)
                        SELECT \(RetentionCommand.operatorName), 'owner.transfer', 'user', \(from),
                               jsonb_build_object('to', \(to)::text, 'investigation', \(investigation)::text, 'objects', o, 'acquisitions', a, 'memberships', m)
                        FROM counted
                    )
                    SELECT o, a, m FROM counted
                    """, logger: logger).decode((Int, Int, Int).self) { counts = row }
                return counts
            }
            print("\(from) → \(to)\(investigation.map { " in \($0)" } ?? ""): \(moved.objects) object(s), \(moved.acquisitions) acquisition(s), \(moved.memberships) membership(s) transferred")
        }
    }
}
