import FairwayCatalog
import FairwayTestSupport
import Foundation
import PostgresNIO
import Testing

/// The schema refuses invalid states and each service role holds only its own grants.
@Suite struct SchemaTests {
    /// SQLSTATE of the error a statement raises, or nil when it succeeds.
    static func sqlState(_ client: PostgresClient, _ statements: [String]) async -> String? {
        do {
            try await client.withConnection { connection in
                for statement in statements {
                    try await connection.query(PostgresQuery(unsafeSQL: statement), logger: TestEnvironment.logger)
                }
            }
            return nil
        } catch let error as PSQLError {
            return error.serverInfo?[.sqlState]
        } catch {
            return "\(error)"
        }
    }

    static let seed = [
        "INSERT INTO resources (id, name, role, root_path) VALUES ('00000000-0000-4000-8000-000000000001', 'scope-1', 'landing', '/data/landing')",
        "INSERT INTO investigations (id, name) VALUES ('00000000-0000-4000-8000-000000000002', 'NUC')",
        "INSERT INTO studies (id, investigation_id, name) VALUES ('00000000-0000-4000-8000-000000000003', '00000000-0000-4000-8000-000000000002', 'hela')",
        "INSERT INTO assays (id, study_id, name) VALUES ('00000000-0000-4000-8000-000000000004', '00000000-0000-4000-8000-000000000003', 'plate-1')",
    ]

    @Test func aServiceRoleCannotWriteATableItDoesNotOwn() async throws {
        let database = try await TestDatabase.create()
        try await database.withClient { client throws in
            #expect(await Self.sqlState(client, Self.seed) == nil)
            // qc reads the catalog but may not register objects or touch watcher tokens.
            #expect(await Self.sqlState(client, ["SET ROLE fairway_qc", "SELECT count(*) FROM objects", "RESET ROLE"]) == nil)
            #expect(await Self.sqlState(client, ["SET ROLE fairway_qc", """
                INSERT INTO objects (assay_id, acquisition_id, logical_path, owner, size_bytes, state)
                VALUES ('00000000-0000-4000-8000-000000000004', NULL, 'x', 'me', 1, 'registered')
                """]) == "42501")
            #expect(await Self.sqlState(client, ["SET ROLE fairway_qc", "SELECT * FROM watcher_tokens"]) == "42501")
            #expect(await Self.sqlState(client, ["SET ROLE fairway_doi", "DELETE FROM replicas"]) == "42501")
            #expect(await Self.sqlState(client, ["SET ROLE fairway_converter", "UPDATE acquisitions SET state = 'failed'"]) == "42501")
            // ingest may register acquisitions; every service may queue messages in its outbox.
            #expect(await Self.sqlState(client, ["SET ROLE fairway_ingest", """
                INSERT INTO acquisitions (zone_id, path, owner, assay_id, state)
                VALUES ('00000000-0000-4000-8000-000000000001', 'run/a.tif', 'amartin', '00000000-0000-4000-8000-000000000004', 'pending')
                """]) == nil)
            #expect(await Self.sqlState(client, ["SET ROLE fairway_qc", """
                INSERT INTO outbox (message_id, producer, exchange, routing_key, body) VALUES (gen_random_uuid(), 'qc', 'fairway', 'qc.scored', '\\x7b7d')
                """]) == nil)
        }
        await database.drop()
    }

    @Test(arguments: [
        // A path escaping its zone, or absolute.
        ("INSERT INTO acquisitions (zone_id, path, owner, assay_id, state) VALUES ('00000000-0000-4000-8000-000000000001', '../etc/passwd', 'x', '00000000-0000-4000-8000-000000000004', 'pending')", "23514"),
        ("INSERT INTO acquisitions (zone_id, path, owner, assay_id, state) VALUES ('00000000-0000-4000-8000-000000000001', '/etc/passwd', 'x', '00000000-0000-4000-8000-000000000004', 'pending')", "23514"),
        // Failed without a reason.
        ("INSERT INTO acquisitions (zone_id, path, owner, assay_id, state) VALUES ('00000000-0000-4000-8000-000000000001', 'a.tif', 'x', '00000000-0000-4000-8000-000000000004', 'failed')", "23514"),
        // A checksum not in the sha2:<base64> form.
        ("INSERT INTO objects (assay_id, logical_path, owner, size_bytes, checksum, state, parent_id) VALUES ('00000000-0000-4000-8000-000000000004', 'a', 'x', 1, 'md5:abc', 'registered', NULL)", "23514"),
        // An annotation on two targets at once.
        ("INSERT INTO annotations (investigation_id, assay_id, kind, namespace, key, created_by) VALUES ('00000000-0000-4000-8000-000000000002', '00000000-0000-4000-8000-000000000004', 'tag', 'ns', 'k', 'x')", "23514"),
        // A resource with an unknown role, a relative root.
        ("INSERT INTO resources (name, role, root_path) VALUES ('x', 'scratch', '/x')", "23514"),
        ("INSERT INTO resources (name, role, root_path) VALUES ('y', 'vault', 'relative/x')", "23514"),
        // Two studies of one name in one investigation.
        ("INSERT INTO studies (investigation_id, name) VALUES ('00000000-0000-4000-8000-000000000002', 'hela')", "23505"),
        // A token hash of the wrong length.
        ("INSERT INTO watcher_tokens (zone_id, token_sha256) VALUES ('00000000-0000-4000-8000-000000000001', '\\x00')", "23514"),
    ])
    func invalidStatesAreRefused(statement: String, sqlState: String) async throws {
        let database = try await TestDatabase.create()
        try await database.withClient { client throws in
            #expect(await Self.sqlState(client, Self.seed) == nil)
            #expect(await Self.sqlState(client, [statement]) == sqlState)
        }
        await database.drop()
    }
}
