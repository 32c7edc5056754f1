/// A frame read from the broker, copied out of rabbitmq-c's buffers.
enum Frame {
    struct Deliver {
        var consumerTag: String
        var deliveryTag: UInt64
        var redelivered: Bool
        var exchange: String
        var routingKey: String
    }

    struct Return {
        var replyCode: Int
        var replyText: String
        var exchange: String
        var routingKey: String
    }

    case deliver(Deliver)
    case returned(Return)
    case contentHeader(bodySize: UInt64, properties: AMQPProperties)
    case contentBody([UInt8])
    case ack(tag: UInt64, multiple: Bool)
    case nack(tag: UInt64, multiple: Bool)
    case consumerCancelled(tag: String)
    case blocked(reason: String)
    case unblocked
    case other(method: UInt32)
}
