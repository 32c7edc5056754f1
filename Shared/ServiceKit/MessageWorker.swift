public import FairwayAMQP
public import FairwayCatalog
public import FairwayContracts
import Foundation
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
    typealias Apply = @Sendable (AMQPDelivery, UUID, (any Sendable)?, CatalogTransaction) async throws -> Void
    typealias Prepare = @Sendable (AMQPDelivery, UUID) async throws -> any Sendable
    struct Route: Sendable {
        /// Slow work done before the transaction (a conversion), skipped for messages already consumed.
        var prepare: Prepare?
        var apply: Apply
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
        routes[Payload.routingKey.rawValue] = Route(prepare: nil) { delivery, messageID, _, transaction in
            try await handle(try Self.envelope(Payload.self, delivery, messageID), transaction)
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
            prepare: { delivery, messageID in try await prepare(try Self.envelope(Payload.self, delivery, messageID)) },
            apply: { delivery, messageID, prepared, transaction in
                guard let prepared = prepared as? Prepared else { throw PermanentFailure("internal: prepared value of the wrong type") }
                try await apply(try Self.envelope(Payload.self, delivery, messageID), prepared, transaction)
            }
        )
    }

    private static func envelope<Payload: FairwayMessage>(_: Payload.Type, _ delivery: AMQPDelivery, _ messageID: UUID) throws -> Envelope<Payload> {
        let payload = try MessageCodec.decode(Payload.self, from: delivery.body, amqpType: delivery.properties.type ?? delivery.routingKey)
        return Envelope(
            messageID: messageID, correlationID: delivery.properties.correlationID,
            traceparent: delivery.properties.headers["traceparent"]?.stringValue,
            occurredAt: delivery.properties.timestamp ?? Date(), payload: payload
        )
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

    public init(consumer: AMQPConsumer, publisher: AMQPPublisher, catalog: Catalog, routes: MessageRoutes,
                names: FairwayBrokerNames, configuration: Configuration = .init(), logger: Logger) {
        self.consumer = consumer; self.publisher = publisher; self.catalog = catalog; self.routes = routes
        self.names = names; self.configuration = configuration; self.logger = logger
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
            var prepared: (any Sendable)?
            if let prepare = route.prepare {
                if try await catalog.hasConsumed(messageID: messageID) {
                    logger.debug("duplicate delivery ignored", metadata: ["message_id": "\(messageID)"])
                    delivery.ack()
                    return
                }
                prepared = try await prepare(delivery, messageID)
            }
            let outcome = try await catalog.consumeOnce(messageID: messageID, routingKey: key) { [prepared] transaction in
                try await route.apply(delivery, messageID, prepared, transaction)
            }
            if case .duplicate = outcome {
                logger.debug("duplicate delivery ignored", metadata: ["message_id": "\(messageID)"])
            }
            delivery.ack()
            Counter(label: "fairway_messages_consumed_total", dimensions: [("key", key), ("outcome", "ok")]).increment()
            Timer(label: "fairway_message_processing_seconds", dimensions: [("key", key)], preferredDisplayUnit: .seconds)
                .record(duration: ContinuousClock.now - started)
        } catch {
            await fail(delivery, key: key, error: error)
        }
    }

    private func fail(_ delivery: AMQPDelivery, key: String, error: any Error) async {
        let permanent = error is PermanentFailure || error is ContractError
        let attempt = delivery.previousAttempts + 1
        let reason = "\(error)"
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
