import NIOConcurrencyHelpers

/// Whether a connection is up, for `/readyz`, and why not when it is down.
public final class ConnectionStatus: Sendable {
    private let state = NIOLockedValueBox<(connected: Bool, lastError: AMQPError?, connects: Int)>((false, nil, 0))

    public init() {}

    public var isConnected: Bool { state.withLockedValue { $0.connected } }
    public var lastError: AMQPError? { state.withLockedValue { $0.lastError } }
    /// How many times the connection was (re)established; tests use it to see a reconnect happen.
    public var connectCount: Int { state.withLockedValue { $0.connects } }

    func markConnected() { state.withLockedValue { $0 = (true, nil, $0.connects + 1) } }
    func markDisconnected(_ error: AMQPError) { state.withLockedValue { $0.connected = false; $0.lastError = error } }
}

extension ConnectionStatus {
    /// The kit retries every failure, forever; a refusal or a broker error (a missing queue, a
    /// declaration that differs from the existing queue) will not heal while a one-shot command waits.
    public var fatalError: AMQPError? {
        switch lastError {
        case .accessRefused?, .closedByBroker?, .invalidURL?: lastError
        default: nil
        }
    }
}
