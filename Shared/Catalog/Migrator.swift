public import Logging
public import PostgresNIO

/// Applies `Migrations.all` in order. A session advisory lock serialises concurrent runs (two
/// `fairway migrate` at once, or every replica at start-up): the second waits, then finds nothing to do.
public struct Migrator: Sendable {
    public enum Failure: Error, CustomStringConvertible {
        case edited(version: Int, name: String)
        case unknownVersion(Int)

        public var description: String {
            switch self {
            case .edited(let version, let name):
                "migration \(version) (\(name)) differs from the one applied to this database; migrations are append-only"
            case .unknownVersion(let version):
                "the database has migration \(version), which this build does not know; run a newer fairway"
            }
        }
    }

    public struct Report: Sendable, Equatable {
        public var applied: [Int]
        public var alreadyApplied: [Int]
    }

    /// An arbitrary constant: the lock id for "schema migration in progress".
    static let lockKey: Int64 = 0x4661_6972_7761_7901

    let migrations: [Migration]
    let logger: Logger

    public init(migrations: [Migration] = Migrations.all, logger: Logger) {
        self.migrations = migrations
        self.logger = logger
    }

    public func migrate(_ client: PostgresClient) async throws -> Report {
        try await client.withConnection { connection in
            try await connection.query("SELECT pg_advisory_lock(\(Self.lockKey))", logger: logger)
            do {
                let report = try await migrateLocked(connection)
                try await connection.query("SELECT pg_advisory_unlock(\(Self.lockKey))", logger: logger)
                return report
            } catch {
                _ = try? await connection.query("SELECT pg_advisory_unlock(\(Self.lockKey))", logger: logger)
                throw error
            }
        }
    }

    private func migrateLocked(_ connection: PostgresConnection) async throws -> Report {
        try await connection.query("""
            CREATE TABLE IF NOT EXISTS schema_migrations (
                version integer PRIMARY KEY,
                name text NOT NULL,
                checksum text NOT NULL,
                applied_at timestamptz NOT NULL DEFAULT now()
            )
            """, logger: logger)
        var applied: [Int: String] = [:]
        for try await (version, checksum) in try await connection.query(
            "SELECT version, checksum FROM schema_migrations", logger: logger
        ).decode((Int, String).self) {
            applied[version] = checksum
        }
        let known = Dictionary(uniqueKeysWithValues: migrations.map { ($0.version, $0) })
        if let unknown = applied.keys.sorted().first(where: { known[$0] == nil }) { throw Failure.unknownVersion(unknown) }

        var report = Report(applied: [], alreadyApplied: [])
        for migration in migrations.sorted(by: { $0.version < $1.version }) {
            if let checksum = applied[migration.version] {
                guard checksum == migration.checksum else { throw Failure.edited(version: migration.version, name: migration.name) }
                report.alreadyApplied.append(migration.version)
                continue
            }
            try await connection.withTransaction(logger: logger) { transaction in
                for statement in migration.statements {
                    try await transaction.query(PostgresQuery(unsafeSQL: statement), logger: logger)
                }
                try await transaction.query(
                    "INSERT INTO schema_migrations (version, name, checksum) VALUES (\(migration.version), \(migration.name), \(migration.checksum))",
                    logger: logger
                )
            }
            logger.info("applied migration", metadata: ["version": "\(migration.version)", "name": "\(migration.name)"])
            report.applied.append(migration.version)
        }
        return report
    }
}
