import ArgumentParser
import FairwayCatalog
import Foundation
import Logging
import PostgresNIO

/// `pg-latency`: sequential round trips through postgres-nio's PostgresClient, to compare with
/// pgbench on the same server (what one catalog query costs a request handler).
struct PostgresLatencyBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "pg-latency", abstract: "Sequential SELECT 1 through PostgresClient.")
    @Option(help: "PostgreSQL URL (default: $FAIRWAY_DATABASE_URL).") var databaseURL: String?
    @Option(help: "Round trips.") var count = 2000

    func run() async throws {
        let url = try databaseURL ?? ProcessInfo.processInfo.environment["FAIRWAY_DATABASE_URL"] ?? { throw ValidationError("no database URL") }()
        let logger = Logger(label: "bench")
        let count = count
        try await PostgresClient.withClient(url: url, logger: logger) { client in
            for _ in 0 ..< 50 { _ = try await client.query("SELECT 1", logger: logger).collect() }
            var start = ContinuousClock.now
            for _ in 0 ..< count { _ = try await client.query("SELECT 1", logger: logger).collect() }
            let pooled = (ContinuousClock.now - start) / count
            start = ContinuousClock.now
            try await client.withConnection { connection in
                for _ in 0 ..< count { _ = try await connection.query("SELECT 1", logger: logger).collect() }
            }
            let leased = (ContinuousClock.now - start) / count
            print("{\"client\":\"fairway\",\"mode\":\"pg-latency\",\"pooled_us\":\(pooled.components.attoseconds / 1_000_000_000_000),\"one_connection_us\":\(leased.components.attoseconds / 1_000_000_000_000)}")
        }
    }
}
