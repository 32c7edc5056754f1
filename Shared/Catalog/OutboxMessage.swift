public import FairwayContracts
public import Foundation

/// A message queued in the outbox: what the relay will publish, with its idempotency key.
public struct OutboxMessage: Sendable, Equatable {
    public var messageID: UUID
    public var routingKey: String
    public var body: [UInt8]
    public var correlationID: String?
    public var traceparent: String?

    public init(messageID: UUID, routingKey: String, body: [UInt8], correlationID: String?, traceparent: String?) {
        self.messageID = messageID; self.routingKey = routingKey; self.body = body
        self.correlationID = correlationID; self.traceparent = traceparent
    }

    public init<Payload: FairwayMessage>(_ envelope: Envelope<Payload>) {
        self.init(messageID: envelope.messageID, routingKey: Payload.routingKey.rawValue,
                  body: MessageCodec.encode(envelope.payload), correlationID: envelope.correlationID,
                  traceparent: envelope.traceparent)
    }
}
