/// What went wrong talking to the broker. Connection-level failures are retried by the kit itself;
/// message-level ones (`nacked`, `unroutable`) are the caller's to handle.
public enum AMQPError: Error, Sendable, Equatable, CustomStringConvertible {
    case invalidURL(String)
    case connectionFailed(String)
    case accessRefused(String)
    case connectionLost(String)
    /// The broker closed the channel or connection with an AMQP reply code (e.g. 404, 406).
    case closedByBroker(code: Int, text: String)
    case notConnected
    case nacked
    case unroutable(code: Int, text: String)
    case timedOut(String)
    case shutdown

    public var description: String {
        switch self {
        case .invalidURL(let why): "invalid AMQP URL: \(why)"
        case .connectionFailed(let why): "cannot connect to the broker: \(why)"
        case .accessRefused(let why): "the broker refused access: \(why)"
        case .connectionLost(let why): "connection to the broker lost: \(why)"
        case .closedByBroker(let code, let text): "the broker closed the channel: \(code) \(text)"
        case .notConnected: "not connected to the broker"
        case .nacked: "the broker did not accept the message (basic.nack)"
        case .unroutable(let code, let text): "the message was returned as unroutable: \(code) \(text)"
        case .timedOut(let what): "timed out: \(what)"
        case .shutdown: "the AMQP client is shutting down"
        }
    }
}
