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
