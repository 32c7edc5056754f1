import FairwayCatalog
import FairwayTestSupport
import Foundation
import PostgresNIO
import Testing

@Suite struct MigrationTests {
    @Test func migratingTwiceLeavesOneSchema() async throws {
        let database = try await TestDatabase.create(migrated: false)
        try await database.withClient { client throws in
            let first = try await Migrator(logger: TestEnvironment.logger).migrate(client)
            let second = try await Migrator(logger: TestEnvironment.logger).migrate(client)
            #expect(first.applied == Migrations.all.map(\.version))
            #expect(second.applied.isEmpty)
            #expect(second.alreadyApplied == Migrations.all.map(\.version))
            #expect(try await SchemaProbe.migrationRows(client) == Migrations.all.count)
            #expect(try await SchemaProbe.tables(client).isSuperset(of: SchemaProbe.expectedTables))
        }
        await database.drop()
    }

    @Test func twoProcessesMigratingAtOnceLeaveOneCorrectSchema() async throws {
        let database = try await TestDatabase.create(migrated: false)
        let fairway = try TestEnvironment.executable("fairway")
        async let first = TestEnvironment.run(fairway, ["migrate"], environment: ["FAIRWAY_DATABASE_URL": database.url])
        async let second = TestEnvironment.run(fairway, ["migrate"], environment: ["FAIRWAY_DATABASE_URL": database.url])
        let results = try await [first, second]
        for result in results { #expect(result.status == 0, "\(result.output)") }
        let outputs = results.map(\.output).joined()
        #expect(outputs.contains("applied 1"), "one of them applied the schema")
        #expect(outputs.contains("schema is up to date"), "the other found nothing to do")
        try await database.withClient { client throws in
            #expect(try await SchemaProbe.migrationRows(client) == Migrations.all.count)
            #expect(try await SchemaProbe.tables(client).isSuperset(of: SchemaProbe.expectedTables))
        }
        await database.drop()
    }

    @Test func anEditedMigrationIsRefused() async throws {
        let database = try await TestDatabase.create()
        try await database.withClient { client throws in
            try await client.query("UPDATE schema_migrations SET checksum = 'edited' WHERE version = 1")
            await #expect(throws: Migrator.Failure.self) { try await Migrator(logger: TestEnvironment.logger).migrate(client) }
        }
        await database.drop()
    }
}

enum SchemaProbe {
    static let expectedTables: Set<String> = [
        "resources", "investigations", "investigation_members", "studies", "assays", "acquisitions", "objects",
        "replicas", "annotations", "watcher_tokens", "outbox", "inbox", "audit_log", "schema_migrations",
    ]

    static func tables(_ client: PostgresClient) async throws -> Set<String> {
        var names = Set<String>()
        for try await name in try await client.query("SELECT tablename FROM pg_tables WHERE schemaname = 'public'").decode(String.self) {
            names.insert(name)
        }
        return names
    }

    static func migrationRows(_ client: PostgresClient) async throws -> Int {
        for try await count in try await client.query("SELECT count(*) FROM schema_migrations").decode(Int.self) { return count }
        return 0
    }
}
