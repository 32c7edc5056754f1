public import FairwayAMQP
public import FairwayCatalog
public import FairwayContracts
public import Foundation
public import Logging
import Metrics
public import ServiceLifecycle

/// An error that retrying cannot fix (bad input, a missing file): the message goes straight to the
/// dead-letter queue with this text.
public struct PermanentFailure: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// The messages a service consumes, by routing key, and what it does with each inside the catalog
/// transaction that also records the message in the inbox.
public struct MessageRoutes: Sendable {
    typealias Apply = @Sendable (InboundMessage, (any Sendable)?, CatalogTransaction) async throws -> Void
    typealias Prepare = @Sendable (InboundMessage) async throws -> any Sendable
    typealias ApplyBatch = @Sendable ([PreparedDelivery], CatalogTransaction) async throws -> Void
    struct Route: Sendable {
        /// Slow work done before the transaction (a conversion), skipped for messages already consumed.
        var prepare: Prepare?
        var apply: Apply
        /// Several prepared messages recorded in one transaction (group commit), when the route allows it.
        var applyBatch: ApplyBatch?
    }
    var routes: [String: Route] = [:]
    /// Keys whose producers may be outside Fairway and may omit `message_id`.
    var external: Set<String> = []

    public init() {}

    public var routingKeys: [String] { routes.keys.sorted() }

    public mutating func on<Payload: FairwayMessage>(
        _ type: Payload.Type, _ handle: @escaping @Sendable (Envelope<Payload>, CatalogTransaction) async throws -> Void
    ) {
        if Payload.acceptsExternalProducers { external.insert(Payload.routingKey.rawValue) }
        routes[Payload.routingKey.rawValue] = Route(prepare: nil) { message, _, transaction in
            try await handle(try Self.envelope(Payload.self, message), transaction)
        }
    }

    /// A message whose effect needs slow work first (minutes of conversion): `prepare` runs outside
    /// any transaction and must be repeatable (a redelivery after a crash runs it again); `apply`
    /// records its result inside the inbox transaction. A message already consumed skips both.
    public mutating func on<Payload: FairwayMessage, Prepared: Sendable>(
        _ type: Payload.Type,
        prepare: @escaping @Sendable (Envelope<Payload>) async throws -> Prepared,
        apply: @escaping @Sendable (Envelope<Payload>, Prepared, CatalogTransaction) async throws -> Void
    ) {
        if Payload.acceptsExternalProducers { external.insert(Payload.routingKey.rawValue) }
        routes[Payload.routingKey.rawValue] = Route(
            prepare: { message in try await prepare(try Self.envelope(Payload.self, message)) },
            apply: { message, prepared, transaction in
                guard let prepared = prepared as? Prepared else { throw PermanentFailure("internal: prepared value of the wrong type") }
                try await apply(try Self.envelope(Payload.self, message), prepared, transaction)
            }
        )
    }

    /// Messages whose effects are cheap next to a transaction's cost (a few rows each): `prepare`
    /// runs per message outside any transaction as above; the prepared messages ready at the same
    /// time (up to `MessageRoutes.maxBatch`) are then recorded together, inbox rows included, in one
    /// transaction. Should that transaction fail, each message is recorded again on its own, so one
    /// bad message is retried or dead-lettered alone.
    public mutating func onBatches<Payload: FairwayMessage, Prepared: Sendable>(
        _ type: Payload.Type,
        prepare: @escaping @Sendable (Envelope<Payload>) async throws -> Prepared,
        apply: @escaping @Sendable ([(Envelope<Payload>, Prepared)], CatalogTransaction) async throws -> Void
    ) {
        if Payload.acceptsExternalProducers { external.insert(Payload.routingKey.rawValue) }
        let applyBatch: ApplyBatch = { items, transaction in
            var batch: [(Envelope<Payload>, Prepared)] = []
            for item in items {
                guard let prepared = item.prepared as? Prepared else { throw PermanentFailure("internal: prepared value of the wrong type") }
                batch.append((try Self.envelope(Payload.self, item.message), prepared))
            }
            try await apply(batch, transaction)
        }
        routes[Payload.routingKey.rawValue] = Route(
            prepare: { message in try await prepare(try Self.envelope(Payload.self, message)) },
            apply: { message, prepared, transaction in
                try await applyBatch([PreparedDelivery(message: message, prepared: prepared)], transaction)
            },
            applyBatch: applyBatch
        )
    }

    /// The most messages recorded in one transaction by a batched route.
    public static let maxBatch = 64

    /// Whether some route records messages in batches (the worker then keeps more of them in flight).
    public var batches: Bool { routes.values.contains { $0.applyBatch != nil } }

    private static func envelope<Payload: FairwayMessage>(_: Payload.Type, _ message: InboundMessage) throws -> Envelope<Payload> {
        let delivery = message.delivery
        let payload = try MessageCodec.decode(Payload.self, from: delivery.body, amqpType: delivery.properties.type ?? delivery.routingKey)
        var envelope = Envelope(
            messageID: message.messageID, correlationID: delivery.properties.correlationID,
            traceparent: delivery.properties.headers["traceparent"]?.stringValue,
            occurredAt: delivery.properties.timestamp ?? Date(), payload: payload
        )
        envelope.hop = message.hop
        return envelope
    }
}

/// Takes deliveries from a consumer and applies each at most once through the inbox. Failures are
/// retried with back-off up to the delivery limit; permanent ones, and the last retry, go to the
/// service's dead-letter queue carrying the error (`x-fairway-error`), published with confirms
/// before the original is acknowledged, so nothing is lost on the way.
public final class MessageWorker: Service, Sendable {
    public struct Configuration: Sendable {
        public var concurrency = 8
        public var deliveryLimit = 5
        public var retryBackoff: Duration = .milliseconds(200)
        public init() {}
    }

    private let consumer: AMQPConsumer
    private let publisher: AMQPPublisher
    private let catalog: Catalog
    private let routes: MessageRoutes
    private let names: FairwayBrokerNames
    private let configuration: Configuration
    private let logger: Logger

    private let committers: [String: GroupCommit<PreparedDelivery>]

    public init(consumer: AMQPConsumer, publisher: AMQPPublisher, catalog: Catalog, routes: MessageRoutes,
                names: FairwayBrokerNames, configuration: Configuration = .init(), logger: Logger) {
        self.consumer = consumer; self.publisher = publisher; self.catalog = catalog; self.routes = routes
        self.names = names; self.configuration = configuration; self.logger = logger
        var committers: [String: GroupCommit<PreparedDelivery>] = [:]
        for (key, route) in routes.routes {
            if let apply = route.applyBatch { committers[key] = GroupCommit(catalog: catalog, routingKey: key, messageID: \.messageID, apply: apply) }
        }
        self.committers = committers
    }

    public func run() async throws {
        await withTaskGroup(of: Void.self) { group in
            var running = 0
            for await delivery in consumer.deliveries.cancelOnGracefulShutdown() {
                if running >= configuration.concurrency {
                    await group.next()
                    running -= 1
                }
                running += 1
                group.addTask { await self.process(delivery) }
            }
            // In-flight messages finish and are settled before the worker stops.
        }
    }

    func process(_ delivery: AMQPDelivery) async {
        let key = delivery.properties.type ?? delivery.routingKey
        var attributes = ["messaging.system": "rabbitmq", "messaging.operation.type": "process",
                          "messaging.destination.name": names.queue(catalog.service), "messaging.rabbitmq.destination.routing_key": key]
        attributes["messaging.message.id"] = delivery.properties.messageID
        attributes["messaging.message.conversation_id"] = delivery.properties.correlationID
        // One span per message, in the trace its traceparent continues; messages it causes are its children.
        await TraceHop.span("process \(key)", kind: .consumer, continuing: delivery.properties.headers["traceparent"]?.stringValue,
                            attributes: attributes) { hop in
            // Every line logged while handling the message names its acquisition and trace.
            var context: Logger.Metadata = ["key": "\(key)", "trace_id": "\(hop.traceparent.traceID)", "span_id": "\(hop.traceparent.parentID)"]
            if let correlation = delivery.properties.correlationID { context["correlation_id"] = "\(correlation)" }
            if let id = delivery.properties.messageID { context["message_id"] = "\(id)" }
            await LogContext.$metadata.withValue(context) { await handle(delivery, hop: hop) }
        }
    }

    private func handle(_ delivery: AMQPDelivery, hop: TraceHop) async {
        let started = ContinuousClock.now
        let key = delivery.properties.type ?? delivery.routingKey
        do {
            let messageID: UUID
            if let id = delivery.properties.messageID, let parsed = UUID(uuidString: id) {
                messageID = parsed
            } else if delivery.properties.messageID == nil, routes.external.contains(key) {
                // A third-party client sent no id: nothing to deduplicate on, and the effect of these
                // messages is idempotent by itself (an acquisition is keyed by zone and path).
                messageID = UUID()
            } else {
                throw PermanentFailure("message_id property is missing or not a UUID: '\(delivery.properties.messageID?.prefix(64) ?? "")'")
            }
            guard let route = routes.routes[key] else {
                throw PermanentFailure("no handler for message type '\(key.prefix(64))' in \(catalog.service)")
            }
            let message = InboundMessage(delivery: delivery, messageID: messageID, hop: hop.traceparent)
            var prepared: (any Sendable)?
            if let batch = route.applyBatch, let prepare = route.prepare, let committer = committers[key] {
                // No inbox lookup first: batched routes prepare cheaply, and the batch's inbox
                // insert turns a redelivery into no effect anyway.
                let item = PreparedDelivery(message: message, prepared: try await prepare(message))
                do {
                    try await committer.commit(item)
                } catch {
                    // The batch failed as a whole: this message alone, with its own retries.
                    logger.debug("batch not recorded; recording the message alone", metadata: ["error": "\(error)"])
                    _ = try await catalog.consumeOnce(messageID: messageID, routingKey: key) { transaction in
                        try await batch([item], transaction)
                    }
                }
                delivery.ack()
                Counter(label: "fairway_messages_consumed_total", dimensions: [("key", key), ("outcome", "ok")]).increment()
                Timer(label: "fairway_message_processing_seconds", dimensions: [("key", key)], preferredDisplayUnit: .seconds)
                    .record(duration: ContinuousClock.now - started)
                return
            }
            if let prepare = route.prepare {
                if try await catalog.hasConsumed(messageID: messageID) {
                    logger.debug("duplicate delivery ignored", metadata: ["message_id": "\(messageID)"])
                    delivery.ack()
                    return
                }
                prepared = try await prepare(message)
            }
            let outcome = try await catalog.consumeOnce(messageID: messageID, routingKey: key) { [prepared] transaction in
                try await route.apply(message, prepared, transaction)
            }
            if case .duplicate = outcome {
                logger.debug("duplicate delivery ignored", metadata: ["message_id": "\(messageID)"])
            }
            delivery.ack()
            Counter(label: "fairway_messages_consumed_total", dimensions: [("key", key), ("outcome", "ok")]).increment()
            Timer(label: "fairway_message_processing_seconds", dimensions: [("key", key)], preferredDisplayUnit: .seconds)
                .record(duration: ContinuousClock.now - started)
        } catch {
            await fail(delivery, key: key, error: error, hop: hop)
        }
    }

    private func fail(_ delivery: AMQPDelivery, key: String, error: any Error, hop: TraceHop) async {
        let permanent = error is PermanentFailure || error is ContractError
        let attempt = delivery.previousAttempts + 1
        let reason = "\(error)"
        hop.failed(error, final: permanent || attempt >= configuration.deliveryLimit)
        if !permanent && attempt < configuration.deliveryLimit {
            logger.warning("message failed, will retry", metadata: ["key": "\(key)", "attempt": "\(attempt)", "error": "\(reason)"])
            try? await Task.sleep(for: configuration.retryBackoff * Double(1 << min(attempt - 1, 6)))
            delivery.nack(requeue: true)
            Counter(label: "fairway_messages_consumed_total", dimensions: [("key", key), ("outcome", "retried")]).increment()
            return
        }
        logger.error("message dead-lettered", metadata: ["key": "\(key)", "attempt": "\(attempt)", "error": "\(reason)"])
        var properties = delivery.properties
        properties.headers["x-fairway-error"] = .string(String(reason.prefix(4000)))
        properties.headers["x-fairway-consumer"] = .string(catalog.service)
        properties.headers["x-fairway-original-routing-key"] = .string(delivery.routingKey)
        properties.headers["x-fairway-attempts"] = .int(Int64(attempt))
        properties.headers["x-fairway-failed-at"] = .string(ISO8601Timestamp.format(Date()))
        let queue = names.queue(catalog.service)
        do {
            try await publisher.publish(AMQPOutgoingMessage(
                exchange: names.deadLetterExchange, routingKey: queue, body: delivery.body, properties: properties
            ))
            delivery.ack()
            Counter(label: "fairway_messages_consumed_total", dimensions: [("key", key), ("outcome", "dead-lettered")]).increment()
        } catch {
            // Could not park it with its error: leave it on the queue rather than lose it.
            logger.error("dead-lettering failed; message requeued", metadata: ["error": "\(error)"])
            try? await Task.sleep(for: configuration.retryBackoff)
            delivery.nack(requeue: true)
        }
    }
}

/// A delivery with its idempotency key and the span handling it.
struct InboundMessage: Sendable {
    let delivery: AMQPDelivery
    let messageID: UUID
    let hop: TraceParent
}

/// A delivery whose slow part is done, waiting to be recorded.
struct PreparedDelivery: Sendable {
    let message: InboundMessage
    let prepared: (any Sendable)?
    var messageID: UUID { message.messageID }
}

/// Group commit: items prepared while a transaction is running wait for the next one, which
/// records them all with their inbox rows (an item whose message is already in the inbox has no
/// effect). One per batched route in the worker; benchmarks drive it directly.
public actor GroupCommit<Item: Sendable> {
    public typealias Apply = @Sendable ([Item], CatalogTransaction) async throws -> Void
    private let catalog: Catalog
    private let routingKey: String
    private let messageID: @Sendable (Item) -> UUID
    private let apply: Apply
    private var waiting: [(item: Item, done: CheckedContinuation<Void, any Error>)] = []
    /// Transactions under way. Two overlap: one commits while the next is written.
    private var committing = 0
    private static var maxCommitting: Int { 2 }

    public init(catalog: Catalog, routingKey: String, messageID: @escaping @Sendable (Item) -> UUID, apply: @escaping Apply) {
        self.catalog = catalog; self.routingKey = routingKey; self.messageID = messageID; self.apply = apply
    }

    /// Returns once the item's effect is committed (or was already); throws when its batch failed.
    public func commit(_ item: Item) async throws {
        try await withCheckedThrowingContinuation { done in
            waiting.append((item, done))
            if committing < Self.maxCommitting {
                committing += 1
                Task { await self.drain() }
            }
        }
    }

    private func drain() async {
        while !waiting.isEmpty {
            let batch = Array(waiting.prefix(MessageRoutes.maxBatch))
            waiting.removeFirst(batch.count)
            do {
                try await record(batch.map(\.item))
                for entry in batch { entry.done.resume() }
            } catch {
                for entry in batch { entry.done.resume(throwing: error) }
            }
        }
        committing -= 1
    }

    private func record(_ items: [Item]) async throws {
        let (catalog, routingKey, apply, messageID) = (catalog, routingKey, apply, messageID)
        try await catalog.transaction { transaction in
            var fresh = Set<UUID>()
            let ids = items.map(messageID)
            for try await id in try await transaction.query("""
                INSERT INTO inbox (consumer, message_id, routing_key) SELECT \(catalog.service), id, \(routingKey) FROM unnest(\(ids)::uuid[]) AS m(id)
                ON CONFLICT DO NOTHING RETURNING message_id
                """).decode(UUID.self) { fresh.insert(id) }
            // Two deliveries of one message in the same batch: the first one counts.
            var seen = Set<UUID>()
            let effective = items.filter { fresh.contains(messageID($0)) && seen.insert(messageID($0)).inserted }
            if !effective.isEmpty { try await apply(effective, transaction) }
        }
    }
}
