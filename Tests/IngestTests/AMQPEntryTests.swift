import FairwayAMQP
import FairwayContracts
import FairwayTestSupport
import Foundation
import Testing

/// `acquisition.completed` from any AMQP client is handled like a POST.
@Suite(.serialized) struct AMQPEntryTests {
    static func pika(_ arguments: [String]) async throws -> (status: Int32, output: String) {
        let python = TestEnvironment.python
        let script = TestEnvironment.repositoryRoot.appendingPathComponent("Tests/Support/pika_publish.py").path
        return try await TestEnvironment.run(python, [script] + arguments)
    }

    static func bodyFile(_ text: String) throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("pika-\(UUID()).json")
        try Data(text.utf8).write(to: url)
        return url
    }

    @Test func anAcquisitionPublishedByPikaIsRegisteredAndAnnounced() async throws {
        try await IngestHarness.with { ingest in
            let file = try ingest.write("2026-11-02_NUC/img002.tif", IngestHarness.randomBytes(70_000))
            // The body exactly as a watcher would POST it: no schema field.
            let body = try Self.bodyFile("""
                {"zone": "scope-1", "path": "2026-11-02_NUC/img002.tif", "owner": "amartin", "investigation": "NUC",
                 "study": "hela-screen", "assay": "plate-1", "instrument": "LSM980", "acquiredAt": "2026-11-02T09:14:00Z",
                 "metadata": {"Staining": "DAPI"}}
                """)
            // ...and no message_id property: a bare third-party client.
            let trace = "0af7651916cd43dd8448eb211c80319c"
            let result = try await Self.pika([try TestEnvironment.amqpURL, ingest.broker.names.exchange, "acquisition.completed", body.path, "--no-message-id",
                                              "--traceparent", "00-\(trace)-b7ad6b7169203331-01"])
            #expect(result.status == 0, "\(result.output)")

            let messages = try await ingest.waitForMessages(1)
            let message = try #require(messages.first)
            #expect(message.payload.checksum == (try await independentChecksum(file)))
            #expect(message.payload.logicalPath == "scope-1/2026-11-02_NUC/img002.tif")
            let source = try await ingest.database.withClient { client throws in
                var found = ""
                for try await (source, state, owner) in try await client.query("SELECT source, state, owner FROM acquisitions").decode((String, String, String).self) {
                    found = "\(source) \(state) \(owner)"
                }
                return found
            }
            #expect(source == "amqp registered amartin")
            // The AMQP header's trace is continued: on the acquisition and on object.registered.
            #expect(try await ingest.count("SELECT count(*)::int FROM outbox WHERE routing_key = 'object.registered' AND traceparent LIKE '00-\(trace)-%'") == 1)
            #expect(try await ingest.count("SELECT count(*)::int FROM annotations WHERE namespace = 'user' AND key = 'Staining'") == 1)
            try? FileManager.default.removeItem(at: body)
        }
    }

    @Test func aHostileEventIsDeadLetteredWithItsErrorAndTheServiceGoesOn() async throws {
        try await IngestHarness.with { ingest in
            try ingest.write("ok/img.tif", Array("fine".utf8))
            let dlq = ingest.broker.consumer(service: "ingest", keys: ["acquisition.completed"], queue: ingest.broker.names.deadLetterQueue("ingest"))
            let cases = [
                (#"{"zone": "scope-1", "path": "../../etc/passwd"}"#, "contains '..'"),
                (#"{"zone": "scope-1", "path": "/etc/passwd"}"#, "absolute"),
                (#"{"zone": "nowhere", "path": "ok/img.tif"}"#, "no landing zone"),
                (#"{"zone": "scope-1", "path": "ok/missing.tif"}"#, "does not exist"),
                (#"{"zone": "scope-1"}"#, "field 'path'"),
                ("not json at all", "not a UTF-8 JSON object"),
            ]
            for (text, _) in cases {
                let body = try Self.bodyFile(text)
                let result = try await Self.pika([try TestEnvironment.amqpURL, ingest.broker.names.exchange, "acquisition.completed", body.path])
                #expect(result.status == 0, "\(result.output)")
                try? FileManager.default.removeItem(at: body)
            }
            let dlqName = ingest.broker.names.deadLetterQueue("ingest")
            let parked = try await eventually(timeout: .seconds(30), every: .milliseconds(100)) {
                (try? await ingest.broker.admin.queueState(dlqName).ready) == cases.count
            }
            #expect(parked, "\(ingest.serviceLog.suffix(4000))")
            let errors = try await withRunningServices([dlq]) { () throws in
                var errors: [String] = []
                var iterator = dlq.deliveries.makeAsyncIterator()
                for _ in 0 ..< (parked ? cases.count : 0) {
                    guard let delivery = await iterator.next() else { break }
                    errors.append(delivery.properties.headers["x-fairway-error"]?.stringValue ?? "")
                    delivery.ack()
                }
                return errors
            }
            for (_, expected) in cases {
                #expect(errors.contains { $0.contains(expected) }, "an error mentioning \(expected) in \(errors)")
            }
            #expect(try await ingest.count("SELECT count(*)::int FROM acquisitions") == 0)
            // Still serving.
            let body = try Self.bodyFile(#"{"zone": "scope-1", "path": "ok/img.tif"}"#)
            _ = try await Self.pika([try TestEnvironment.amqpURL, ingest.broker.names.exchange, "acquisition.completed", body.path])
            #expect(try await ingest.waitForMessages(1).count == 1)
        }
    }

    @Test func theWatcherBrokerUserMayPublishOnlyAcquisitionCompleted() async throws {
        let watcherURL = try TestEnvironment.require("FAIRWAY_WATCHER_AMQP_URL")
        // The exchanges exist once any service has started; on a fresh broker, declare them (as admin).
        let admin = AMQPAdmin(configuration: AMQPConfiguration(endpoint: try AMQPEndpoint(url: try TestEnvironment.amqpURL), connectionName: "test admin"))
        try await admin.declare(FairwayBrokerNames().exchanges)
        let body = try Self.bodyFile(#"{"zone": "scope-1", "path": "x.tif"}"#)
        let allowed = try await Self.pika([watcherURL, "fairway", "acquisition.completed", body.path])
        // Exit 2 means published but unroutable (no ingest queue may be bound here): the broker accepted it.
        #expect(allowed.status == 0 || allowed.status == 2, "\(allowed.output)")
        let refused = try await Self.pika([watcherURL, "fairway", "object.registered", body.path])
        #expect(refused.status != 0 && refused.status != 2)
        #expect(refused.output.contains("ACCESS_REFUSED") || refused.output.contains("403"), "\(refused.output)")
        let otherExchange = try await Self.pika([watcherURL, "fairway.dlx", "acquisition.completed", body.path])
        #expect(otherExchange.status != 0 && otherExchange.status != 2)
        try? FileManager.default.removeItem(at: body)
    }
}
