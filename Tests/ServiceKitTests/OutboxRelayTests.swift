import FairwayAMQP
import FairwayCatalog
import FairwayContracts
import FairwayServiceKit
import FairwayTestSupport
import Foundation
import PostgresNIO
import Testing

@Suite(.serialized) struct OutboxRelayTests {
    struct RelayDied: Error {}

    /// The relay dies after the broker confirmed but before the rows are marked sent: the next relay
    /// publishes the same messages again, with the same message_id, and the consumer applies them once.
    @Test func aRelayKilledBetweenPublishAndMarkSentRepublishesAndTheConsumerAppliesOnce() async throws {
        let database = try await TestDatabase.create()
        let broker = try TestBroker()
        try await database.withClient { client throws in
            try await CountingService.prepare(client)
            let service = CountingService(database: database, broker: broker, client: client)
            let producer = Catalog(client: client, service: "ingest", exchange: broker.names.exchange, logger: TestEnvironment.logger)
            let relayPublisher = broker.publisher(keys: [CountingService.key])
            let relay = OutboxRelay(client: client, publisher: relayPublisher, producer: "ingest", logger: TestEnvironment.logger)
            let spy = broker.consumer(service: "spy", keys: [CountingService.key])
            let envelopes = (0..<3).map { Envelope(correlationID: "acq-\($0)", payload: AcquisitionCompleted(zone: "scope-1", path: "run/\($0).tif")) }
            try await producer.transaction { transaction in
                for envelope in envelopes { transaction.emit(envelope) }
            }
            let seen = try await withRunningServices(service.services + [relayPublisher, spy]) { () throws in
                #expect(try await eventually { relayPublisher.status.isConnected })
                await #expect(throws: RelayDied.self) {
                    try await relay.relayBatch(afterPublish: { throw RelayDied() })
                }
                #expect(try await unsent(client) == 3, "the crash rolled back mark-sent")
                let second = try await relay.relayBatch()
                #expect(second == .init(published: 3, failed: 0))
                #expect(try await unsent(client) == 0)

                var deliveries: [String] = []
                for await delivery in spy.deliveries {
                    delivery.ack()
                    deliveries.append(delivery.properties.messageID ?? "")
                    if deliveries.count == 6 { break }
                }
                #expect(try await eventually { try await service.effects().rows == 3 })
                try await Task.sleep(for: .milliseconds(300))
                return deliveries
            }
            #expect(Dictionary(grouping: seen, by: { $0 }).mapValues(\.count) == Dictionary(uniqueKeysWithValues: envelopes.map { ($0.messageID.uuidString.lowercased(), 2) }),
                    "each message went out twice with the same message_id")
            #expect(try await service.effects() == (3, 3), "and was applied once")
        }
        await broker.cleanUp(services: ["test", "spy"])
        await database.drop()
    }

    /// Running as a service, the relay is woken by NOTIFY on commit and publishes with the full set of properties.
    @Test func theRunningRelayPublishesCommittedMessagesWithTheirProperties() async throws {
        let database = try await TestDatabase.create()
        let broker = try TestBroker()
        try await database.withClient { client throws in
            let publisher = broker.publisher(keys: ["qc.scored"])
            let consumer = broker.consumer(keys: ["qc.scored"])
            var configuration = OutboxRelay.Configuration()
            configuration.sweepInterval = .seconds(3600)   // only NOTIFY can wake it in time
            let relay = OutboxRelay(client: client, publisher: publisher, producer: "qc", configuration: configuration, logger: TestEnvironment.logger)
            let catalog = Catalog(client: client, service: "qc", exchange: broker.names.exchange, logger: TestEnvironment.logger)
            let envelope = Envelope(correlationID: "acq-9", traceparent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
                                    payload: QCScored(objectID: UUID(), verdict: .warn, reasons: ["saturated"]))
            let delivery = try await withRunningServices([publisher, consumer, relay]) { () throws in
                #expect(try await eventually { publisher.status.isConnected && consumer.status.isConnected })
                try await Task.sleep(for: .milliseconds(300))   // LISTEN is in place
                try await catalog.transaction { $0.emit(envelope) }
                var iterator = consumer.deliveries.makeAsyncIterator()
                let delivery = try #require(await iterator.next())
                delivery.ack()
                return delivery
            }
            #expect(delivery.properties.messageID == envelope.messageID.uuidString.lowercased())
            #expect(delivery.properties.type == "qc.scored")
            #expect(delivery.properties.correlationID == "acq-9")
            #expect(delivery.properties.contentType == "application/json")
            #expect(delivery.properties.appID == "qc")
            #expect(delivery.properties.persistent)
            #expect(delivery.properties.headers["traceparent"] == .string(envelope.traceparent!))
            #expect(try MessageCodec.decode(QCScored.self, from: delivery.body, amqpType: delivery.properties.type) == envelope.payload)
            #expect(try await unsent(client) == 0)
        }
        await broker.cleanUp()
        await database.drop()
    }

    func unsent(_ client: PostgresClient) async throws -> Int {
        for try await count in try await client.query("SELECT count(*) FROM outbox WHERE sent_at IS NULL").decode(Int.self) { return count }
        return -1
    }
}


func == (lhs: (rows: Int, distinct: Int), rhs: (Int, Int)) -> Bool { lhs.rows == rhs.0 && lhs.distinct == rhs.1 }
