import Foundation
import Logging
import Metrics
import PostgresNIO
import ServiceLifecycle

/// The database pool as metrics: this process's connections by state (`active`, `idle`,
/// `idle in transaction`) and the pool's maximum. postgres-nio reports its pool to the log only,
/// so the figures come from the server: each process names its connections (`application_name`)
/// and reads its own rows of `pg_stat_activity` every few seconds.
struct DatabasePoolGauge: Service {
    let client: PostgresClient
    let applicationName: String
    let maximum: Int
    let logger: Logger
    var interval: Duration = .seconds(5)

    func run() async throws {
        Gauge(label: "fairway_db_pool_max_connections").record(maximum)
        let states = ["active", "idle", "idle in transaction"]
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            var counts = Dictionary(uniqueKeysWithValues: states.map { ($0, 0) })
            if let rows = try? await client.query("""
                SELECT coalesce(state, 'unknown'), count(*)::int FROM pg_stat_activity
                WHERE application_name = \(applicationName) AND pid <> pg_backend_pid() GROUP BY 1
                """, logger: logger) {
                do { for try await (state, count) in rows.decode((String, Int).self) { counts[state] = count } } catch {}
                // The sampling query's own connection is busy while it runs: count it as active.
                counts["active", default: 0] += 1
                for (state, count) in counts { Gauge(label: "fairway_db_connections", dimensions: [("state", state)]).record(count) }
            }
            // Stops waiting at once on SIGTERM: the service must not hold up the shutdown.
            let interval = interval
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: interval) }
        }
    }
}
