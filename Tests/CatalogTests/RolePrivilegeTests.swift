import FairwayCatalog
import FairwayTestSupport
import Foundation
import PostgresNIO
import Testing

/// Least privilege in PostgreSQL, shown on a migrated database: each service's role holds exactly
/// the grants `deploy/postgres/role-privileges.tsv` lists, and every other read, write, truncate
/// and schema change is refused when tried as that role.
@Suite("least privilege in PostgreSQL")
struct RolePrivilegeTests {
    static let roles = ["fairway_ingest", "fairway_converter", "fairway_metadata", "fairway_qc", "fairway_retention", "fairway_doi"]

    /// role → table → privileges, from the committed file.
    static func expected() throws -> [String: [String: Set<String>]] {
        let text = try String(contentsOf: TestEnvironment.repositoryRoot.appendingPathComponent("deploy/postgres/role-privileges.tsv"), encoding: .utf8)
        var grants: [String: [String: Set<String>]] = [:]
        for line in text.split(separator: "\n") where !line.hasPrefix("#") {
            let fields = line.split(separator: "\t").map(String.init)
            guard fields.count == 3 else { continue }
            grants[fields[0], default: [:]][fields[1]] = Set(fields[2].split(separator: ",").map(String.init))
        }
        return grants
    }

    /// SQLSTATE of `statement` run in a transaction that is rolled back; `verify` (a boolean query
    /// run after it) turns a statement that succeeded but changed something into "changed".
    static func sqlState(_ connection: PostgresConnection, _ statement: String, verify: String? = nil) async -> String? {
        do {
            try await connection.query("BEGIN", logger: TestEnvironment.logger)
            try await connection.query(PostgresQuery(unsafeSQL: statement), logger: TestEnvironment.logger)
            var changed = false
            if let verify {
                for try await flag in try await connection.query(PostgresQuery(unsafeSQL: verify), logger: TestEnvironment.logger).decode(Bool.self) {
                    changed = flag
                }
            }
            try await connection.query("ROLLBACK", logger: TestEnvironment.logger)
            return changed ? "changed" : nil
        } catch let error as PSQLError {
            _ = try? await connection.query("ROLLBACK", logger: TestEnvironment.logger)
            return error.serverInfo?[.sqlState] ?? "\(error)"
        } catch {
            _ = try? await connection.query("ROLLBACK", logger: TestEnvironment.logger)
            return "\(error)"
        }
    }

    /// The test database's URL with a service role's own login (as the services connect).
    static func url(of role: String, database: TestDatabase) throws -> String {
        let variable = "FAIRWAY_\(role.dropFirst("fairway_".count).uppercased())_DATABASE_URL"
        var components = try #require(URLComponents(string: try TestEnvironment.require(variable)))
        components.path = "/\(database.name)"
        return try #require(components.string)
    }

    @Test("each service role holds exactly the committed grants, none is superuser or may create roles or databases, and no role may touch schema_migrations")
    func grantsAreExactlyTheCommittedOnes() async throws {
        let database = try await TestDatabase.create()
        try await database.withClient { client throws in
            var actual: [String: [String: Set<String>]] = [:]
            let rows = try await client.query("""
                SELECT grantee::text, table_name::text, privilege_type::text FROM information_schema.role_table_grants
                WHERE grantee LIKE 'fairway\\_%' AND table_schema = 'public'
                """, logger: TestEnvironment.logger)
            for try await (role, table, privilege) in rows.decode((String, String, String).self) {
                actual[role, default: [:]][table, default: []].insert(privilege)
            }
            // Grants on single columns, as PRIVILEGE(column).
            let columns = try await client.query("""
                SELECT r.rolname::text, c.relname::text, x.privilege_type || '(' || a.attname || ')'
                FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
                JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = 'public'
                CROSS JOIN LATERAL aclexplode(a.attacl) x JOIN pg_roles r ON r.oid = x.grantee
                WHERE a.attacl IS NOT NULL AND r.rolname LIKE 'fairway\\_%'
                """, logger: TestEnvironment.logger)
            for try await (role, table, privilege) in columns.decode((String, String, String).self) {
                actual[role, default: [:]][table, default: []].insert(privilege)
            }
            let expected = try Self.expected()
            #expect(Set(expected.keys) == Set(Self.roles))
            for role in Self.roles {
                for table in Set(actual[role, default: [:]].keys).union(expected[role, default: [:]].keys).sorted() {
                    #expect(actual[role]?[table] == expected[role]?[table], "\(role) on \(table)")
                }
            }
            #expect(actual.values.allSatisfy { $0["schema_migrations"] == nil })
            let attributes = try await client.query("""
                SELECT count(*)::int FROM pg_roles WHERE rolname = ANY(\(Self.roles))
                AND NOT rolsuper AND NOT rolcreaterole AND NOT rolcreatedb AND NOT rolbypassrls AND NOT rolreplication
                """, logger: TestEnvironment.logger)
            for try await count in attributes.decode(Int.self) { #expect(count == Self.roles.count) }
        }
        await database.drop()
    }

    @Test("logged in as each service role, every read, insert, update, delete and truncate it was not granted is refused (42501), and so are DDL and role changes")
    func everythingElseIsRefused() async throws {
        let database = try await TestDatabase.create()
        try await database.withClient { client throws in
            var tables: [(name: String, column: String)] = []
            let rows = try await client.query("""
                SELECT c.table_name::text, min(c.column_name::text) FROM information_schema.columns c
                JOIN pg_tables t ON t.tablename = c.table_name AND t.schemaname = 'public'
                WHERE c.table_schema = 'public' GROUP BY 1 ORDER BY 1
                """, logger: TestEnvironment.logger)
            for try await (table, column) in rows.decode((String, String).self) { tables.append((table, column)) }
            try #require(tables.count >= 25, "\(tables)")
            let expected = try Self.expected()
            var tried = 0, refused: [String] = [], allowed: [String] = []
            for role in Self.roles {
                let granted = expected[role] ?? [:]
                var statements: [(what: String, sql: String, verify: String?)] = []
                for table in tables {
                    let has = granted[table.name] ?? []
                    if !has.contains("SELECT") { statements.append(("SELECT \(table.name)", "SELECT 1 FROM \(table.name) LIMIT 1", nil)) }
                    if !has.contains("INSERT") { statements.append(("INSERT \(table.name)", "INSERT INTO \(table.name) DEFAULT VALUES", nil)) }
                    if !has.contains("UPDATE") { statements.append(("UPDATE \(table.name)", "UPDATE \(table.name) SET \(table.column) = \(table.column) WHERE false", nil)) }
                    if !has.contains("DELETE") { statements.append(("DELETE \(table.name)", "DELETE FROM \(table.name) WHERE false", nil)) }
                    statements.append(("TRUNCATE \(table.name)", "TRUNCATE \(table.name)", nil))
                    statements.append(("ALTER \(table.name)", "ALTER TABLE \(table.name) ADD COLUMN spy int", nil))
                    // A GRANT without the grant option only warns: what counts is that nothing was granted.
                    statements.append(("GRANT \(table.name)", "GRANT ALL ON \(table.name) TO PUBLIC",
                                       "SELECT has_table_privilege('public', '\(table.name)', 'SELECT,INSERT,UPDATE,DELETE')"))
                }
                statements += [
                    ("CREATE TABLE", "CREATE TABLE spy (x int)", nil),
                    ("DROP TABLE objects", "DROP TABLE objects", nil),
                    ("CREATE FUNCTION", "CREATE FUNCTION spy() RETURNS int LANGUAGE sql AS 'SELECT 1'", nil),
                    ("SET ROLE fairway", "SET ROLE fairway", nil),
                    ("ALTER ROLE", "ALTER ROLE \(role) SUPERUSER", nil),
                    ("CREATE ROLE", "CREATE ROLE spy", nil),
                    ("COPY TO PROGRAM", "COPY (SELECT 1) TO PROGRAM 'true'", nil),
                    ("pg_read_file", "SELECT pg_read_file('/etc/passwd')", nil),
                ]
                let tries = statements
                let outcomes = try await PostgresClient.withClient(url: try Self.url(of: role, database: database), logger: TestEnvironment.logger) { own in
                    try await own.withConnection { connection in
                        var states: [String?] = []
                        for (_, sql, verify) in tries { states.append(await Self.sqlState(connection, sql, verify: verify)) }
                        return states
                    }
                }
                for ((what, _, verify), state) in zip(statements, outcomes) {
                    tried += 1
                    if state == "42501" || (verify != nil && state == nil) { refused.append("\(role) \(what)") } else { allowed.append("\(role) \(what): \(state ?? "succeeded")") }
                }
            }
            #expect(allowed.isEmpty, "not refused: \(allowed)")
            print("PostgreSQL privileges: \(tried) statements tried as \(Self.roles.count) service roles over \(tables.count) tables, \(refused.count) refused")
        }
        await database.drop()
    }
}
