public import FairwayAMQP
import FairwayContracts
public import Foundation
public import Logging
import Metrics
import NIOCore
public import PostgresNIO
public import ServiceLifecycle

/// Publishes this service's outbox rows with publisher confirms and marks them sent. Rows are
/// claimed with `FOR UPDATE SKIP LOCKED`, so replicas of a service share the work; a relay that dies
/// between publish and mark-sent leaves the rows unsent, and they are published again with the same
/// `message_id` (consumers deduplicate through their inbox). Woken by LISTEN/NOTIFY on commit, and by
/// a periodic sweep in case a notification was missed.
public final class OutboxRelay: Service, Sendable {
    public struct Configuration: Sendable {
        public var batchSize = 500
        public var sweepInterval: Duration = .seconds(5)
        public var retryDelay: Duration = .seconds(1)
        /// Sent rows are kept this long for inspection, then deleted.
        public var keepSent: Duration = .seconds(7 * 24 * 3600)
        public init() {}
    }

    public struct BatchResult: Sendable, Equatable {
        public var published: Int
        public var failed: Int
        public init(published: Int, failed: Int) { self.published = published; self.failed = failed }
    }

    static let notificationChannel = "fairway_outbox"

    private let client: PostgresClient
    private let publisher: AMQPPublisher
    private let producer: String
    private let configuration: Configuration
    private let logger: Logger
    private let publishedCounter: Counter
    private let failedCounter: Counter
    private let backlogGauge: Gauge

    public init(client: PostgresClient, publisher: AMQPPublisher, producer: String,
                configuration: Configuration = .init(), logger: Logger) {
        self.client = client
        self.publisher = publisher
        self.producer = producer
        self.configuration = configuration
        self.logger = logger
        publishedCounter = Counter(label: "fairway_outbox_published_total", dimensions: [("producer", producer)])
        failedCounter = Counter(label: "fairway_outbox_publish_failures_total", dimensions: [("producer", producer)])
        backlogGauge = Gauge(label: "fairway_outbox_backlog", dimensions: [("producer", producer)])
    }

    public func run() async throws {
        let (wakeups, wake) = AsyncStream<Void>.makeStream(bufferingPolicy: .bufferingNewest(1))
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await self.listen(wake) }
            group.addTask { await self.sweep(wake) }
            wake.yield()
            for await _ in wakeups.cancelOnGracefulShutdown() {
                await drain()
            }
            group.cancelAll()
        }
    }

    /// Publishes batches until the backlog is empty or publishing fails.
    private func drain() async {
        while !Task.isCancelled {
            do {
                let result = try await relayBatch()
                if result.failed > 0 {
                    try? await Task.sleep(for: configuration.retryDelay)
                    return
                }
                if result.published < configuration.batchSize { return }
            } catch {
                logger.warning("outbox relay batch failed", metadata: ["error": "\(String(reflecting: error))"])
                try? await Task.sleep(for: configuration.retryDelay)
                return
            }
        }
    }

    /// One claimed batch: select, publish with confirms, mark, commit. `afterPublish` runs between
    /// publishing and marking (tests use it to die at the worst moment).
    @discardableResult
    public func relayBatch(afterPublish: (@Sendable () async throws -> Void)? = nil) async throws -> BatchResult {
        do {
            return try await claimPublishAndMark(afterPublish: afterPublish)
        } catch let error as PostgresTransactionError {
            // Report what failed inside the transaction, not the wrapper.
            throw error.closureError ?? error.commitError ?? error.beginError ?? error
        }
    }

    private func claimPublishAndMark(afterPublish: (@Sendable () async throws -> Void)?) async throws -> BatchResult {
        try await client.withConnection { connection in
            try await connection.withTransaction(logger: logger) { transaction in
                var ids: [Int64] = []
                var messages: [AMQPOutgoingMessage] = []
                let rows = try await transaction.query("""
                    SELECT id, message_id, exchange, routing_key, correlation_id, traceparent, body, created_at
                    FROM outbox WHERE producer = \(producer) AND sent_at IS NULL
                    ORDER BY id LIMIT \(configuration.batchSize) FOR UPDATE SKIP LOCKED
                    """, logger: logger)
                for try await (id, messageID, exchange, routingKey, correlationID, traceparent, body, createdAt) in rows.decode(
                    (Int64, UUID, String, String, String?, String?, ByteBuffer, Date).self
                ) {
                    ids.append(id)
                    messages.append(AMQPOutgoingMessage(
                        exchange: exchange, routingKey: routingKey, body: Array(body.readableBytesView),
                        properties: FairwayMessageProperties.make(
                            messageID: messageID, routingKey: routingKey, correlationID: correlationID,
                            traceparent: traceparent, occurredAt: createdAt, producer: producer
                        ),
                        mandatory: RoutingKey(rawValue: routingKey)?.hasFairwayConsumer ?? true
                    ))
                }
                guard !messages.isEmpty else { return BatchResult(published: 0, failed: 0) }
                let results = await publisher.publish(messages)
                try await afterPublish?()

                var sent: [Int64] = []
                var failures: [String: [Int64]] = [:]
                for (id, result) in zip(ids, results) {
                    switch result {
                    case .success: sent.append(id)
                    case .failure(let error): failures["\(error)", default: []].append(id)
                    }
                }
                if !sent.isEmpty {
                    try await transaction.query(
                        "UPDATE outbox SET sent_at = clock_timestamp(), attempts = attempts + 1 WHERE id = ANY(\(sent))",
                        logger: logger)
                }
                for (error, failedIDs) in failures {
                    try await transaction.query(
                        "UPDATE outbox SET attempts = attempts + 1, last_error = \(error) WHERE id = ANY(\(failedIDs))",
                        logger: logger)
                    logger.warning("outbox messages not published", metadata: ["count": "\(failedIDs.count)", "error": "\(error)"])
                }
                publishedCounter.increment(by: sent.count)
                for (message, result) in zip(messages, results) {
                    if case .success = result {
                        Counter(label: "fairway_messages_published_total", dimensions: [("key", message.routingKey), ("producer", producer)]).increment()
                    }
                }
                failedCounter.increment(by: ids.count - sent.count)
                return BatchResult(published: sent.count, failed: ids.count - sent.count)
            }
        }
    }

    /// Wakes the relay on every commit that queued a message for this producer.
    private func listen(_ wake: AsyncStream<Void>.Continuation) async {
        while !Task.isCancelled {
            do {
                try await client.withConnection { connection in
                    try await connection.listen(on: Self.notificationChannel) { notifications in
                        wake.yield()   // anything queued while we were not listening
                        for try await notification in notifications where notification.payload == producer {
                            wake.yield()
                        }
                    }
                }
            } catch {
                if Task.isCancelled { return }
                logger.debug("outbox LISTEN interrupted", metadata: ["error": "\(error)"])
                try? await Task.sleep(for: configuration.retryDelay)
            }
        }
    }

    private func unsentCount() async throws -> Int {
        var unsent = 0
        for try await count in try await client.query("SELECT count(*)::int FROM outbox WHERE producer = \(producer) AND sent_at IS NULL",
                                                      logger: logger).decode(Int.self) { unsent = count }
        return unsent
    }

    /// The periodic sweep, and the pruning of rows sent long ago.
    private func sweep(_ wake: AsyncStream<Void>.Continuation) async {
        var lastPrune = ContinuousClock.now - .seconds(3600)
        while !Task.isCancelled {
            do { try await Task.sleep(for: configuration.sweepInterval) } catch { return }
            wake.yield()
            // What is waiting to be sent: rises when the broker is away, falls back to 0 after.
            if let count = try? await unsentCount() { backlogGauge.record(count) }
            if ContinuousClock.now - lastPrune >= .seconds(3600) {
                lastPrune = .now
                let seconds = Double(configuration.keepSent.components.seconds)
                _ = try? await client.query("""
                    DELETE FROM outbox WHERE producer = \(producer) AND sent_at < now() - make_interval(secs => \(seconds))
                    """, logger: logger)
            }
        }
    }
}

/// The AMQP properties of every Fairway message, as ARCHITECTURE.md lists them.
public enum FairwayMessageProperties {
    public static func make(messageID: UUID, routingKey: String, correlationID: String?, traceparent: String?,
                            occurredAt: Date, producer: String) -> AMQPProperties {
        AMQPProperties(
            messageID: messageID.uuidString.lowercased(), correlationID: correlationID, type: routingKey,
            contentType: MessageCodec.contentType, timestamp: occurredAt, appID: producer, persistent: true,
            headers: traceparent.map { ["traceparent": .string($0)] } ?? [:]
        )
    }
}
