import FairwayContracts
import FairwayTestSupport
import Foundation
import Testing

/// SIGKILL in the middle of a backfill loses nothing and duplicates nothing.
@Suite(.serialized) struct BackfillCrashTests {
    @Test func killingIngestMidBackfillEndsWithEveryFileRegisteredOnce() async throws {
        try await IngestHarness.with(started: false) { ingest in
            let total = 1000
            for index in 0 ..< total {
                try ingest.write("backfill/day-\(index / 100)/img\(index).tif", [UInt8(index & 0xFF), UInt8(index >> 8), 7, 7, 7])
            }
            try await ingest.start()   // declares its queue, so the published events have somewhere to go
            let published = try await ingest.cliResult(["ingest", ingest.landing.appendingPathComponent("backfill").path,
                                                        "--zone", ingest.zone, "--no-wait"])
            #expect(published.status == 0, "\(published.output)")

            // Let part of the work land, then kill the process outright.
            #expect(try await eventually(timeout: .seconds(60), every: .milliseconds(20)) {
                try await ingest.count("SELECT count(*)::int FROM acquisitions") >= 150
            })
            await ingest.kill()
            let atKill = try await ingest.count("SELECT count(*)::int FROM objects")
            #expect(atKill < total, "the kill happened mid-way (\(atKill) objects)")

            try await ingest.start()
            let done = try await eventually(timeout: .seconds(120), every: .milliseconds(200)) {
                try await ingest.count("SELECT count(*)::int FROM acquisitions WHERE state = 'registered'") == total
            }
            #expect(done, "\(ingest.serviceLog.suffix(3000))")
            #expect(try await ingest.count("SELECT count(*)::int FROM acquisitions") == total)
            #expect(try await ingest.count("SELECT count(*)::int FROM objects") == total)
            #expect(try await ingest.count("SELECT count(DISTINCT logical_path)::int FROM objects") == total)
            #expect(try await ingest.count("SELECT count(*)::int FROM replicas") == total)
            #expect(try await ingest.count("SELECT count(*)::int FROM outbox WHERE routing_key = 'object.registered'") == total)
            // Every message arrives; a relay killed between publish and mark-sent may send one again
            // with the same message_id, which consumers' inboxes absorb.
            let messages = try await ingest.waitForMessages(total, timeout: .seconds(60))
            #expect(Set(messages.compactMap(\.messageID)).count == total)
            #expect(Set(messages.map(\.payload.objectID)).count == total)
            #expect(try await eventually(timeout: .seconds(30)) {
                try await ingest.count("SELECT count(*)::int FROM outbox WHERE sent_at IS NULL") == 0
            })
        }
    }

    @Test func fairwayIngestFollowsTheTreeUntilEverythingIsRegistered() async throws {
        try await IngestHarness.with { ingest in
            for index in 0 ..< 30 { try ingest.write("tree/run-\(index % 3)/img\(index).tif", IngestHarness.randomBytes(2000 + index)) }
            let tree = ingest.landing.appendingPathComponent("tree").path
            let first = try await ingest.cliResult(["ingest", tree, "--zone", ingest.zone, "--timeout", "60s"])
            #expect(first.status == 0, "\(first.output)")
            #expect(first.output.contains("registered 30, failed 0 of 30 acquisitions"), "\(first.output)")
            #expect(first.output.contains("files/s"), "progress shows the rate")
            // Folders mode, again: same files, no new object, nothing re-announced.
            let again = try await ingest.cliResult(["ingest", tree, "--zone", ingest.zone, "--folders", "--timeout", "60s"])
            #expect(again.status == 0, "\(again.output)")
            #expect(again.output.contains("registered 3, failed 0 of 3 acquisitions"), "\(again.output)")
            #expect(try await ingest.count("SELECT count(*)::int FROM objects") == 30)
            try await Task.sleep(for: .milliseconds(500))
            #expect(await ingest.registeredMessages().count == 30)
            // A tree outside the zone is refused before anything is published.
            let outside = try await ingest.cliResult(["ingest", "/etc", "--zone", ingest.zone])
            #expect(outside.status == 1)
            #expect(outside.output.contains("is not inside zone"), "\(outside.output)")
        }
    }
}
