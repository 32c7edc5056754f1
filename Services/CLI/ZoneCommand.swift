import ArgumentParser
import FairwayContracts
import FairwayStorage
import Foundation
import PostgresNIO

/// `fairway zone add|list`: the resource roots Fairway knows.
struct ZoneCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "zone",
        abstract: "Declare and list zones (resource roots: landing buffers, vault, derived, cold).",
        subcommands: [Add.self, List.self]
    )

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Declare a zone: a folder that Fairway registers files under (landing) or copies them to.",
            discussion: "The folder must exist; it is stored with symbolic links resolved. Watchers post paths relative to it."
        )

        @Argument(help: "Zone name (\(CatalogName.rule)).") var name: String
        @Option(help: "Root folder of the zone.") var path: String
        @Option(help: "landing (acquisition buffer), vault, derived or cold.") var role: String = "landing"
        @OptionGroup var catalog: CatalogOptions

        func validate() throws {
            guard CatalogName.isValid(name) else { throw ValidationError("zone name must be \(CatalogName.rule)") }
            guard ["landing", "vault", "derived", "cold"].contains(role) else { throw ValidationError("--role must be landing, vault, derived or cold") }
        }

        func run() async throws {
            let absolute = path.hasPrefix("/") ? path : FileManager.default.currentDirectoryPath + "/" + path
            let root: ZoneRoot
            do { root = try ZoneRoot(canonicalizing: absolute) } catch { throw CommandFailure(error.description) }
            let (name, role) = (name, role)
            try await catalog.withCatalog { client, logger in
                let rows = try await client.query("""
                    WITH added AS (
                        INSERT INTO resources (name, role, root_path) VALUES (\(name), \(role), \(root.path))
                        ON CONFLICT (name) DO NOTHING RETURNING id
                    ), audit AS (
                        INSERT INTO audit_log (actor, action, target_kind, target_id, details)
                        SELECT 'cli', 'zone.add', 'resource', id::text, jsonb_build_object('name', \(name)::text, 'role', \(role)::text, 'root', \(root.path)::text)
                        FROM added
                    )
                    SELECT count(*)::int FROM added
                    """, logger: logger)
                var added = 0
                for try await count in rows.decode(Int.self) { added = count }
                guard added == 1 else {
                    // Same declaration again is fine; a different one is refused.
                    for try await (existingRole, existingRoot) in try await client.query(
                        "SELECT role, root_path FROM resources WHERE name = \(name)", logger: logger).decode((String, String).self) {
                        if existingRole == role && existingRoot == root.path {
                            print("zone \(name) already declared: \(role) at \(root.path)")
                            return
                        }
                        throw CommandFailure("zone \(name) already exists as \(existingRole) at \(existingRoot)")
                    }
                    return
                }
                print("zone \(name) added: \(role) at \(root.path)")
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List zones.")
        @Flag(help: "Print JSON.") var json = false
        @OptionGroup var catalog: CatalogOptions

        func run() async throws {
            let json = json
            try await catalog.withCatalog { client, logger in
                var rows: [[String]] = []
                for try await (name, role, root, tokens) in try await client.query("""
                    SELECT r.name, r.role, r.root_path,
                           (SELECT count(*)::int FROM watcher_tokens t WHERE t.zone_id = r.id AND t.revoked_at IS NULL)
                    FROM resources r ORDER BY r.name
                    """, logger: logger).decode((String, String, String, Int).self) {
                    rows.append([name, role, root, String(tokens)])
                }
                printTable(["name", "role", "root", "active_tokens"], rows, json: json)
            }
        }
    }
}
