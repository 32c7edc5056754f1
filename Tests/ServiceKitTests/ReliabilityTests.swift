import FairwayAMQP
import FairwayCatalog
import FairwayContracts
import FairwayServiceKit
import FairwayTestSupport
import Foundation
import PostgresNIO
import NIOConcurrencyHelpers
import ServiceLifecycle
import Testing

/// A consumer whose effect is a row per applied message, with no uniqueness of its own: only the
/// inbox stands between a redelivery and a duplicate row.
struct CountingService {
    let database: TestDatabase
    let broker: TestBroker
    let client: PostgresClient
    let publisher: AMQPPublisher
    let consumer: AMQPConsumer
    let worker: MessageWorker
    let catalog: Catalog

    static let key = RoutingKey.acquisitionCompleted.rawValue

    init(database: TestDatabase, broker: TestBroker, client: PostgresClient, prefetch: UInt16 = 64, batched: Bool = false,
         handler: (@Sendable (Envelope<AcquisitionCompleted>) throws -> Void)? = nil) {
        self.database = database
        self.broker = broker
        self.client = client
        publisher = broker.publisher(keys: [Self.key])
        consumer = broker.consumer(keys: [Self.key], prefetch: prefetch)
        catalog = Catalog(client: client, service: "test", exchange: broker.names.exchange, logger: TestEnvironment.logger)
        var routes = MessageRoutes()
        var configuration = MessageWorker.Configuration()
        if batched {
            // As a service with group commit records them: each message's handler runs when its batch is written.
            routes.onBatches(AcquisitionCompleted.self, prepare: { $0.payload.path }, apply: { items, transaction in
                for (envelope, _) in items { try handler?(envelope) }
                try await transaction.query("""
                    INSERT INTO test_effects (message_id, path)
                    SELECT * FROM unnest(\(items.map(\.0.messageID))::uuid[], \(items.map(\.1))::text[])
                    """)
            })
            configuration.concurrency = 2 * MessageRoutes.maxBatch
        } else {
            routes.on(AcquisitionCompleted.self) { envelope, transaction in
                try handler?(envelope)
                try await transaction.query("INSERT INTO test_effects (message_id, path) VALUES (\(envelope.messageID), \(envelope.payload.path))")
            }
        }
        configuration.retryBackoff = .milliseconds(10)
        worker = MessageWorker(consumer: consumer, publisher: publisher, catalog: catalog, routes: routes,
                               names: broker.names, configuration: configuration, logger: TestEnvironment.logger)
    }

    static func prepare(_ client: PostgresClient) async throws {
        // The transaction that wrote each effect, to see which were committed together.
        try await client.query("CREATE TABLE test_effects (message_id uuid NOT NULL, path text NOT NULL, tx bigint NOT NULL DEFAULT txid_current())")
    }

    var services: [any Service] { [publisher, consumer, worker] }

    func message(_ index: Int, id: UUID = UUID()) -> AMQPOutgoingMessage {
        let payload = AcquisitionCompleted(zone: "scope-1", path: "run/\(index).tif")
        return AMQPOutgoingMessage(
            exchange: broker.names.exchange, routingKey: Self.key, body: MessageCodec.encode(payload),
            properties: FairwayMessageProperties.make(messageID: id, routingKey: Self.key, correlationID: nil,
                                                      traceparent: nil, occurredAt: Date(), producer: "test")
        )
    }

    /// Publishes until every message is confirmed, re-publishing those that failed (at least once).
    func publishAll(_ messages: [AMQPOutgoingMessage]) async throws {
        var pending = messages
        let deadline = ContinuousClock.now + .seconds(120)
        while !pending.isEmpty {
            guard ContinuousClock.now < deadline else { throw TestSetupError("could not publish \(pending.count) messages") }
            var next: [AMQPOutgoingMessage] = []
            for chunk in stride(from: 0, to: pending.count, by: 500) {
                let slice = Array(pending[chunk..<min(chunk + 500, pending.count)])
                for (message, result) in zip(slice, await publisher.publish(slice)) {
                    if case .failure = result { next.append(message) }
                }
            }
            if !next.isEmpty { try await Task.sleep(for: .milliseconds(200)) }
            pending = next
        }
    }

    func effects() async throws -> (rows: Int, distinct: Int) {
        let rows = try await client.query("SELECT count(*), count(DISTINCT message_id) FROM test_effects")
        for try await (total, distinct) in rows.decode((Int, Int).self) { return (total, distinct) }
        return (0, 0)
    }
}

/// Faults from the broker's side: nothing is lost, nothing applies twice.
@Suite(.serialized) struct BrokerFaultTests {
    @Test func closingAllConnectionsMidStreamLosesAndDuplicatesNothing() async throws {
        try await runThroughFault(count: 3_000) {
            try await TestEnvironment.infra("rabbitmqctl", "close_all_connections", "-p", "fairway", "fairway fault test")
        }
    }

    @Test func restartingTheBrokerMidStreamLosesAndDuplicatesNothing() async throws {
        try await runThroughFault(count: 2_000) {
            try await TestEnvironment.infra("restart", "rabbitmq")
        }
    }

    private func runThroughFault(count: Int, fault: @escaping @Sendable () async throws -> Void) async throws {
        let database = try await TestDatabase.create()
        let broker = try TestBroker()
        try await database.withClient { client throws in
            try await CountingService.prepare(client)
            let service = CountingService(database: database, broker: broker, client: client)
            let connectsBefore = NIOLockedValueBox(0)
            try await withRunningServices(service.services) { () throws in
                #expect(try await eventually { service.consumer.status.isConnected && service.publisher.status.isConnected })
                connectsBefore.withLockedValue { $0 = service.consumer.status.connectCount }
                let messages = (0..<count).map { service.message($0) }
                let publishing = Task { try await service.publishAll(messages) }
                // Strike once a third has been applied, with publishing and consuming under way.
                #expect(try await eventually(timeout: .seconds(60)) { try await service.effects().rows >= count / 3 })
                try await fault()
                try await publishing.value
                #expect(try await eventually(timeout: .seconds(120), every: .milliseconds(200)) {
                    try await service.effects().distinct == count
                })
                try await Task.sleep(for: .milliseconds(500))   // room for a stray duplicate to show
            }
            let effects = try await service.effects()
            #expect(effects.rows == count, "every message applied exactly once")
            #expect(effects.distinct == count)
            #expect(service.consumer.status.connectCount > connectsBefore.withLockedValue { $0 }, "the consumer reconnected")
        }
        await broker.cleanUp()
        await database.drop()
    }
}

/// Bad messages end in the dead-letter queue with the reason; good ones keep flowing.
@Suite(.serialized) struct DeadLetterTests {
    @Test func rejectedMessagesLandInTheDeadLetterQueueWithTheirError() async throws {
        let database = try await TestDatabase.create()
        let broker = try TestBroker()
        try await database.withClient { client throws in
            try await CountingService.prepare(client)
            let service = CountingService(database: database, broker: broker, client: client) { envelope in
                if envelope.payload.path.hasSuffix("poison.tif") { throw PermanentFailure("cannot read poison.tif: not a TIFF") }
                if envelope.payload.path.hasSuffix("flaky.tif") { throw TestSetupError("database hiccup") }
            }
            let dlq = broker.consumer(keys: [CountingService.key], queue: broker.names.deadLetterQueue("test"))
            let dead = try await withRunningServices(service.services + [dlq]) { () throws in
                var malformed = service.message(1)
                malformed.body = Array(#"{"schema":1,"zone":"z","path":42}"#.utf8)
                var notAUUID = service.message(2)
                notAUUID.properties.messageID = "not-a-uuid"
                var future = service.message(3)
                future.body = Array(#"{"schema":9,"zone":"z","path":"p"}"#.utf8)
                var poison = service.message(4)
                poison.body = MessageCodec.encode(AcquisitionCompleted(zone: "z", path: "run/poison.tif"))
                var flaky = service.message(5)
                flaky.body = MessageCodec.encode(AcquisitionCompleted(zone: "z", path: "run/flaky.tif"))
                try await service.publishAll([malformed, notAUUID, future, poison, flaky, service.message(6)])

                var dead: [String: AMQPDelivery] = [:]
                for await delivery in dlq.deliveries {
                    delivery.ack()
                    dead[delivery.properties.messageID ?? "?"] = delivery
                    if dead.count == 5 { break }
                }
                #expect(try await eventually { try await service.effects().rows == 1 })
                return (dead, malformed.properties.messageID!, notAUUID.properties.messageID!, future.properties.messageID!,
                        poison.properties.messageID!, flaky.properties.messageID!)
            }
            let (letters, malformed, notAUUID, future, poison, flaky) = dead
            func error(_ id: String) -> String { letters[id]?.properties.headers["x-fairway-error"]?.stringValue ?? "<none>" }
            #expect(error(malformed).contains("field 'path'"))
            #expect(error(notAUUID).contains("message_id"))
            #expect(error(future).contains("schema version 9 is not supported"))
            #expect(error(poison) == "cannot read poison.tif: not a TIFF")
            #expect(error(flaky).contains("database hiccup"))
            #expect(letters[flaky]?.properties.headers["x-fairway-attempts"] == .int(5), "transient errors are retried up to the delivery limit")
            #expect(letters[poison]?.properties.headers["x-fairway-attempts"] == .int(1), "permanent errors are not retried")
            #expect(letters[poison]?.properties.headers["x-fairway-original-routing-key"] == .string(CountingService.key))
            #expect(letters[poison]?.body == MessageCodec.encode(AcquisitionCompleted(zone: "z", path: "run/poison.tif")), "the body is kept as sent")
        }
        await broker.cleanUp()
        await database.drop()
    }
}

/// Group commit (`MessageRoutes.onBatches`): messages ready together share a transaction; a message
/// that fails its batch is recorded again alone, so it alone is retried or dead-lettered and the
/// others keep their effect, once each.
@Suite(.serialized) struct GroupCommitTests {
    @Test func batchesShareTransactionsAndAPoisonMessageFailsAlone() async throws {
        let database = try await TestDatabase.create()
        let broker = try TestBroker()
        try await database.withClient { client throws in
            try await CountingService.prepare(client)
            let service = CountingService(database: database, broker: broker, client: client, prefetch: 256, batched: true) { envelope in
                if envelope.payload.path.hasSuffix("poison.tif") { throw PermanentFailure("cannot record poison.tif") }
            }
            let dlq = broker.consumer(keys: [CountingService.key], queue: broker.names.deadLetterQueue("test"))
            let (dead, effects, transactions) = try await withRunningServices(service.services + [dlq]) { () throws in
                var messages = (0 ..< 400).map { service.message($0) }
                var poison = service.message(400)
                poison.body = MessageCodec.encode(AcquisitionCompleted(zone: "z", path: "run/poison.tif"))
                messages.insert(poison, at: 200)
                // A message delivered twice (a producer's retry): one effect.
                messages.append(messages[10])
                try await service.publishAll(messages)
                var dead: AMQPDelivery?
                for await delivery in dlq.deliveries {
                    delivery.ack()
                    dead = delivery
                    break
                }
                #expect(try await eventually { try await service.effects().rows == 400 })
                try await Task.sleep(for: .milliseconds(300))
                var transactions = 0
                for try await count in try await client.query("SELECT count(DISTINCT tx)::int FROM test_effects").decode(Int.self) { transactions = count }
                return (dead, try await service.effects(), transactions)
            }
            #expect(effects.rows == 400 && effects.distinct == 400, "every good message once, the duplicate ignored: \(effects)")
            #expect(dead?.properties.headers["x-fairway-error"]?.stringValue == "cannot record poison.tif")
            #expect(dead?.properties.headers["x-fairway-attempts"] == .int(1))
            #expect(transactions < 200, "400 effects in \(transactions) transactions: messages were grouped")
        }
        await broker.cleanUp()
        await database.drop()
    }
}
