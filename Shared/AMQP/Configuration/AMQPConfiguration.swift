public import Foundation

/// How to reach the broker and how the kit behaves on the connection. Defaults suit a service on a LAN.
public struct AMQPConfiguration: Sendable {
    public var endpoint: AMQPEndpoint
    /// Name shown by `rabbitmqctl list_connections client_properties` and the management UI.
    public var connectionName: String
    /// Heartbeat interval negotiated with the broker; the owner thread services it.
    public var heartbeat: Duration = .seconds(30)
    public var connectTimeout: Duration = .seconds(10)
    public var reconnect = ReconnectBackoff()
    /// Publisher confirms outstanding at once on one connection before publishing waits.
    public var confirmWindow = 512
    /// Unacknowledged deliveries the broker may push to one consumer (`basic.qos`).
    public var prefetch: UInt16 = 64
    /// How long a consumer waits for in-flight deliveries to be settled when shutting down.
    public var drainTimeout: Duration = .seconds(30)

    public init(endpoint: AMQPEndpoint, connectionName: String) {
        self.endpoint = endpoint
        self.connectionName = connectionName
    }

    public init(url: String, connectionName: String) throws(AMQPError) {
        self.init(endpoint: try AMQPEndpoint(url: url), connectionName: connectionName)
    }
}

/// Exponential back-off with jitter between reconnection attempts.
public struct ReconnectBackoff: Sendable {
    public var initial: Duration = .milliseconds(100)
    public var maximum: Duration = .seconds(10)
    public var multiplier = 2.0

    public init() {}

    func delay(attempt: Int) -> Duration {
        let exponent = min(Double(attempt), 30)
        let base = min(initial * pow(multiplier, exponent), maximum)
        // Jitter spreads the reconnect storm of many services after a broker restart.
        return base * Double.random(in: 0.5...1.0)
    }
}

/// Host, port, credentials and virtual host, from an `amqp://user:pass@host:port/vhost` URL.
public struct AMQPEndpoint: Sendable, Equatable {
    public var host: String
    public var port: Int
    public var user: String
    public var password: String
    public var virtualHost: String

    public init(host: String, port: Int = 5672, user: String = "guest", password: String = "guest", virtualHost: String = "/") {
        self.host = host; self.port = port; self.user = user; self.password = password; self.virtualHost = virtualHost
    }

    /// Parses the AMQP URI scheme: the vhost is the percent-decoded path without its leading `/`
    /// (`/%2F` is the default vhost `/`); a missing path means `/`.
    public init(url: String) throws(AMQPError) {
        guard url.utf8.count <= 2048 else { throw .invalidURL("longer than 2048 bytes") }
        // Checked on the raw text: URLComponents quietly re-encodes a stray '%'.
        guard url.range(of: "%(?![0-9A-Fa-f]{2})", options: .regularExpression) == nil else {
            throw .invalidURL("bad percent-encoding")
        }
        guard let components = URLComponents(string: url) else { throw .invalidURL("not a URL") }
        guard components.scheme == "amqp" else {
            throw .invalidURL("scheme must be amqp:// (got \(components.scheme.map { "'\($0)'" } ?? "none")); TLS is not supported by this build")
        }
        guard let host = components.host, !host.isEmpty else { throw .invalidURL("no host") }
        let port = components.port ?? 5672
        guard (1...65535).contains(port) else { throw .invalidURL("port \(port) out of range") }
        let path = components.percentEncodedPath
        let vhost: String
        if path.isEmpty || path == "/" {
            vhost = "/"
        } else {
            let encoded = String(path.dropFirst())
            guard !encoded.contains("/") else { throw .invalidURL("the vhost must be one path segment (encode '/' as %2F)") }
            guard let decoded = encoded.removingPercentEncoding else { throw .invalidURL("bad percent-encoding in vhost") }
            vhost = decoded
        }
        self.init(
            host: host, port: port,
            user: components.percentEncodedUser?.removingPercentEncoding ?? "guest",
            password: components.percentEncodedPassword?.removingPercentEncoding ?? "guest",
            virtualHost: vhost
        )
        guard !user.contains("\0"), !password.contains("\0"), !virtualHost.contains("\0"), !host.contains("\0") else {
            throw .invalidURL("contains a NUL byte")
        }
    }

    /// The URL with the password hidden, for logs.
    public var redacted: String { "amqp://\(user):***@\(host):\(port)/\(virtualHost == "/" ? "%2F" : virtualHost)" }
}
