import FairwayCatalog
public import Foundation
public import PostgresNIO

/// A database of its own for one test, cloned from a migrated template (fast, and each test starts
/// from the real schema). The template is named after the migrations, so a schema change makes a new one.
public struct TestDatabase: Sendable {
    public let name: String
    public let url: String

    /// A fresh database; `migrated: false` gives an empty one (for migration tests).
    public static func create(migrated: Bool = true) async throws -> TestDatabase {
        let adminURL = try TestEnvironment.databaseURL
        let name = "fw_test_\(UUID().uuidString.prefix(8).lowercased())"
        let template = migrated ? try await TemplateDatabase.shared.name() : "template0"
        try await PostgresClient.withClient(url: adminURL, logger: TestEnvironment.logger) { client in
            try await client.query(PostgresQuery(unsafeSQL: "CREATE DATABASE \(name) TEMPLATE \(template)"))
        }
        return TestDatabase(name: name, url: try Self.url(adminURL, database: name))
    }

    public func drop() async {
        guard let adminURL = try? TestEnvironment.databaseURL else { return }
        _ = try? await PostgresClient.withClient(url: adminURL, logger: TestEnvironment.logger) { client in
            try await client.query(PostgresQuery(unsafeSQL: "DROP DATABASE IF EXISTS \(name) WITH (FORCE)"))
        }
    }

    public func withClient<Result: Sendable>(_ body: @Sendable (PostgresClient) async throws -> Result) async throws -> Result {
        try await PostgresClient.withClient(url: url, logger: TestEnvironment.logger, body)
    }

    static func url(_ url: String, database: String) throws -> String {
        guard var components = URLComponents(string: url) else { throw TestSetupError("bad FAIRWAY_DATABASE_URL") }
        components.path = "/\(database)"
        return components.string!
    }
}

/// Creates the migrated template once per run (and once across concurrent test processes).
actor TemplateDatabase {
    static let shared = TemplateDatabase()
    private var created: String?

    func name() async throws -> String {
        if let created { return created }
        let adminURL = try TestEnvironment.databaseURL
        let name = "fw_template_\(Migrations.fingerprint)"
        try await PostgresClient.withClient(url: adminURL, logger: TestEnvironment.logger) { client in
            try await client.withConnection { connection in
                try await connection.query("SELECT pg_advisory_lock(72041)", logger: TestEnvironment.logger)
                defer { Task { _ = try? await client.query("SELECT 1") } }
                let rows = try await connection.query("SELECT 1 FROM pg_database WHERE datname = \(name)", logger: TestEnvironment.logger)
                var exists = false
                for try await _ in rows { exists = true }
                if !exists {
                    let building = name + "_building"
                    try await connection.query(PostgresQuery(unsafeSQL: "DROP DATABASE IF EXISTS \(building)"), logger: TestEnvironment.logger)
                    try await connection.query(PostgresQuery(unsafeSQL: "CREATE DATABASE \(building) TEMPLATE template0"), logger: TestEnvironment.logger)
                    _ = try await PostgresClient.withClient(url: try TestDatabase.url(adminURL, database: building), logger: TestEnvironment.logger) { templateClient in
                        try await Migrator(logger: TestEnvironment.logger).migrate(templateClient)
                    }
                    // Renamed only once complete, so a crash mid-way never leaves a half-migrated template.
                    try await connection.query(PostgresQuery(unsafeSQL: "ALTER DATABASE \(building) RENAME TO \(name)"), logger: TestEnvironment.logger)
                }
                try await connection.query("SELECT pg_advisory_unlock(72041)", logger: TestEnvironment.logger)
            }
        }
        created = name
        return name
    }
}
