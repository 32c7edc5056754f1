import NIOConcurrencyHelpers

/// Consuming with manual acknowledgements: `basic.qos` bounds the deliveries in flight, frames are
/// assembled into deliveries, and settlements from the application are sent by the owner thread.
final class ConsumerWorkload: ConnectionWorkload, @unchecked Sendable {
    enum Settlement: Sendable {
        case ack
        case nack(requeue: Bool)
        case reject(requeue: Bool)
    }

    private struct Shared {
        var settlements: [(DeliveryKey, Settlement)] = []
        /// Deliveries the application took from the sequence and has not settled yet.
        var taken: Set<DeliveryKey> = []
        var connection: UInt64 = 0
    }

    private struct Assembly {
        var deliver: Frame.Deliver
        var properties = AMQPProperties()
        var bodySize: UInt64 = 0
        var body: [UInt8] = []
        var headerSeen = false
    }

    private let shared = NIOLockedValueBox(Shared())
    private let continuation: AsyncStream<AMQPDelivery>.Continuation
    let deliveries: AsyncStream<AMQPDelivery>
    private let queue: String
    private let prefetch: UInt16

    // Owner thread only.
    private var connectionNumber: UInt64 = 0
    private var consumerTag: String?
    private var assembly: Assembly?

    init(queue: String, prefetch: UInt16) {
        self.queue = queue
        self.prefetch = max(1, prefetch)
        (deliveries, continuation) = AsyncStream.makeStream(of: AMQPDelivery.self)
    }

    // MARK: Any thread

    func settle(_ key: DeliveryKey, _ settlement: Settlement) {
        shared.withLockedValue { state in
            guard state.taken.remove(key) != nil || key.connection == state.connection else { return }
            state.settlements.append((key, settlement))
        }
        wake?()
    }

    func markTaken(_ key: DeliveryKey) {
        shared.withLockedValue { state in
            if key.connection == state.connection { state.taken.insert(key) }
        }
    }

    /// Set by the consumer so settlements wake the owner thread.
    nonisolated(unsafe) var wake: (@Sendable () -> Void)?

    // MARK: Owner thread

    func attach(_ connection: RabbitConnection) throws(AMQPError) {
        connectionNumber += 1
        let number = connectionNumber
        shared.withLockedValue { $0 = Shared(settlements: [], taken: [], connection: number) }
        assembly = nil
        try connection.setPrefetch(prefetch)
        consumerTag = try connection.consume(queue: queue)
    }

    func flush(_ connection: RabbitConnection) throws(AMQPError) {
        let settlements = shared.withLockedValue { state -> [(DeliveryKey, Settlement)] in
            defer { state.settlements.removeAll(keepingCapacity: true) }
            return state.settlements
        }
        for (key, settlement) in settlements where key.connection == connectionNumber {
            switch settlement {
            case .ack: try connection.ack(key.tag)
            case .nack(let requeue): try connection.nack(key.tag, requeue: requeue)
            case .reject(let requeue): try connection.reject(key.tag, requeue: requeue)
            }
        }
    }

    func handle(_ frame: Frame, on connection: RabbitConnection) throws(AMQPError) {
        switch frame {
        case .deliver(let deliver):
            assembly = Assembly(deliver: deliver)
        case .contentHeader(let size, let properties):
            guard var current = assembly else { return }
            current.properties = properties
            current.bodySize = size
            current.headerSeen = true
            current.body.reserveCapacity(Int(min(size, 64 << 20)))
            assembly = current
            if size == 0 { complete() }
        case .contentBody(let bytes):
            guard assembly != nil else { return }
            assembly!.body.append(contentsOf: bytes)
            if UInt64(assembly!.body.count) >= assembly!.bodySize { complete() }
        case .consumerCancelled(let tag):
            // The queue was deleted or the node holding it went away: reconnecting re-declares it.
            throw .closedByBroker(code: 0, text: "consumer \(tag) on '\(queue)' was cancelled by the broker")
        default:
            break
        }
    }

    private func complete() {
        guard let done = assembly, done.headerSeen else { return }
        assembly = nil
        continuation.yield(AMQPDelivery(
            exchange: done.deliver.exchange, routingKey: done.deliver.routingKey,
            redelivered: done.deliver.redelivered, body: done.body, properties: done.properties,
            key: DeliveryKey(connection: connectionNumber, tag: done.deliver.deliveryTag), settler: self
        ))
    }

    func detach(reason: AMQPError) {
        // Unacknowledged deliveries go back to the queue with the connection; forget their tags.
        shared.withLockedValue { $0 = Shared(settlements: [], taken: [], connection: 0) }
        consumerTag = nil
        assembly = nil
    }

    func refuseQueuedWork(reason: AMQPError) {
        shared.withLockedValue { $0.settlements.removeAll() }
    }

    func readyToClose(_ connection: RabbitConnection, deadline: ContinuousClock.Instant) throws(AMQPError) -> Bool {
        if let tag = consumerTag {
            // No new deliveries; what was delivered but not taken is requeued when the channel closes.
            consumerTag = nil
            try connection.cancel(consumerTag: tag)
            continuation.finish()
        }
        let settled = shared.withLockedValue { $0.taken.isEmpty && $0.settlements.isEmpty }
        return settled || ContinuousClock.now >= deadline
    }

    func finish() {
        continuation.finish()
    }
}
