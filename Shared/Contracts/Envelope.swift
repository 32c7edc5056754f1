public import Foundation

/// A message with what travels beside its body as AMQP properties: `message_id` (the idempotency key),
/// `correlation_id` (the acquisition), `type` (= routing key), `timestamp` and the `traceparent` header.
public struct Envelope<Payload: FairwayMessage>: Sendable, Equatable {
    public var messageID: UUID
    public var correlationID: String?
    public var traceparent: String?
    public var occurredAt: Date
    public var payload: Payload
    /// The span of the hop handling this message, set by the service that received it; the
    /// messages it causes carry it as their `traceparent`. Not sent.
    public var hop: TraceParent?

    public var routingKey: RoutingKey { Payload.routingKey }

    public init(messageID: UUID = UUID(), correlationID: String? = nil, traceparent: String? = nil,
                occurredAt: Date = Date(), payload: Payload) {
        self.messageID = messageID
        self.correlationID = correlationID
        self.traceparent = traceparent
        self.occurredAt = occurredAt
        self.payload = payload
    }

    /// A message caused by `cause`: the same acquisition (correlation id) and trace, as a child of
    /// the span that handled `cause` (a new span id when none was opened).
    public init<Cause: FairwayMessage>(following cause: Envelope<Cause>, payload: Payload) {
        self.init(correlationID: cause.correlationID,
                  traceparent: (cause.hop ?? TraceParent.continuing(cause.traceparent)).description, payload: payload)
    }
}
