public import Foundation

/// AMQP basic properties Fairway uses. `persistent` maps to delivery mode 2.
public struct AMQPProperties: Sendable, Equatable {
    public var messageID: String?
    public var correlationID: String?
    public var type: String?
    public var contentType: String?
    public var timestamp: Date?
    public var appID: String?
    public var persistent: Bool
    public var headers: [String: AMQPFieldValue]

    public init(messageID: String? = nil, correlationID: String? = nil, type: String? = nil,
                contentType: String? = nil, timestamp: Date? = nil, appID: String? = nil,
                persistent: Bool = true, headers: [String: AMQPFieldValue] = [:]) {
        self.messageID = messageID; self.correlationID = correlationID; self.type = type
        self.contentType = contentType; self.timestamp = timestamp; self.appID = appID
        self.persistent = persistent; self.headers = headers
    }
}

/// A message to publish. `mandatory` (the default) makes a message that no queue takes fail with
/// `AMQPError.unroutable` instead of vanishing.
public struct AMQPOutgoingMessage: Sendable {
    public var exchange: String
    public var routingKey: String
    public var body: [UInt8]
    public var properties: AMQPProperties
    public var mandatory: Bool

    public init(exchange: String, routingKey: String, body: [UInt8], properties: AMQPProperties, mandatory: Bool = true) {
        self.exchange = exchange; self.routingKey = routingKey; self.body = body; self.properties = properties
        self.mandatory = mandatory
    }
}

/// A message taken with basic.get (an administrative read, as of a dead-letter queue).
public struct AMQPFetched: Sendable {
    public var deliveryTag: UInt64
    public var exchange: String
    public var routingKey: String
    public var redelivered: Bool
    public var properties: AMQPProperties
    public var body: [UInt8]
}
