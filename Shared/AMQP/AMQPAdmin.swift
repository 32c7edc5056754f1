import Foundation

/// Short administrative sessions on a connection of their own: declare, inspect, purge, delete.
/// Each call opens a connection on a dedicated thread (rabbitmq-c blocks), does its work and closes.
public struct AMQPAdmin: Sendable {
    public struct QueueState: Sendable, Equatable {
        /// Messages ready for delivery (not counting those delivered and unacknowledged).
        public var ready: Int
        public var consumers: Int
    }

    let configuration: AMQPConfiguration

    public init(configuration: AMQPConfiguration) { self.configuration = configuration }

    public func declare(_ topology: AMQPTopology) async throws(AMQPError) {
        try await session { connection throws(AMQPError) in try connection.declare(topology) }
    }

    public func queueState(_ name: String) async throws(AMQPError) -> QueueState {
        try await session { connection throws(AMQPError) in
            let (ready, consumers) = try connection.inspectQueue(name)
            return QueueState(ready: ready, consumers: consumers)
        }
    }

    public func purge(queue: String) async throws(AMQPError) {
        try await session { connection throws(AMQPError) in try connection.purgeQueue(queue) }
    }

    /// Deletes queues and exchanges; missing ones are not an error.
    public func delete(queues: [String] = [], exchanges: [String] = []) async throws(AMQPError) {
        for queue in queues { try await session { connection throws(AMQPError) in try connection.deleteQueue(queue) } }
        for exchange in exchanges { try await session { connection throws(AMQPError) in try connection.deleteExchange(exchange) } }
    }

    /// Up to `limit` messages of a queue, in order, without taking them: they go back to the queue
    /// (marked redelivered) when the session ends.
    public func peek(queue: String, limit: Int) async throws(AMQPError) -> [AMQPFetched] {
        try await session { connection throws(AMQPError) in
            var messages: [AMQPFetched] = []
            while messages.count < limit, let message = try connection.get(queue: queue) { messages.append(message) }
            return messages
        }
    }

    /// Moves messages out of `queue`: each one `select` answers for is published (with confirms,
    /// mandatory) and only then acknowledged, so a crash in between leaves it in both places, never
    /// in neither. Messages not selected stay. Returns the messages moved.
    public func move(from queue: String, limit: Int,
                     _ select: @escaping @Sendable (AMQPFetched) -> AMQPOutgoingMessage?) async throws(AMQPError) -> [AMQPFetched] {
        try await session { connection throws(AMQPError) in
            try connection.enablePublisherConfirms()
            var moved: [AMQPFetched] = []
            var sequence: UInt64 = 0
            var seen = 0
            while seen < limit, let message = try connection.get(queue: queue) {
                seen += 1
                guard let outgoing = select(message) else { continue }
                try connection.publish(outgoing)
                sequence += 1
                try Self.awaitConfirm(sequence, on: connection, routingKey: outgoing.routingKey)
                try connection.ack(message.deliveryTag)
                moved.append(message)
            }
            return moved
        }
    }

    /// Waits for the broker's confirm of publish number `sequence`; a return before it means no
    /// queue took the message.
    private static func awaitConfirm(_ sequence: UInt64, on connection: RabbitConnection, routingKey: String) throws(AMQPError) {
        var returned: (code: Int, text: String)?
        let deadline = ContinuousClock.now + .seconds(30)
        while ContinuousClock.now < deadline {
            switch try connection.readFrame(timeout: .seconds(1)) {
            case .returned(let value): returned = (value.replyCode, value.replyText)
            case .ack(let tag, let multiple) where tag == sequence || (multiple && tag >= sequence):
                if let returned { throw .unroutable(code: returned.code, text: "\(returned.text) (routing key '\(routingKey)')") }
                return
            case .nack(let tag, let multiple) where tag == sequence || (multiple && tag >= sequence):
                throw .nacked
            default: continue
            }
        }
        throw .timedOut("publisher confirm for '\(routingKey)'")
    }

    private func session<T: Sendable>(_ work: @escaping @Sendable (RabbitConnection) throws(AMQPError) -> T) async throws(AMQPError) -> T {
        let configuration = configuration
        let result = await withCheckedContinuation { (continuation: CheckedContinuation<Result<T, AMQPError>, Never>) in
            let thread = Thread {
                let connection = RabbitConnection()
                do throws(AMQPError) {
                    try connection.open(configuration)
                    let value = try work(connection)
                    connection.close()
                    continuation.resume(returning: .success(value))
                } catch {
                    connection.abandon()
                    continuation.resume(returning: .failure(error))
                }
            }
            thread.name = "amqp-admin"
            thread.start()
        }
        return try result.get()
    }
}
