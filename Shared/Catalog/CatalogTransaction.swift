public import FairwayContracts
public import Foundation
public import Logging
import NIOCore
public import PostgresNIO

/// A database transaction that can also queue messages: whatever the closure changes and the
/// messages it queues commit together, so a crash between the two cannot lose or invent a message.
public final class CatalogTransaction {
    public let connection: PostgresConnection
    public let logger: Logger
    private(set) var queued: [OutboxMessage] = []

    init(connection: PostgresConnection, logger: Logger) {
        self.connection = connection
        self.logger = logger
    }

    /// Queues a message to be published after commit, by this service's outbox relay.
    public func emit(_ message: OutboxMessage) { queued.append(message) }

    public func emit<Payload: FairwayMessage>(_ envelope: Envelope<Payload>) { emit(OutboxMessage(envelope)) }

    @discardableResult
    public func query(_ query: PostgresQuery, file: String = #fileID, line: Int = #line) async throws -> PostgresRowSequence {
        try await connection.query(query, logger: logger, file: file, line: line)
    }
}

/// What happened to a consumed message.
public enum ConsumeOutcome<Value: Sendable>: Sendable {
    case applied(Value)
    /// The inbox already had the message id: an earlier delivery took effect; nothing was done.
    case duplicate
}

/// The catalog as one service sees it: its PostgreSQL client, its name (the outbox producer and
/// inbox consumer) and the exchange its messages go to.
public struct Catalog: Sendable {
    public let client: PostgresClient
    public let service: String
    public let exchange: String
    public let logger: Logger

    public init(client: PostgresClient, service: String, exchange: String, logger: Logger) {
        self.client = client; self.service = service; self.exchange = exchange; self.logger = logger
    }

    /// Runs `change` in a transaction and writes the messages it emitted to the outbox in the same one.
    public func transaction<Value: Sendable>(
        isolation: isolated (any Actor)? = #isolation,
        _ change: (CatalogTransaction) async throws -> Value
    ) async throws -> Value {
        try await client.withConnection(isolation: isolation) { connection in
            try await connection.query("BEGIN", logger: logger)
            do {
                let transaction = CatalogTransaction(connection: connection, logger: logger)
                let value = try await change(transaction)
                try await Outbox.insert(transaction.queued, producer: service, exchange: exchange, on: connection, logger: logger)
                try await connection.query("COMMIT", logger: logger)
                return value
            } catch {
                _ = try? await connection.query("ROLLBACK", logger: logger)
                throw error
            }
        }
    }

    /// Whether this service already consumed message `messageID` (its effect is committed).
    public func hasConsumed(messageID: UUID) async throws -> Bool {
        let rows = try await client.query("SELECT 1 FROM inbox WHERE consumer = \(service) AND message_id = \(messageID)", logger: logger)
        for try await _ in rows { return true }
        return false
    }

    /// The effect of consuming message `messageID`, at most once: the inbox row, the change and the
    /// outgoing messages share one transaction. A redelivery returns `.duplicate` with no effect.
    public func consumeOnce<Value: Sendable>(
        messageID: UUID, routingKey: String,
        isolation: isolated (any Actor)? = #isolation,
        _ change: (CatalogTransaction) async throws -> Value
    ) async throws -> ConsumeOutcome<Value> {
        try await transaction(isolation: isolation) { transaction in
            // Concurrent redeliveries block here on the primary key until the first one commits.
            let inserted = try await transaction.query("""
                INSERT INTO inbox (consumer, message_id, routing_key) VALUES (\(service), \(messageID), \(routingKey))
                ON CONFLICT DO NOTHING RETURNING 1
                """)
            var rows = inserted.makeAsyncIterator()
            guard try await rows.next() != nil else { return .duplicate }
            while try await rows.next() != nil {}
            return .applied(try await change(transaction))
        }
    }
}

/// Rows of the `outbox` table.
public enum Outbox {
    static func insert(_ messages: [OutboxMessage], producer: String, exchange: String,
                       on connection: PostgresConnection, logger: Logger) async throws {
        guard !messages.isEmpty else { return }
        // One statement for the whole batch: arrays unnested server-side ('' stands for NULL).
        try await connection.query("""
            INSERT INTO outbox (message_id, producer, exchange, routing_key, correlation_id, traceparent, body)
            SELECT m, \(producer), \(exchange), k, NULLIF(c, ''), NULLIF(t, ''), b
            FROM unnest(\(messages.map(\.messageID)), \(messages.map(\.routingKey)),
                        \(messages.map { $0.correlationID ?? "" }), \(messages.map { $0.traceparent ?? "" }),
                        \(messages.map { ByteBuffer(bytes: $0.body) })) AS x(m, k, c, t, b)
            """, logger: logger)
    }
}
