public import FairwayAMQP
import Logging
public import PostgresNIO

/// What `/readyz` checks: each dependency answers now. A service is live (`/healthz`) as long as the
/// process runs; it is ready only while it can do its work.
public struct Readiness: Sendable {
    public struct Check: Sendable {
        public let name: String
        public let probe: @Sendable () async -> String?   // nil when fine, else why not

        public init(name: String, probe: @escaping @Sendable () async -> String?) {
            self.name = name
            self.probe = probe
        }
    }

    public var checks: [Check]

    public init(checks: [Check] = []) { self.checks = checks }

    /// Runs every check; the map has an entry per check, nil when it passed.
    public func evaluate() async -> [(String, String?)] {
        var results: [(String, String?)] = []
        for check in checks { results.append((check.name, await check.probe())) }
        return results
    }
}

extension Readiness.Check {
    public static func database(_ client: PostgresClient) -> Self {
        Self(name: "postgres") {
            do {
                _ = try await withTimeout(.seconds(2)) { try await client.query("SELECT 1") }
                return nil
            } catch {
                return "\(String(reflecting: error).prefix(300))"
            }
        }
    }

    public static func broker(_ name: String, _ status: ConnectionStatus) -> Self {
        Self(name: name) {
            status.isConnected ? nil : (status.lastError.map { "\($0)" } ?? "connecting")
        }
    }
}

struct TimeoutError: Error, CustomStringConvertible {
    var description: String { "timed out" }
}

func withTimeout<T: Sendable>(_ limit: Duration, _ work: @escaping @Sendable () async throws -> T) async throws -> T {
    try await withThrowingTaskGroup(of: T.self) { group in
        group.addTask { try await work() }
        group.addTask {
            try await Task.sleep(for: limit)
            throw TimeoutError()
        }
        defer { group.cancelAll() }
        return try await group.next()!
    }
}
