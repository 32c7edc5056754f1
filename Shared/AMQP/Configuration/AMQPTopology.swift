/// Exchanges, queues and bindings a connection declares each time it (re)connects. Declaration is
/// idempotent, so every service declares what it needs and a broker restart with lost state heals itself.
public struct AMQPTopology: Sendable, Equatable {
    public struct Exchange: Sendable, Equatable {
        public var name: String
        public var type: String
        public init(name: String, type: String = "topic") { self.name = name; self.type = type }
    }

    public struct Queue: Sendable, Equatable {
        public var name: String
        public var arguments: [String: AMQPFieldValue]
        public init(name: String, arguments: [String: AMQPFieldValue]) { self.name = name; self.arguments = arguments }
    }

    public struct Binding: Sendable, Equatable {
        public var queue: String
        public var exchange: String
        public var routingKey: String
        public init(queue: String, exchange: String, routingKey: String) {
            self.queue = queue; self.exchange = exchange; self.routingKey = routingKey
        }
    }

    public var exchanges: [Exchange]
    public var queues: [Queue]
    public var bindings: [Binding]
    /// Bindings an earlier release declared and this one no longer wants: removed at each connect
    /// (removing one that does not exist is harmless), so an upgraded queue stops receiving them.
    public var unbindings: [Binding]

    public init(exchanges: [Exchange] = [], queues: [Queue] = [], bindings: [Binding] = [], unbindings: [Binding] = []) {
        self.exchanges = exchanges; self.queues = queues; self.bindings = bindings; self.unbindings = unbindings
    }
}

/// The names of Fairway's broker objects. `namespace` is `fairway` in production; tests use their own
/// so they can run side by side on one vhost.
public struct FairwayBrokerNames: Sendable, Equatable {
    public var namespace: String
    public init(namespace: String = "fairway") { self.namespace = namespace }

    public var exchange: String { namespace }
    public var deadLetterExchange: String { "\(namespace).dlx" }
    public func queue(_ service: String) -> String { "\(namespace).\(service)" }
    public func deadLetterQueue(_ service: String) -> String { "\(namespace).\(service).dlq" }

    /// The two exchanges every Fairway connection declares.
    public var exchanges: AMQPTopology {
        AMQPTopology(exchanges: [.init(name: exchange), .init(name: deadLetterExchange)])
    }

    /// A service's quorum queue bound to the keys it consumes, with its dead-letter queue.
    /// `deliveryLimit` is the broker's safety net: the worker dead-letters earlier with the error text.
    public func serviceTopology(service: String, routingKeys: [String], retiredKeys: [String] = [], deliveryLimit: Int = 5) -> AMQPTopology {
        let queue = queue(service)
        let dlq = deadLetterQueue(service)
        return AMQPTopology(
            exchanges: exchanges.exchanges,
            queues: [
                .init(name: queue, arguments: [
                    "x-queue-type": .string("quorum"),
                    "x-dead-letter-exchange": .string(deadLetterExchange),
                    "x-dead-letter-routing-key": .string(queue),
                    "x-delivery-limit": .int(Int64(deliveryLimit)),
                ]),
                .init(name: dlq, arguments: ["x-queue-type": .string("quorum")]),
            ],
            bindings: routingKeys.map { .init(queue: queue, exchange: exchange, routingKey: $0) }
                + [.init(queue: dlq, exchange: deadLetterExchange, routingKey: queue)],
            unbindings: retiredKeys.map { .init(queue: queue, exchange: exchange, routingKey: $0) }
        )
    }
}
