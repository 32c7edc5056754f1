import ArgumentParser
import Foundation
import PostgresNIO

/// `fairway member set|list`: who belongs to an investigation, with which role. Owners publish its
/// studies through the catalog API and receive its notices.
struct MemberCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "member",
        abstract: "Set or list the members of an investigation (owner, member, viewer).",
        subcommands: [Set.self, List.self]
    )

    struct Set: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Give a user a role in an investigation (recorded in the audit log).")
        @Option(help: "Investigation.") var investigation: String
        @Argument(help: "User name (as token owners and acquisitions name them).") var user: String
        @Option(help: "owner, member or viewer.") var role: String
        @OptionGroup var catalog: CatalogOptions

        func validate() throws {
            guard ["owner", "member", "viewer"].contains(role) else { throw ValidationError("--role must be owner, member or viewer") }
            guard (1 ... 200).contains(user.count), !user.contains(where: { $0.isNewline || $0 == "\0" }) else {
                throw ValidationError("the user name must be 1 to 200 characters on one line")
            }
        }

        func run() async throws {
            let investigation = investigation, user = user, role = role
            let actor = "cli:" + (ProcessInfo.processInfo.environment["USER"] ?? "operator")
            let changed = try await catalog.withCatalog { client, logger in
                try await client.withTransaction(logger: logger) { connection in
                    var found = false
                    for try await _ in try await connection.query("""
                        INSERT INTO investigation_members (investigation_id, username, role)
                        SELECT id, \(user), \(role) FROM investigations WHERE name = \(investigation)
                        ON CONFLICT (investigation_id, username) DO UPDATE SET role = EXCLUDED.role
                        RETURNING 1
                        """, logger: logger) { found = true }
                    guard found else { throw CommandFailure("no investigation \(investigation)") }
                    try await connection.query("""
                        INSERT INTO audit_log (actor, action, target_kind, target_id, details)
                        VALUES (\(actor), 'member.set', 'investigation', \(investigation), jsonb_build_object('user', \(user)::text, 'role', \(role)::text))
                        """, logger: logger)
                    return found
                }
            }
            if changed { print("\(user) is \(role) of \(investigation)") }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the members of an investigation.")
        @Option(help: "Investigation.") var investigation: String
        @Flag(help: "Print JSON.") var json = false
        @OptionGroup var catalog: CatalogOptions

        func run() async throws {
            let investigation = investigation
            let rows = try await catalog.withCatalog { client, logger in
                var rows: [[String]] = []
                for try await (user, role) in try await client.query("""
                    SELECT m.username, m.role FROM investigation_members m JOIN investigations i ON i.id = m.investigation_id
                    WHERE i.name = \(investigation) ORDER BY m.role, m.username
                    """, logger: logger).decode((String, String).self) { rows.append([user, role]) }
                return rows
            }
            printTable(["user", "role"], rows, json: json)
        }
    }
}
