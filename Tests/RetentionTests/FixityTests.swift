import FairwayAMQP
import FairwayContracts
import FairwayRetention
import FairwayTestSupport
import Foundation
import Testing

@Suite("Fixity", .serialized)
struct FixityTests {
    @Test("damaged and missing vault copies are found, announced and repaired; a damaged landing copy is only marked; the service checks continuously within its budget")
    func findAndRepair() async throws {
        try await IngestHarness.with { harness in
            let storage = try await RetentionStorage.declare(harness, policy: "replicateTo: vault\nverification: checksum\n")
            let (vault, scratch) = (storage.vault, storage.scratch)
            let bytes = ["f/x.bin": IngestHarness.randomBytes(150_000), "f/y.bin": IngestHarness.randomBytes(120_000), "f/z.bin": IngestHarness.randomBytes(90_000)]
            for (path, content) in bytes { _ = try harness.write(path, content) }
            let answer = try await harness.post(["zone": harness.zone, "path": "f", "investigation": "lab", "study": "s1", "assay": "run1"])
            _ = try await harness.settled(answer.body["id"] as? String ?? "")
            _ = try await Lifecycle(harness: harness, t0: Date()).apply()
            let zone = harness.zone
            let vaultPath = { @Sendable (name: String) in vault.appendingPathComponent("lab/s1/run1/\(zone)/f/\(name)") }
            #expect(try Data(contentsOf: vaultPath("x.bin")) == Data(bytes["f/x.bin"]!))

            // The service relays what the command line writes to the outbox as retention's.
            try await harness.startRetention(["FAIRWAY_NOTICE_MAILBOX": scratch.appendingPathComponent("mbox").path])
            let alerts = harness.broker.consumer(service: "alerts", keys: [RoutingKey.replicaDamaged.rawValue])
            try await withRunningServices([alerts]) {
                // x damaged in the vault, y gone from it, z damaged in the landing buffer.
                var damaged = bytes["f/x.bin"]!
                damaged[7] ^= 0x01
                try Data(damaged).write(to: vaultPath("x.bin"))
                try FileManager.default.removeItem(at: vaultPath("y.bin"))
                var landing = bytes["f/z.bin"]!
                landing[0] ^= 0x80
                try Data(landing).write(to: harness.landing.appendingPathComponent("f/z.bin"))

                let result = try await harness.cliResult(["fixity", "check", "--all", "--json"])
                #expect(result.status == 1)
                let document = try JSONSerialization.jsonObject(with: Data(result.output[result.output.firstIndex(of: "{")!...].utf8)) as? [String: Any]
                #expect(document?["checked"] as? Int == 6)
                let found = (document?["damaged"] as? [[String: String]] ?? []).sorted { ($0["path"] ?? "") < ($1["path"] ?? "") }
                #expect(found.map { "\($0["resource"]!):\($0["outcome"]!)" } == ["\(harness.zone):mismatch", "vault:mismatch", "vault:missing"], "\(found)")
                #expect(found[0]["repair"]?.contains("landing buffers are not written to") == true)
                #expect(found[1]["repair"]?.hasPrefix("repaired: copied from \(harness.zone) to vault") == true, "\(found)")
                #expect(found[2]["repair"]?.hasPrefix("repaired") == true)
                #expect(try Data(contentsOf: vaultPath("x.bin")) == Data(bytes["f/x.bin"]!))
                #expect(try Data(contentsOf: vaultPath("y.bin")) == Data(bytes["f/y.bin"]!))
                let statuses = try await harness.rows("""
                    SELECT x.name || ':' || split_part(r.physical_path, '/f/', 2) || ':' || r.status AS s FROM replicas r
                    JOIN resources x ON x.id = r.resource_id ORDER BY 1
                    """).compactMap { $0["s"] as? String }
                #expect(statuses == ["\(harness.zone):x.bin:good", "\(harness.zone):y.bin:good", "\(harness.zone):z.bin:stale",
                                     "vault:x.bin:good", "vault:y.bin:good", "vault:z.bin:good"])

                // Each damage is announced on the bus.
                let messages = try await withThrowingTaskGroup(of: [ReplicaDamaged].self) { group in
                    group.addTask {
                        var messages: [ReplicaDamaged] = []
                        for await delivery in alerts.deliveries {
                            messages.append(try MessageCodec.decode(ReplicaDamaged.self, from: delivery.body, amqpType: delivery.properties.type))
                            delivery.ack()
                            if messages.count == 3 { break }
                        }
                        return messages
                    }
                    group.addTask { try await Task.sleep(for: .seconds(30)); return [] }
                    let first = try await group.next() ?? []
                    group.cancelAll()
                    return first
                }
                #expect(messages.map(\.problem).sorted() == ["mismatch", "mismatch", "missing"])
                #expect(messages.filter(\.repairable).count == 2)
            }

            let report = try await harness.cli("fixity", "report", "--json")
            let parsed = try JSONSerialization.jsonObject(with: Data(report.utf8)) as? [String: Any]
            #expect((parsed?["recentProblems"] as? [Any])?.count == 3)
            #expect(((parsed?["last24Hours"] as? [String: String])?["checks"]).flatMap(Int.init).map { $0 >= 6 } == true)

            // The service re-reads replicas on its own within its budget and repairs what it finds.
            var damaged = bytes["f/y.bin"]!
            damaged[100] ^= 0x10
            try Data(damaged).write(to: vaultPath("y.bin"))
            await harness.stopRetention()
            try await harness.startRetention(["FAIRWAY_FIXITY_BYTES_PER_SECOND": "2000000", "FAIRWAY_FIXITY_INTERVAL": "1s",
                                              "FAIRWAY_NOTICE_MAILBOX": scratch.appendingPathComponent("mbox").path])
            let expected = Data(bytes["f/y.bin"]!)
            let repaired = try await eventually(timeout: .seconds(30), every: .milliseconds(200)) {
                let found = try? await harness.count("SELECT count(*) FROM fixity_checks WHERE outcome = 'mismatch' AND physical_path LIKE '%/y.bin'")
                return found == 1 && (try? Data(contentsOf: vaultPath("y.bin"))) == expected
            }
            #expect(repaired, "\(harness.retention?.output.suffix(2000) ?? "")")
            // The service's own checks, in its documented metrics.
            let metrics = try await harness.metrics(of: "retention")
            #expect(metrics.contains(#"fairway_fixity_checks_total{outcome="mismatch"} 1"#) && metrics.contains("fairway_fixity_bytes_read_total "), "\(metrics.prefix(3000))")
        }
    }
}
