import FairwayRetention
import FairwayTestSupport
import Foundation
import Testing

/// `fairway retention apply` killed with SIGKILL at random points of tier moves, then run again.
@Suite("Retention crash safety", .serialized)
struct CrashSafetyTests {
    @Test("SIGKILL during tier moves, then a restart: no object is ever without an intact replica; afterwards catalog and disk agree")
    func killedTierMoves() async throws {
        try await IngestHarness.with { harness in
            let storage = try await RetentionStorage.declare(
                harness, policy: "replicateTo: vault\ncleanBufferAfter: 1d\ntierToColdAfterNoAccess: 1y\nverification: checksum\ngracePeriod: 0h\n")
            let (vault, cold) = (storage.vault, storage.cold)
            // Big enough that a run takes a few seconds, so the kills land inside copies, checks and removals.
            let count = 8
            let block = IngestHarness.randomBytes(1 << 20)
            for index in 0 ..< count {
                var content = [UInt8](); content.reserveCapacity(48 << 20)
                for part in 0 ..< 48 { content += block; content[content.count - 1] = UInt8(truncatingIfNeeded: index * 48 + part) }
                _ = try harness.write("big/image-\(index).bin", content)
            }
            let answer = try await harness.post(["zone": harness.zone, "path": "big", "investigation": "lab", "study": "s1", "assay": "run1"])
            _ = try await harness.settled(answer.body["id"] as? String ?? "", timeout: .seconds(120))
            let lifecycle = Lifecycle(harness: harness, t0: Date(timeIntervalSince1970: (Date().timeIntervalSince1970 + 1).rounded(.up)))
            // Replicated, then the buffer cleaned: the vault holds the only copy.
            _ = try await lifecycle.apply()
            _ = try await lifecycle.apply(days: 2)
            #expect(try await harness.count("SELECT count(*) FROM replicas r JOIN resources x ON x.id = r.resource_id WHERE x.role = 'vault'") == count)
            #expect(try await harness.count("SELECT count(*) FROM replicas r JOIN resources x ON x.id = r.resource_id WHERE x.role = 'landing'") == 0)

            let at = lifecycle.date(years: 1, days: 3, hours: 0)
            var environment = try harness.cliEnvironment
            environment["FAIRWAY_RETENTION_LEASE"] = "1s"
            // Each run is killed a moment after it starts, until the moves are done: every run
            // resumes what the killed one left (its lease is 1 s) and gets a little further.
            var interrupted = 0, rounds = 0
            while rounds < 40, try await harness.count("SELECT count(*) FROM retention_actions WHERE kind = 'tier' AND state = 'done'") < count {
                rounds += 1
                let run = try ChildProcess(try TestEnvironment.executable("fairway"), ["retention", "apply", "--at", at], environment: environment)
                let delay = Int.random(in: 120 ... 450)
                try await Task.sleep(for: .milliseconds(delay))
                let wasRunning = run.isRunning
                kill(run.pid, SIGKILL)
                _ = await run.status()
                if wasRunning { interrupted += 1 }
                let states = try await harness.rows("SELECT state || coalesce('/' || phase, '') AS s, count(*)::int AS n FROM retention_actions WHERE kind = 'tier' GROUP BY 1 ORDER BY 1")
                let partial = FileManager.default.enumerator(atPath: cold.path)?.allObjects.compactMap { $0 as? String }
                    .filter { $0.hasSuffix(ReplicaFiles.partialSuffix) }.count ?? 0
                print("round \(rounds): SIGKILL after \(delay) ms (\(wasRunning ? "mid-run" : "after the run")); tier actions: "
                      + states.map { "\($0["s"] ?? "")=\($0["n"] ?? "")" }.joined(separator: ", ") + "; partial copies on cold: \(partial)")
                try await Self.everyObjectHasAnIntactReplica(harness)
                try await Task.sleep(for: .milliseconds(1100))   // the killed run's lease runs out
            }
            print("runs killed mid-way: \(interrupted) of \(rounds)")
            #expect(interrupted >= 3)
            // The restart finishes what the killed runs left.
            let finished = try await harness.cliResult(["retention", "apply", "--at", at, "--json"], environment: ["FAIRWAY_RETENTION_LEASE": "1s"])
            #expect(finished.status == 0, "\(finished.output)")
            #expect(try await harness.count("SELECT count(*) FROM retention_actions WHERE kind = 'tier' AND state = 'done'") == count)
            #expect(try await harness.count("SELECT count(*) FROM retention_actions WHERE state IN ('scheduled', 'running')") == 0)
            #expect(try await harness.count("SELECT count(*) FROM replicas r JOIN resources x ON x.id = r.resource_id WHERE x.role = 'cold' AND r.status = 'good'") == count)
            #expect(try await harness.count("SELECT count(*) FROM replicas r JOIN resources x ON x.id = r.resource_id WHERE x.role = 'vault'") == 0)
            try await Self.everyObjectHasAnIntactReplica(harness)
            try await CatalogDiskWalk.check(harness: harness, roots: [harness.landing, vault, cold])

            // Restage on request: back in the vault, verified, and counted as accessed.
            let object = try #require(try await harness.rows("SELECT id::text AS id, logical_path FROM objects ORDER BY logical_path LIMIT 1").first)
            let restaged = try await harness.cli("retention", "restage", object["id"] as? String ?? "")
            #expect(restaged.contains("done: copied from cold to vault"), "\(restaged)")
            #expect(try await harness.count("SELECT count(*) FROM objects WHERE last_accessed_at IS NOT NULL") == 1)
            let path = try #require(try await harness.rows("""
                SELECT r.physical_path FROM replicas r JOIN resources x ON x.id = r.resource_id WHERE x.role = 'vault'
                """).first?["physical_path"] as? String)
            #expect(path.hasPrefix(vault.path) && path.hasSuffix(object["logical_path"] as? String ?? "?"))
            try await CatalogDiskWalk.check(harness: harness, roots: [harness.landing, vault, cold])
        }
    }

    /// Every object has a recorded good replica whose file holds the object's checksum.
    static func everyObjectHasAnIntactReplica(_ harness: IngestHarness) async throws {
        let rows = try await harness.rows("""
            SELECT o.id::text AS id, o.checksum, coalesce(array_agg(r.physical_path) FILTER (WHERE r.status = 'good'), '{}') AS paths
            FROM objects o LEFT JOIN replicas r ON r.object_id = o.id GROUP BY o.id, o.checksum
            """)
        for row in rows {
            let paths = row["paths"] as? [String] ?? []
            let intact = paths.contains { (try? ReplicaFiles.digest(of: $0).checksum) == row["checksum"] as? String }
            #expect(intact, "object \(row["id"] ?? "") has no intact replica among \(paths)")
        }
    }
}
