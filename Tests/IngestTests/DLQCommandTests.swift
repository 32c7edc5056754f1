import FairwayTestSupport
import Foundation
import Testing

/// `fairway dlq` and the queues in `fairway status`, on a real dead letter: an acquisition event
/// for a landing zone that does not exist yet is dead-lettered by fairway-ingest with its error;
/// the operator sees it, reads it, declares the zone and replays it, and it is registered.
@Suite("fairway dlq and the queues in fairway status", .serialized) struct DLQCommandTests {
    func json(_ text: String) -> [String: Any] {
        (try? JSONSerialization.jsonObject(with: Data((text.split(separator: "\n").last { $0.hasPrefix("{") } ?? "").utf8))) as? [String: Any] ?? [:]
    }

    @Test("status counts the dead letter (exit 2); dlq list and show give its error and body; after the cause is fixed, replay sends it to ingest alone and it is registered; a poison message replayed fails again")
    func replayAfterFix() async throws {
        try await IngestHarness.with { ingest in
            let later = FileManager.default.temporaryDirectory.appendingPathComponent("fairway-later-\(UUID().uuidString.prefix(8))")
            try FileManager.default.createDirectory(at: later.appendingPathComponent("run"), withIntermediateDirectories: true)
            try Data("late image".utf8).write(to: later.appendingPathComponent("run/img.tif"))
            for text in [#"{"zone": "scope-late", "path": "run/img.tif", "investigation": "NUC", "study": "late", "assay": "a"}"#, "not json at all"] {
                let body = try AMQPEntryTests.bodyFile(text)
                let sent = try await AMQPEntryTests.pika([try TestEnvironment.amqpURL, ingest.broker.names.exchange, "acquisition.completed", body.path])
                #expect(sent.status == 0, "\(sent.output)")
            }
            let dlq = ingest.broker.names.deadLetterQueue("ingest")
            #expect(try await eventually(timeout: .seconds(30)) { (try? await ingest.broker.admin.queueState(dlq).ready) == 2 }, "\(ingest.serviceLog.suffix(3000))")

            // fairway status: the ingest queue with its consumer and two dead letters → attention.
            let status = try await ingest.cliResult(["status", "--json"])
            #expect(status.status == 2)
            let queues = (try JSONSerialization.jsonObject(with: Data(status.output.utf8)) as? [String: Any])?["queues"] as? [[String: Any]] ?? []
            let ingestQueue = queues.first { $0["service"] as? String == "ingest" } ?? [:]
            #expect(ingestQueue["deadLettered"] as? Int == 2 && (ingestQueue["consumers"] as? Int ?? 0) >= 1 && ingestQueue["ready"] as? Int == 0, "\(queues)")
            #expect(queues.first { $0["service"] as? String == "qc" }?["detail"] as? String == "not declared (the service has not run yet)")
            #expect(try await ingest.cliResult(["status"]).output.contains("2 dead-lettered (fairway dlq list --queue ingest)"))

            // dlq list: both, with their errors; the messages stay.
            let listed = json(try await ingest.cli("dlq", "list", "--queue", "ingest", "--json"))
            let messages = listed["messages"] as? [[String: Any]] ?? []
            #expect(messages.count == 2 && (listed["queues"] as? [[String: Any]])?.first?["messages"] as? Int == 2, "\(listed)")
            let late = try #require(messages.first { ($0["error"] as? String ?? "").contains("no landing zone") }, "\(messages)")
            let poison = try #require(messages.first { ($0["error"] as? String ?? "").contains("not a UTF-8 JSON object") }, "\(messages)")
            let lateID = try #require(late["messageID"] as? String)
            #expect(late["routingKey"] as? String == "acquisition.completed" && late["consumer"] as? String == "ingest")
            #expect(try await ingest.broker.admin.queueState(dlq).ready == 2, "listing takes nothing")
            let text = try await ingest.cli("dlq", "list")
            #expect(text.contains("\(dlq): 2 messages") && text.contains(lateID), "\(text)")

            // dlq show: the whole message.
            let shown = try await ingest.cli("dlq", "show", "--queue", "ingest", "--id", lateID)
            #expect(shown.contains("error: ") && shown.contains("no landing zone") && shown.contains(#""zone": "scope-late""#) && shown.contains("x-fairway-attempts"), "\(shown)")
            #expect(try await ingest.cliResult(["dlq", "show", "--id", "nope"]).status == 1)
            #expect(try await ingest.cliResult(["dlq", "replay", "--queue", "ingest"]).status == 64, "--id or --all")
            #expect(try await ingest.cliResult(["dlq", "list", "--queue", "../etc"]).status == 64)

            // The operator declares the zone, then replays that message only: ingest registers it.
            try await ingest.cli("zone", "add", "scope-late", "--path", later.path)
            let replayed = json(try await ingest.cli("dlq", "replay", "--queue", "ingest", "--id", lateID, "--json"))
            #expect((replayed["replayed"] as? [[String: String]])?.map { $0["messageID"] } == [lateID], "\(replayed)")
            let registered = try await ingest.waitForMessages(1)
            #expect(registered.first?.payload.logicalPath == "scope-late/run/img.tif")
            #expect(try await ingest.count("SELECT count(*)::int FROM acquisitions WHERE state = 'registered'") == 1)
            #expect(try await ingest.broker.admin.queueState(dlq).ready == 1, "the poison message stays")

            // Replaying the poison message: it fails again and is back, with its error; nothing else happens.
            let all = try await ingest.cliResult(["dlq", "replay", "--queue", "ingest", "--all"])
            #expect(all.status == 0 && all.output.contains("1 messages replayed"), "\(all.output)")
            #expect(try await eventually(timeout: .seconds(20)) { (try? await ingest.broker.admin.queueState(dlq).ready) == 1 })
            let again = json(try await ingest.cli("dlq", "list", "--queue", "ingest", "--json"))["messages"] as? [[String: Any]] ?? []
            #expect(again.count == 1 && again.first?["messageID"] as? String == poison["messageID"] as? String
                    && (again.first?["error"] as? String ?? "").contains("not a UTF-8 JSON object"), "\(again)")
            #expect(try await ingest.cliResult(["dlq", "replay", "--queue", "ingest", "--id", "nope"]).output.contains("no dead-lettered message matched"))
            #expect(ingest.service?.isRunning == true)
        }
    }
}
