import FairwayAMQP
import FairwayContracts
import FairwayTestSupport
import Foundation
import Testing

/// Any AMQP client can produce `acquisition.completed`: pika (Python) publishes, the Swift kit consumes.
@Suite struct PikaInteropTests {
    @Test func anAcquisitionPublishedByPikaIsConsumedBySwift() async throws {
        let broker = try TestBroker()
        let consumer = broker.consumer(service: "ingest", keys: ["acquisition.completed"])
        let body = """
            {"schema": 1, "zone": "scope-1", "path": "2026-11-02_NUC/img001.tif", "owner": "amartin",
             "investigation": "NUC", "study": "hela-screen", "assay": "plate-1", "instrument": "LSM980",
             "acquiredAt": "2026-11-02T09:14:00Z", "metadata": {"Staining": "DAPI"}}
            """
        let bodyFile = FileManager.default.temporaryDirectory.appendingPathComponent("pika-\(UUID()).json")
        try Data(body.utf8).write(to: bodyFile)
        let python = URL(fileURLWithPath: ProcessInfo.processInfo.environment["FAIRWAY_PYTHON"] ?? "/usr/bin/env")
        let script = TestEnvironment.repositoryRoot.appendingPathComponent("Tests/Support/pika_publish.py").path
        let arguments = (python.path == "/usr/bin/env" ? ["python3"] : []) + [
            script, try TestEnvironment.amqpURL, broker.names.exchange, "acquisition.completed", bodyFile.path, "--correlation-id", "watcher-42",
        ]
        let (delivery, published) = try await withRunningServices([consumer]) { () throws in
            #expect(try await eventually { consumer.status.isConnected })
            let result = try await TestEnvironment.run(python, arguments)
            #expect(result.status == 0, "pika_publish.py: \(result.output)")
            var iterator = consumer.deliveries.makeAsyncIterator()
            let delivery = try #require(await iterator.next())
            delivery.ack()
            return (delivery, result.output.trimmingCharacters(in: .whitespacesAndNewlines))
        }
        try? FileManager.default.removeItem(at: bodyFile)
        #expect(delivery.properties.messageID == published)
        #expect(UUID(uuidString: published) != nil)
        #expect(delivery.properties.correlationID == "watcher-42")
        #expect(delivery.properties.type == "acquisition.completed")
        #expect(delivery.properties.persistent)
        #expect(delivery.properties.headers["traceparent"]?.stringValue?.hasPrefix("00-") == true)
        let acquisition = try MessageCodec.decode(AcquisitionCompleted.self, from: delivery.body, amqpType: delivery.properties.type)
        #expect(acquisition.zone == "scope-1")
        #expect(acquisition.path == "2026-11-02_NUC/img001.tif")
        #expect(acquisition.metadata == ["Staining": "DAPI"])
        #expect(acquisition.acquiredAt == ISO8601Timestamp.parse("2026-11-02T09:14:00Z"))
        await broker.cleanUp(services: ["ingest"])
    }
}
