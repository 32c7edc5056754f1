import ArgumentParser
import FairwayCatalog
import PostgresNIO
import FairwayServiceKit
import Logging

/// `fairway migrate`: applies pending schema migrations. Safe to run twice, or from two places at once.
struct MigrateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "migrate",
        abstract: "Apply pending catalog schema migrations (idempotent; concurrent runs wait for each other).",
        discussion: "Connects with FAIRWAY_DATABASE_URL, which must be the schema owner's role."
    )

    @Option(name: .customLong("database-url"), help: "PostgreSQL URL (default: FAIRWAY_DATABASE_URL).")
    var databaseURL: String?

    func run() async throws {
        let configuration: FairwayConfiguration
        do { configuration = try .fromEnvironment() } catch { throw ValidationError(error.description) }
        FairwayLogging.bootstrap(format: configuration.logFormat, level: configuration.logLevel)
        let url = try databaseURL ?? configuration.requireDatabaseURL()
        let logger = Logger(label: "fairway.migrate")
        let report = try await PostgresClient.withClient(url: url, logger: logger) { client in
            try await Migrator(logger: logger).migrate(client)
        }
        let latest = Migrations.all.map(\.version).max() ?? 0
        if report.applied.isEmpty {
            print("schema is up to date (version \(latest))")
        } else {
            print("applied \(report.applied.map(String.init).joined(separator: ", ")); schema is at version \(latest)")
        }
    }
}
