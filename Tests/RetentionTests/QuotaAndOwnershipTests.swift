import FairwayRetention
import FairwayTestSupport
import Foundation
import Testing

@Suite("Quotas, groups, holds and ownership", .serialized)
struct QuotaAndOwnershipTests {
    @Test("a temporary group: quota notices at 80 and 100 %, ingest refused when full, expiry after groupLifetime; holds, cancel and ownership transfer")
    func temporaryGroup() async throws {
        try await IngestHarness.with { harness in
            let scratch = try TestEnvironment.temporaryFolder("fairway-quota")
            let mailbox = scratch.appendingPathComponent("notices.mbox")
            _ = try harness.write("ext/one/a.bin", IngestHarness.randomBytes(600_000))
            let first = try await harness.post(["zone": harness.zone, "path": "ext/one", "investigation": "ext", "study": "s", "assay": "one", "owner": "alice"])
            _ = try await harness.settled(first.body["id"] as? String ?? "")
            try await harness.cli("contact", "set", "alice", "alice@example.org")

            let policy = scratch.appendingPathComponent("group.yaml")
            try Data("quota: 1MB\ngroupLifetime: 30d\ngracePeriod: 1d\n".utf8).write(to: policy)
            #expect(try await harness.cli("retention", "policy", "set", "--investigation", "ext", "--file", policy.path).contains("quota: 1MB"))
            #expect(try await harness.count("SELECT quota_bytes FROM investigations WHERE name = 'ext'") == 1_000_000)
            let unknown = try await harness.cliResult(["retention", "policy", "set", "--investigation", "nobody", "--file", policy.path])
            #expect(unknown.status == 1 && unknown.output.contains("no investigation named nobody"))

            // 60 % used: no notice. 85 %: the 80 % notice. 115 % (accepted: under quota when posted): the 100 % notice.
            let lifecycle = Lifecycle(harness: harness, t0: Date(timeIntervalSince1970: (Date().timeIntervalSince1970 + 1).rounded(.up)))
            let environment = ["FAIRWAY_NOTICE_MAILBOX": mailbox.path]
            #expect((try await lifecycle.apply(environment: environment)["quotaNotices"] as? [String])?.isEmpty == true)
            for (assay, size, notice) in [("two", 250_000, "ext at 80 % (850000 of 1000000 bytes)"), ("three", 300_000, "ext at 100 % (1150000 of 1000000 bytes)")] {
                _ = try harness.write("ext/\(assay)/file.bin", IngestHarness.randomBytes(size))
                let posted = try await harness.post(["zone": harness.zone, "path": "ext/\(assay)", "investigation": "ext", "study": "s", "assay": assay, "owner": "alice"])
                #expect(posted.status == 202)
                _ = try await harness.settled(posted.body["id"] as? String ?? "")
                let report = try await lifecycle.apply(environment: environment)
                #expect(report["quotaNotices"] as? [String] == [notice], "\(report)")
            }
            let mail = try String(contentsOf: mailbox, encoding: .utf8)
            #expect(mail.contains("Subject: [Fairway] ext uses 85 % of its storage quota") && mail.contains("Subject: [Fairway] ext uses 115 % of its storage quota"))
            #expect(mail.contains("To: alice@example.org"))
            #expect((try await lifecycle.apply(environment: environment)["quotaNotices"] as? [String])?.isEmpty == true)

            // Full: the next acquisition is refused with the reason; nothing is recorded for it.
            _ = try harness.write("ext/four/d.bin", IngestHarness.randomBytes(1000))
            let refused = try await harness.post(["zone": harness.zone, "path": "ext/four", "investigation": "ext", "study": "s", "assay": "four"])
            #expect(refused.status == 507)
            #expect(refused.body["detail"] as? String == "investigation 'ext' is over its storage quota (1150000 of 1000000 bytes used); remove data or ask an operator to raise the quota")
            #expect(try await harness.count("SELECT count(*) FROM acquisitions WHERE path = 'ext/four'") == 0)

            // The group's data expires 30 days after the group was created: planned, except what is on hold.
            let ids = try await harness.rows("SELECT id::text AS id FROM objects ORDER BY logical_path").compactMap { $0["id"] as? String }
            #expect(ids.count == 3)
            try await harness.cli("retention", "hold", "--object", ids[0], "--reason", "disputed results")
            let planned = try await lifecycle.plan(days: 30)
            let deletions = planned.filter { $0["action"] as? String == "delete" }
            #expect(deletions.count == 2)
            #expect(deletions.allSatisfy { ($0["reason"] as? String)?.hasPrefix("expires on") == true })
            #expect(try await harness.cli("retention", "release", "--object", ids[0]).contains("hold released"))
            // A study on hold: nothing of it is planned for deletion; holds are named, counted once, released.
            #expect(try await harness.cli("retention", "hold", "--investigation", "ext", "--study", "s", "--reason", "audit").contains("hold placed"))
            #expect(try await harness.cli("retention", "hold", "--investigation", "ext", "--study", "s", "--reason", "audit").contains("already on hold"))
            #expect(try await lifecycle.plan(days: 30).filter { $0["action"] as? String == "delete" }.isEmpty)
            let unknownStudy = try await harness.cliResult(["retention", "hold", "--investigation", "ext", "--study", "nope", "--reason", "x"])
            #expect(unknownStudy.status == 1 && unknownStudy.output.contains("no such study"))
            #expect(try await harness.cliResult(["retention", "hold", "--object", "not-an-id", "--reason", "x"]).status == 64)
            #expect(try await harness.cli("retention", "release", "--investigation", "ext", "--study", "s").contains("hold released"))
            let scheduled = try await lifecycle.apply(days: 30, environment: environment)
            #expect((scheduled["scheduled"] as? [String: Int])?["delete"] == 3)

            // A scheduled deletion can be cancelled during its grace period.
            let actionID = try #require(try await harness.rows("SELECT id FROM retention_actions WHERE kind = 'delete' ORDER BY id LIMIT 1").first?["id"] as? Int)
            #expect(try await harness.cli("retention", "cancel", "\(actionID)", "--reason", "checked with the group").contains("cancelled"))
            #expect(try await harness.cliResult(["retention", "cancel", "\(actionID)", "--reason", "again"]).status == 1)
            let ran = try await lifecycle.apply(days: 32, environment: environment)
            #expect((ran["ran"] as? [[String: Any]])?.count == 2)
            #expect(try await harness.count("SELECT count(*) FROM objects WHERE state = 'expired'") == 2)
            #expect(try await harness.count("SELECT count(*) FROM audit_log WHERE action = 'retention.cancel'") == 1)

            // Alice leaves: her data and membership go to Bob, audited.
            let moved = try await harness.cli("owner", "transfer", "--from", "alice", "--to", "bob", "--investigation", "ext")
            #expect(moved.contains("3 object(s), 3 acquisition(s), 1 membership(s) transferred"), "\(moved)")
            #expect(try await harness.count("SELECT count(*) FROM objects WHERE owner = 'bob'") == 3)
            #expect(try await harness.count("SELECT count(*) FROM investigation_members WHERE username = 'alice'") == 0)
            #expect(try await harness.count("SELECT count(*) FROM audit_log WHERE action = 'owner.transfer' AND details->>'objects' = '3'") == 1)
            #expect(try await harness.cliResult(["owner", "transfer", "--from", "bob", "--to", "bob"]).status != 0)
        }
    }
}
