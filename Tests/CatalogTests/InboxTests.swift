import FairwayCatalog
import FairwayContracts
import FairwayTestSupport
import Foundation
import NIOCore
import PostgresNIO
import Testing

private struct Boom: Error {}

@Suite struct InboxOutboxTests {
    @Test func aMessageConsumedTwiceTakesEffectOnceAndEmitsOnce() async throws {
        let database = try await TestDatabase.create()
        try await database.withClient { client throws in
            try await client.query("CREATE TABLE test_effects (message_id uuid NOT NULL)")
            let catalog = Catalog(client: client, service: "qc", exchange: "fairway", logger: TestEnvironment.logger)
            let messageID = UUID()
            let emitted = Envelope(correlationID: "acq-7", traceparent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
                                   payload: QCScored(objectID: UUID(), verdict: .pass, reasons: []))
            var outcomes: [Bool] = []
            for _ in 0..<2 {
                let outcome = try await catalog.consumeOnce(messageID: messageID, routingKey: "metadata.extracted") { transaction in
                    try await transaction.query("INSERT INTO test_effects VALUES (\(messageID))")
                    transaction.emit(emitted)
                    return true
                }
                if case .applied = outcome { outcomes.append(true) } else { outcomes.append(false) }
            }
            #expect(outcomes == [true, false])
            #expect(try await count(client, "SELECT count(*) FROM test_effects") == 1)
            #expect(try await count(client, "SELECT count(*) FROM inbox WHERE consumer = 'qc'") == 1)
            let rows = try await client.query("SELECT message_id, routing_key, correlation_id, traceparent, body, producer FROM outbox")
            var found = 0
            for try await (id, key, correlation, traceparent, body, producer) in rows.decode((UUID, String, String?, String?, ByteBuffer, String).self) {
                found += 1
                #expect(id == emitted.messageID)
                #expect(key == "qc.scored")
                #expect(correlation == "acq-7")
                #expect(traceparent == emitted.traceparent)
                #expect(producer == "qc")
                #expect(try MessageCodec.decode(QCScored.self, from: Array(body.readableBytesView), amqpType: "qc.scored") == emitted.payload)
            }
            #expect(found == 1)
        }
        await database.drop()
    }

    @Test func aFailedChangeLeavesNeitherInboxRowNorOutboxRow() async throws {
        let database = try await TestDatabase.create()
        try await database.withClient { client throws in
            let catalog = Catalog(client: client, service: "qc", exchange: "fairway", logger: TestEnvironment.logger)
            await #expect(throws: Boom.self) {
                _ = try await catalog.consumeOnce(messageID: UUID(), routingKey: "metadata.extracted") { transaction in
                    transaction.emit(Envelope(payload: QCScored(objectID: UUID(), verdict: .fail, reasons: [])))
                    throw Boom()
                }
            }
            #expect(try await count(client, "SELECT count(*) FROM inbox") == 0)
            #expect(try await count(client, "SELECT count(*) FROM outbox") == 0)
        }
        await database.drop()
    }

    func count(_ client: PostgresClient, _ sql: String) async throws -> Int {
        for try await value in try await client.query(PostgresQuery(unsafeSQL: sql)).decode(Int.self) { return value }
        return -1
    }
}
