public import Logging
public import ServiceLifecycle

/// Consumes one queue on its own connection with manual acknowledgements and bounded prefetch.
/// Iterate `deliveries`; settle each one. The connection is re-opened (and the topology re-declared)
/// when lost; deliveries not settled by then are redelivered by the broker. On graceful shutdown it
/// cancels the subscription, waits for deliveries taken by the application to be settled (up to
/// `drainTimeout`), and closes, which requeues anything else.
public final class AMQPConsumer: Service, Sendable {
    private let owner: OwnerThread
    private let workload: ConsumerWorkload
    public var status: ConnectionStatus { owner.status }

    public init(configuration: AMQPConfiguration, topology: AMQPTopology, queue: String, logger: Logger) {
        workload = ConsumerWorkload(queue: queue, prefetch: configuration.prefetch)
        owner = OwnerThread(configuration: configuration, topology: topology, workload: workload,
                            status: ConnectionStatus(), logger: logger)
        let owner = owner
        workload.wake = { owner.wake() }
    }

    public var deliveries: AMQPDeliverySequence { AMQPDeliverySequence(base: workload.deliveries, workload: workload) }

    public func run() async throws {
        await owner.runAsService()
    }

    public func shutdown() { owner.requestStop() }
}

/// The deliveries of a consumer. Taking one from the sequence makes the consumer wait for its
/// settlement at shutdown; deliveries never taken are simply requeued.
public struct AMQPDeliverySequence: AsyncSequence, Sendable {
    public typealias Element = AMQPDelivery
    let base: AsyncStream<AMQPDelivery>
    let workload: ConsumerWorkload

    public struct AsyncIterator: AsyncIteratorProtocol {
        var base: AsyncStream<AMQPDelivery>.AsyncIterator
        let workload: ConsumerWorkload

        public mutating func next() async -> AMQPDelivery? {
            guard let delivery = await base.next() else { return nil }
            workload.markTaken(delivery.key)
            return delivery
        }

        public mutating func next(isolation actor: isolated (any Actor)?) async -> AMQPDelivery? {
            guard let delivery = await base.next(isolation: actor) else { return nil }
            workload.markTaken(delivery.key)
            return delivery
        }
    }

    public func makeAsyncIterator() -> AsyncIterator {
        AsyncIterator(base: base.makeAsyncIterator(), workload: workload)
    }
}
