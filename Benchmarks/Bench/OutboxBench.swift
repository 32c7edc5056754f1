import ArgumentParser
import FairwayAMQP
import FairwayCatalog
import FairwayServiceKit
import Foundation
import PostgresNIO
import Synchronization

/// `outbox-relay`: N unsent rows for one producer in a scratch database, relayed by
/// `OutboxRelay.relayBatch()` until the backlog is empty. The clock covers the relay only (claim,
/// publish with confirms, mark sent, commit), not the bulk insert. The scratch database is created
/// with `CREATE DATABASE`, migrated with the Migrator and dropped at the end; the messages go to
/// `amq.topic` with a routing key of this run, bound to a bench quorum queue that expires by itself.
struct OutboxRelayBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "outbox-relay", abstract: "Outbox rows published and marked sent per second.")

    @OptionGroup var broker: BrokerOptions

    @Option(help: "PostgreSQL URL of a user with CREATEDB (default: $FAIRWAY_DATABASE_URL).")
    var databaseURL: String?

    @Option(help: "Outbox rows to relay.")
    var count = 20_000

    @Option(help: "Body size in bytes of each row (2 means the JSON object {}, as in a real message).")
    var bodySize = 2

    @Option(help: "Rows per relayBatch() (OutboxRelay.Configuration.batchSize).")
    var batchSize = OutboxRelay.Configuration().batchSize

    @Option(help: "relayBatch() calls in flight at once (like relay replicas sharing the work with SKIP LOCKED).")
    var parallel = 1

    @Option(help: "Confirms outstanding on the publisher's connection (AMQPConfiguration.confirmWindow).")
    var window = AMQPConfiguration(endpoint: .init(host: "localhost"), connectionName: "").confirmWindow

    @Flag(help: "Keep the scratch database (for inspection) instead of dropping it.")
    var keepDatabase = false

    func validate() throws {
        guard count > 0, bodySize >= 0, batchSize > 0, parallel > 0, window > 0 else {
            throw ValidationError("--count, --batch-size, --parallel and --window must be positive")
        }
    }

    func run() async throws {
        let adminURL = try databaseURLOrEnvironment()
        let logger = BenchLog.logger
        let database = "fairway_bench_\(UUID().uuidString.prefix(8).lowercased())"
        let url = try Self.url(adminURL, database: database)
        let namespace = BenchNames.fresh("bench")
        let exchange = "amq.topic"
        let routingKey = "\(namespace).key"
        let producer = "bench"
        let (queue, topology) = broker.queue(fresh: "\(namespace).outbox") {
            [.init(queue: $0, exchange: exchange, routingKey: routingKey)]
        }

        do {
            try await PostgresClient.withClient(url: adminURL, logger: BenchLog.quiet) { admin in
                try await admin.query(PostgresQuery(unsafeSQL: "CREATE DATABASE \(database)"), logger: logger)
            }
        } catch {
            throw BenchFailure("creating the scratch database: \(String(reflecting: error))")
        }
        do {
            let (seconds, phases) = try await PostgresClient.withClient(url: url, logger: BenchLog.quiet) { client in
                _ = try await Migrator(logger: logger).migrate(client)
                try await client.query("""
                    INSERT INTO outbox (message_id, producer, exchange, routing_key, body)
                    SELECT gen_random_uuid(), \(producer), \(exchange), \(routingKey),
                           CASE WHEN \(bodySize)::int = 2 THEN '\\x7b7d'::bytea ELSE convert_to(repeat('x', \(bodySize)::int), 'UTF8') END
                    FROM generate_series(1, \(count))
                    """, logger: logger)
                try await client.query("ANALYZE outbox", logger: logger)

                var amqp = try broker.configuration("outbox-relay")
                amqp.confirmWindow = window
                let publisher = AMQPPublisher(configuration: amqp, topology: topology, logger: logger)
                var relayConfiguration = OutboxRelay.Configuration()
                relayConfiguration.batchSize = batchSize
                let relay = OutboxRelay(client: client, publisher: publisher, producer: producer,
                                        configuration: relayConfiguration, logger: logger)
                let result = try await publisher.whileRunning {
                    let start = ContinuousClock.now
                    let phases = try await Self.drain(relay, parallel: parallel)
                    return ((ContinuousClock.now - start).seconds, phases)
                }
                let unsent = try await Self.count("SELECT count(*) FROM outbox WHERE sent_at IS NULL", client)
                let sent = try await Self.count("SELECT count(*) FROM outbox WHERE sent_at IS NOT NULL", client)
                guard unsent == 0, sent == count else {
                    throw BenchFailure("after relaying: \(sent) rows sent, \(unsent) unsent, expected \(count) sent")
                }
                return result
            }
            Report(mode: "outbox-relay", count: count, seconds: seconds, extra: [
                ("queue", "\"\(queue)\""), ("batch_size", "\(batchSize)"), ("parallel", "\(parallel)"),
                ("batches", "\(phases.batches)"), ("window", "\(window)"), ("body_size", "\(bodySize)"),
                ("seconds_claim_publish", String(format: "%.3f", phases.claimAndPublish.seconds)),
                ("seconds_mark_commit", String(format: "%.3f", phases.markAndCommit.seconds)),
            ]).print()
        } catch {
            await dropDatabase(database, adminURL: adminURL)
            throw BenchFailure(String(reflecting: error))
        }
        await dropDatabase(database, adminURL: adminURL)
    }

    /// Time spent in the two halves of `relayBatch()`, split by its `afterPublish` hook: claiming
    /// the rows and publishing them with confirms, then marking them sent and committing.
    struct Phases: Sendable {
        var batches = 0
        var claimAndPublish: Duration = .zero
        var markAndCommit: Duration = .zero

        static func + (a: Phases, b: Phases) -> Phases {
            Phases(batches: a.batches + b.batches, claimAndPublish: a.claimAndPublish + b.claimAndPublish,
                   markAndCommit: a.markAndCommit + b.markAndCommit)
        }
    }

    /// `relayBatch()` until the backlog is empty, `parallel` calls at once.
    static func drain(_ relay: OutboxRelay, parallel: Int) async throws -> Phases {
        try await withThrowingTaskGroup(of: Phases.self) { group in
            for _ in 0..<parallel {
                group.addTask {
                    var phases = Phases()
                    while true {
                        let start = ContinuousClock.now
                        let published = Mutex<ContinuousClock.Instant?>(nil)
                        let result = try await relay.relayBatch(afterPublish: { published.withLock { $0 = .now } })
                        let end = ContinuousClock.now
                        if result.failed > 0 { throw BenchFailure("\(result.failed) outbox messages failed to publish") }
                        if result.published == 0 { return phases }
                        let middle = published.withLock { $0 } ?? end
                        phases.batches += 1
                        phases.claimAndPublish += middle - start
                        phases.markAndCommit += end - middle
                    }
                }
            }
            return try await group.reduce(Phases(), +)
        }
    }

    static func count(_ sql: String, _ client: PostgresClient) async throws -> Int {
        for try await value in try await client.query(PostgresQuery(unsafeSQL: sql), logger: BenchLog.logger).decode(Int.self) {
            return value
        }
        return -1
    }

    private func dropDatabase(_ database: String, adminURL: String) async {
        if keepDatabase {
            FileHandle.standardError.write(Data("kept scratch database \(database)\n".utf8))
            return
        }
        do {
            try await PostgresClient.withClient(url: adminURL, logger: BenchLog.quiet) { admin in
                try await admin.query(PostgresQuery(unsafeSQL: "DROP DATABASE IF EXISTS \(database) WITH (FORCE)"), logger: BenchLog.logger)
            }
        } catch {
            FileHandle.standardError.write(Data("could not drop scratch database \(database): \(String(reflecting: error))\n".utf8))
        }
    }

    private func databaseURLOrEnvironment() throws -> String {
        if let databaseURL { return databaseURL }
        guard let url = ProcessInfo.processInfo.environment["FAIRWAY_DATABASE_URL"], !url.isEmpty else {
            throw ValidationError("no --database-url and FAIRWAY_DATABASE_URL is not set (source .fairway/env)")
        }
        return url
    }

    static func url(_ url: String, database: String) throws -> String {
        guard var components = URLComponents(string: url) else { throw BenchFailure("FAIRWAY_DATABASE_URL is not a URL") }
        components.path = "/\(database)"
        guard let result = components.string else { throw BenchFailure("cannot build the scratch database URL") }
        return result
    }
}
