/// A message delivered to a consumer. Settle it exactly once with `ack`, `nack` or `reject`; until then
/// it counts against the consumer's prefetch. Settling after the connection was lost does nothing:
/// the broker has already put the message back for redelivery.
public struct AMQPDelivery: Sendable {
    public let exchange: String
    public let routingKey: String
    public let redelivered: Bool
    public let body: [UInt8]
    public let properties: AMQPProperties
    let key: DeliveryKey
    let settler: ConsumerWorkload

    /// Earlier delivery attempts of this message (quorum queues count them in `x-delivery-count`).
    public var previousAttempts: Int {
        Int(properties.headers["x-delivery-count"]?.intValue ?? (redelivered ? 1 : 0))
    }

    public func ack() { settler.settle(key, .ack) }

    /// Negative acknowledgement; with `requeue: false` the queue dead-letters the message.
    public func nack(requeue: Bool) { settler.settle(key, .nack(requeue: requeue)) }

    public func reject(requeue: Bool) { settler.settle(key, .reject(requeue: requeue)) }
}

/// A delivery tag is only meaningful on the connection that delivered it.
struct DeliveryKey: Hashable, Sendable {
    var connection: UInt64
    var tag: UInt64
}
