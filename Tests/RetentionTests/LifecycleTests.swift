import FairwayAMQP
import FairwayContracts
import FairwayRetention
import FairwayTestSupport
import Foundation
import AsyncHTTPClient
import NIOCore
import PostgresNIO
import Testing

/// Whole lifecycles against the real catalog, broker and file system, with the clock moved by
/// `fairway retention apply --at`: years pass in seconds.
@Suite("Retention lifecycle", .serialized)
struct LifecycleTests {
    static let policy = """
        replicateTo: vault
        cleanBufferAfter: 60d
        tierToColdAfterNoAccess: 2y
        verification: checksum
        expireAfter: 5y
        extension: 1y
        noticeBefore: [90d, 30d, 7d]
        gracePeriod: 1d
        """

    @Test("ingest → replicate → buffer clean at +60 d → cold at +2 y → notices at −90/−30/−7 d → extension → deletion at 6 y; the published study survives; a bad vault copy blocks the clean and is repaired")
    func wholeLifecycle() async throws {
        try await IngestHarness.with { harness in
            let storage = try await RetentionStorage.declare(harness, policy: Self.policy)
            let (vault, cold, scratch) = (storage.vault, storage.cold, storage.scratch)
            // An invalid policy is refused by key, and the one set stays.
            let bad = scratch.appendingPathComponent("bad.yaml")
            try Data("cleanBufferAfter: 60d\nverification: md5\n".utf8).write(to: bad)
            let refused = try await harness.cliResult(["retention", "policy", "set", "--facility", "--file", bad.path])
            #expect(refused.status == 1)
            #expect(refused.output.contains("verification"), "\(refused.output)")
            #expect(try await harness.cli("retention", "policy", "show").contains("noticeBefore: [90d, 30d, 7d]"))
            try await harness.cli("contact", "set", "alice", "alice@example.org")

            // Two files of a study, one of a study that will be published.
            let bytes = ["lab/a.bin": IngestHarness.randomBytes(300_000), "lab/b.bin": IngestHarness.randomBytes(200_000),
                         "pub/p.bin": IngestHarness.randomBytes(100_000)]
            for (path, content) in bytes { _ = try harness.write(path, content) }
            for (folder, study) in [("lab", "s1"), ("pub", "published")] {
                let answer = try await harness.post(["zone": harness.zone, "path": folder, "investigation": "lab", "study": study,
                                                     "assay": "run1", "owner": "alice"])
                #expect(answer.status == 202, "\(answer.text)")
                _ = try await harness.settled(answer.body["id"] as? String ?? "")
            }
            // Whole seconds (--at has no fractions), after every object's registration.
            let t0 = Date(timeIntervalSince1970: (Date().timeIntervalSince1970 + 1).rounded(.up))

            // The service replicates new objects to the vault as soon as they are registered.
            try await harness.startRetention(["FAIRWAY_RETENTION_INTERVAL": "1h", "FAIRWAY_NOTICE_MAILBOX": scratch.appendingPathComponent("service.mbox").path])
            let replicated = try await eventually(timeout: .seconds(30)) {
                (try? await harness.count("SELECT count(*) FROM replicas r JOIN resources x ON x.id = r.resource_id WHERE x.name = 'vault' AND r.status = 'good'")) == 3
            }
            #expect(replicated, "\(harness.retention?.output.suffix(2000) ?? "")")
            let vaultA = vault.appendingPathComponent("lab/s1/run1/\(harness.zone)/lab/a.bin")
            #expect(try Data(contentsOf: vaultA) == Data(bytes["lab/a.bin"]!))

            // doi.registered puts the published study on hold.
            let publisher = harness.broker.publisher(service: "doi-test", keys: [])
            try await withRunningServices([publisher]) {
                let body = MessageCodec.encode(DOIRegistered(publicationID: UUID(), doi: "10.5072/FW-TEST", investigation: "lab",
                                                             study: "published", landingPage: "http://localhost/datasets/10.5072/FW-TEST"))
                try await publisher.publish(harness.broker.message(body, key: RoutingKey.doiRegistered.rawValue))
            }
            let held = try await eventually(timeout: .seconds(20)) {
                (try? await harness.count("SELECT count(*) FROM retention_holds WHERE source = 'publication' AND released_at IS NULL")) == 1
            }
            #expect(held)

            // The vault copy of a.bin goes bad.
            var damaged = bytes["lab/a.bin"]!
            damaged[1000] ^= 0xFF
            try Data(damaged).write(to: vaultA)

            let lifecycle = Lifecycle(harness: harness, t0: t0)
            // +60 d: the buffer clean is planned (no side effect), then scheduled; it runs after the grace period.
            let planned = try await lifecycle.plan(days: 60)
            #expect(planned.filter { $0["action"] as? String == "clean-buffer" && $0["status"] as? String == "new" }.count == 3)
            #expect(try await harness.count("SELECT count(*) FROM retention_actions WHERE kind = 'clean-buffer'") == 0)
            let scheduled = try await lifecycle.apply(days: 60)
            #expect((scheduled["scheduled"] as? [String: Int])?["clean-buffer"] == 3)
            #expect((scheduled["ran"] as? [Any])?.isEmpty == true)

            // +61 d: the clean runs; a.bin's vault copy fails its checksum, so its landing copy stays
            // and the vault copy is rewritten; the others are cleaned.
            let cleaned = try await lifecycle.apply(days: 61, hours: 1, expectFailure: true)
            let ran = try #require(cleaned["ran"] as? [[String: Any]])
            #expect(ran.count == 3)
            let failed = ran.filter { $0["state"] as? String == "failed" }
            #expect(failed.count == 1)
            #expect((failed.first?["detail"] as? String)?.contains("does not match the catalog") == true, "\(failed)")
            #expect(FileManager.default.fileExists(atPath: harness.landing.appendingPathComponent("lab/a.bin").path))
            #expect(!FileManager.default.fileExists(atPath: harness.landing.appendingPathComponent("lab/b.bin").path))
            #expect(!FileManager.default.fileExists(atPath: harness.landing.appendingPathComponent("pub/p.bin").path))
            #expect(try Data(contentsOf: vaultA) == Data(bytes["lab/a.bin"]!))
            // A day later the clean of a.bin is planned again, and runs after its grace period.
            _ = try await lifecycle.apply(days: 62, hours: 2)
            let second = try await lifecycle.apply(days: 64)
            #expect((second["ran"] as? [[String: Any]])?.map { $0["state"] as? String } == ["done"])
            #expect(!FileManager.default.fileExists(atPath: harness.landing.appendingPathComponent("lab/a.bin").path))
            #expect(try await harness.count("SELECT count(*) FROM replicas r JOIN resources x ON x.id = r.resource_id WHERE x.role = 'landing'") == 0)

            // +2 y without access: a and b move to cold; the published p stays in the vault.
            let tierScheduled = try await lifecycle.apply(years: 2)
            #expect((tierScheduled["scheduled"] as? [String: Int])?["tier"] == 2)
            let tiered = try await lifecycle.apply(years: 2, days: 2)
            #expect((tiered["ran"] as? [[String: Any]])?.filter { $0["action"] as? String == "tier" && $0["state"] as? String == "done" }.count == 2)
            #expect(try Data(contentsOf: cold.appendingPathComponent("lab/s1/run1/\(harness.zone)/lab/a.bin")) == Data(bytes["lab/a.bin"]!))
            #expect(!FileManager.default.fileExists(atPath: vaultA.path))
            #expect(FileManager.default.fileExists(atPath: vault.appendingPathComponent("lab/published/run1/\(harness.zone)/pub/p.bin").path))

            // Notices 90, 30 and 7 days before 5 y, by e-mail through a local SMTP server.
            let sinkFile = scratch.appendingPathComponent("smtp.jsonl")
            let sink = try ChildProcess(TestEnvironment.python, [TestEnvironment.supportScript("smtp_sink.py").path, sinkFile.path])
            defer { sink.terminate() }
            @Sendable func sinkPort() -> String? { sink.output.split(separator: "\n").first { $0.hasPrefix("port ") }.map { String($0.dropFirst(5)) } }
            _ = try await eventually(timeout: .seconds(20)) { sinkPort() != nil }
            let port = sinkPort()
            let smtp = ["FAIRWAY_SMTP_URL": "smtp://127.0.0.1:\(try #require(port))", "FAIRWAY_MAIL_FROM": "retention@facility.example"]
            let expiry = try #require(try await harness.rows("SELECT to_char((min(created_at) + interval '5 years') AT TIME ZONE 'UTC', 'YYYY-MM-DD') AS day FROM objects").first?["day"] as? String)
            for step in [90, 30, 7] {
                let report = try await lifecycle.apply(years: 5, days: -step, environment: smtp)
                #expect((report["notices"] as? [[String: Any]])?.map { $0["daysBefore"] as? Int } == [step], "\(report)")
            }
            let mails = try String(contentsOf: sinkFile, encoding: .utf8).split(separator: "\n")
                .compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
            #expect(mails.count == 3)
            for (mail, step) in zip(mails, [90, 30, 7]) {
                #expect(mail["rcpt_tos"] as? [String] == ["alice@example.org"])
                #expect(mail["mail_from"] as? String == "retention@facility.example")
                let text = mail["data"] as? String ?? ""
                #expect(text.contains("Subject: [Fairway] 2 objects of lab will be deleted on \(expiry) (in \(step) days)"), "\(text)")
                #expect(text.contains("\(harness.zone)/lab/a.bin") && !text.contains("p.bin"))
            }
            // The same step is not sent twice.
            #expect((try await lifecycle.apply(years: 5, days: -7, environment: smtp)["notices"] as? [Any])?.isEmpty == true)

            // The one extension: nothing is deleted at 5 y; a second extension is refused.
            #expect(try await harness.cli("retention", "extend", "--investigation", "lab", "--reason", "paper in revision").contains("extended by 1y"))
            #expect(try await harness.cliResult(["retention", "extend", "--investigation", "lab", "--reason", "again"]).status == 1)
            let atFive = try await lifecycle.apply(years: 5, days: 1)
            #expect((atFive["scheduled"] as? [String: Int])?["delete"] == nil)
            #expect(try await harness.count("SELECT count(*) FROM objects WHERE state = 'expired'") == 0)

            // Without SMTP, the notice before the new date goes to the mailbox file.
            let mailbox = scratch.appendingPathComponent("notices.mbox")
            _ = try await lifecycle.apply(years: 6, days: -7, environment: ["FAIRWAY_NOTICE_MAILBOX": mailbox.path])
            #expect(try String(contentsOf: mailbox, encoding: .utf8).contains("To: alice@example.org"))

            // 6 y: deletion is scheduled, then runs after the grace period; the rows stay, marked.
            let deleteScheduled = try await lifecycle.apply(years: 6)
            #expect((deleteScheduled["scheduled"] as? [String: Int])?["delete"] == 2)
            let deleted = try await lifecycle.apply(years: 6, days: 2)
            #expect((deleted["ran"] as? [[String: Any]])?.filter { $0["action"] as? String == "delete" && $0["state"] as? String == "done" }.count == 2)
            let expired = try await harness.rows("SELECT logical_path, deleted_by, deletion_reason, deleted_at IS NOT NULL AS dated FROM objects WHERE state = 'expired' ORDER BY logical_path")
            #expect(expired.map { $0["logical_path"] as? String } == ["\(harness.zone)/lab/a.bin", "\(harness.zone)/lab/b.bin"])
            #expect(expired.allSatisfy { ($0["deleted_by"] as? String)?.hasPrefix("cli:") == true && ($0["deletion_reason"] as? String)?.contains("expires on") == true })
            #expect(!FileManager.default.fileExists(atPath: cold.appendingPathComponent("lab/s1/run1/\(harness.zone)/lab/a.bin").path))

            // The audit trail: who asked, why, what happened.
            let log = try JSONSerialization.jsonObject(with: Data(try await harness.cli("retention", "log", "--kind", "delete", "--json").utf8)) as? [[String: String]] ?? []
            #expect(log.count == 2 && log.allSatisfy { $0["state"] == "done" && $0["requestedBy"]?.hasPrefix("cli:") == true && $0["outcome"]?.hasPrefix("deleted:") == true })
            #expect(try await harness.count("SELECT count(*) FROM retention_actions WHERE kind = 'clean-buffer' AND state = 'failed' AND error LIKE '%does not match the catalog%'") == 1)

            // The published object survived all of it.
            #expect(try await harness.count("SELECT count(*) FROM objects WHERE logical_path LIKE '%/pub/p.bin' AND state <> 'expired'") == 1)
            try await CatalogDiskWalk.check(harness: harness, roots: [harness.landing, vault, cold])
        }
    }
}

/// Vault and cold resources in folders of their own, a scratch folder, and a facility policy.
struct RetentionStorage {
    let vault: URL
    let cold: URL
    let scratch: URL

    static func declare(_ harness: IngestHarness, policy: String) async throws -> RetentionStorage {
        let storage = RetentionStorage(vault: try TestEnvironment.temporaryFolder("fairway-vault"),
                                       cold: try TestEnvironment.temporaryFolder("fairway-cold"),
                                       scratch: try TestEnvironment.temporaryFolder("fairway-retention"))
        try await harness.cli("zone", "add", "vault", "--path", storage.vault.path, "--role", "vault")
        try await harness.cli("zone", "add", "cold", "--path", storage.cold.path, "--role", "cold")
        let file = storage.scratch.appendingPathComponent("facility-policy.yaml")
        try Data(policy.utf8).write(to: file)
        try await harness.cli("retention", "policy", "set", "--facility", "--file", file.path)
        return storage
    }
}

/// `fairway retention plan|apply --at` relative to the test's start.
struct Lifecycle {
    let harness: IngestHarness
    let t0: Date

    func date(years: Int, days: Int, hours: Int) -> String {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        let date = calendar.date(byAdding: DateComponents(year: years, day: days, hour: hours), to: t0)!
        return ISO8601DateFormatter().string(from: date)
    }

    func plan(years: Int = 0, days: Int = 0, hours: Int = 0) async throws -> [[String: Any]] {
        let output = try await harness.cli("retention", "plan", "--at", date(years: years, days: days, hours: hours), "--json")
        let document = try JSONSerialization.jsonObject(with: Data(output.utf8)) as? [String: Any]
        return document?["actions"] as? [[String: Any]] ?? []
    }

    func apply(years: Int = 0, days: Int = 0, hours: Int = 0, expectFailure: Bool = false,
               environment: [String: String] = [:]) async throws -> [String: Any] {
        let at = date(years: years, days: days, hours: hours)
        let result = try await harness.cliResult(["retention", "apply", "--at", at, "--json"], environment: environment)
        #expect(result.status == (expectFailure ? 1 : 0), "apply at \(at): \(result.output)")
        guard let start = result.output.firstIndex(of: "{") else { throw TestSetupError("apply at \(at) printed no JSON: \(result.output)") }
        return try JSONSerialization.jsonObject(with: Data(result.output[start...].utf8)) as? [String: Any] ?? [:]
    }
}

/// The catalog and the disks agree: every recorded replica is on disk with its checksum, and
/// every file under the resource roots is a recorded replica.
enum CatalogDiskWalk {
    static func check(harness: IngestHarness, roots: [URL]) async throws {
        let replicas = try await harness.rows("SELECT physical_path, checksum FROM replicas")
        var recorded = Set<String>()
        for replica in replicas {
            let path = try #require(replica["physical_path"] as? String)
            recorded.insert(path)
            let digest = try ReplicaFiles.digest(of: path)
            #expect(digest.checksum == replica["checksum"] as? String, "\(path) does not hold its recorded checksum")
        }
        for root in roots {
            let walker = FileManager.default.enumerator(at: root, includingPropertiesForKeys: [.isRegularFileKey])
            while let url = walker?.nextObject() as? URL {
                guard (try? url.resourceValues(forKeys: [.isRegularFileKey]).isRegularFile) == true else { continue }
                #expect(recorded.contains(url.path), "\(url.path) is on disk but not a recorded replica")
            }
        }
    }
}

@Suite("Retention and access", .serialized)
struct AccessTests {
    @Test("with the service running, a new object is replicated within seconds by a run over the new objects alone; the whole catalog is read at start and every interval")
    func newObjectsArePlannedAlone() async throws {
        try await IngestHarness.with { harness in
            _ = try await RetentionStorage.declare(harness, policy: "replicateTo: vault\n")
            let vaultCopies = "SELECT count(*) FROM replicas r JOIN resources x ON x.id = r.resource_id WHERE x.name = 'vault' AND r.status = 'good'"
            for (index, folder) in ["first", "second", "third"].enumerated() {
                _ = try harness.write("\(folder)/image.bin", IngestHarness.randomBytes(50_000 + index))
                let answer = try await harness.post(["zone": harness.zone, "path": folder, "investigation": "lab", "study": "s1", "assay": "run1"])
                _ = try await harness.settled(answer.body["id"] as? String ?? "")
                if index == 0 {
                    try await harness.startRetention(["FAIRWAY_RETENTION_INTERVAL": "1h"])
                }
                // The interval is an hour: only a run over the new object replicates it this soon.
                let copied = try await eventually(timeout: .seconds(30)) { (try? await harness.count(vaultCopies)) == index + 1 }
                #expect(copied, "\(harness.retention?.output.suffix(2000) ?? "")")
            }
            let runs = (harness.retention?.output ?? "").split(separator: "\n").compactMap {
                try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
            }.filter { $0["message"] as? String == "retention run" }.compactMap { $0["over"] as? String }
            #expect(runs == ["every object", "1 new objects", "1 new objects"], "\(runs)")
        }
    }

    @Test("reading an object through the catalog API records the access that tiering counts from, and keeps working from cold storage")
    func accessDelaysTiering() async throws {
        try await IngestHarness.with { harness in
            let storage = try await RetentionStorage.declare(harness, policy: "replicateTo: vault\ncleanBufferAfter: 1d\ntierToColdAfterNoAccess: 2y\ngracePeriod: 0h\n")
            let (vault, cold, scratch) = (storage.vault, storage.cold, storage.scratch)
            let content = IngestHarness.randomBytes(70_000)
            _ = try harness.write("acc/image.bin", content)
            let answer = try await harness.post(["zone": harness.zone, "path": "acc", "investigation": "lab", "study": "s1", "assay": "run1"])
            _ = try await harness.settled(answer.body["id"] as? String ?? "")
            let id = try #require(try await harness.rows("SELECT id::text AS id FROM objects").first?["id"] as? String)
            let lifecycle = Lifecycle(harness: harness, t0: Date(timeIntervalSince1970: (Date().timeIntervalSince1970 + 1).rounded(.up)))

            @Sendable func download() async throws -> (status: UInt, bytes: [UInt8], digest: String?) {
                var request = HTTPClientRequest(url: "http://127.0.0.1:\(harness.port)/v1/objects/\(id)/content")
                request.headers.add(name: "Authorization", value: "Bearer \(harness.token)")
                let response = try await IngestHarness.http.execute(request, timeout: .seconds(30))
                let body = try await response.body.collect(upTo: 1 << 20)
                return (response.status.code, Array(buffer: body), response.headers.first(name: "Repr-Digest"))
            }
            // Hostile or foreign ids find nothing; the token's zone scopes what is readable.
            for bad in ["..%2F..%2Fetc%2Fpasswd", "%00", UUID().uuidString, "\(id)%00"] {
                #expect(try await harness.request(.GET, "/v1/objects/\(bad)/content").status == 404, "\(bad)")
            }
            try await harness.cli("zone", "add", "other", "--path", scratch.path)
            let otherToken = try await harness.createToken(zone: "other")
            #expect(try await harness.request(.GET, "/v1/objects/\(id)/content", token: otherToken).status == 404)
            let first = try await download()
            #expect(first.status == 200 && first.bytes == content)
            let checksum = try #require(try await harness.rows("SELECT checksum FROM objects").first?["checksum"] as? String)
            #expect(first.digest == "sha-256=:\(checksum.dropFirst(5)):")
            #expect(try await harness.count("SELECT count(*) FROM objects WHERE last_accessed_at IS NOT NULL") == 1)

            // Replicated, buffer cleaned; then read again a year later (the clock of the catalog is
            // moved for the test): not tiered at 2 years, tiered 2 years after that read.
            _ = try await lifecycle.apply()
            _ = try await lifecycle.apply(days: 2)
            try await harness.database.withClient { client in
                try await client.query("UPDATE objects SET last_accessed_at = last_accessed_at + interval '1 year'")
            }
            #expect(try await lifecycle.plan(years: 2, days: 1).filter { $0["action"] as? String == "tier" }.isEmpty)
            #expect(try await lifecycle.plan(years: 3, days: 1).filter { $0["action"] as? String == "tier" }.count == 1)
            let tiered = try await lifecycle.apply(years: 3, days: 1)
            #expect((tiered["ran"] as? [[String: Any]])?.map { $0["action"] as? String } == ["tier"])

            // Only on cold now, and still readable through the API; the object view still answers.
            let later = try await download()
            #expect(later.status == 200 && later.bytes == content)
            #expect(try await harness.request(.GET, "/v1/objects/\(id)").status == 200)
            try await CatalogDiskWalk.check(harness: harness, roots: [harness.landing, vault, cold])
        }
    }
}
