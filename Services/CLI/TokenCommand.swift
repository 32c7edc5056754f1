import ArgumentParser
import Crypto
import FairwayContracts
import Foundation
import NIOCore
import PostgresNIO

/// `fairway token create|list|revoke`: bearer tokens for watchers, one zone each. Only a SHA-256
/// of a token is stored; the token itself is printed once.
struct TokenCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "token",
        abstract: "Create, list and revoke watcher tokens (each scoped to one landing zone) and operator tokens (the web dashboard's actions).",
        subcommands: [Create.self, List.self, Revoke.self]
    )

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create a token for a landing zone (or, with --operator, for the dashboard) and print it (only the token, on stdout).",
            discussion: "Store it where the watcher reads it (fairway watch --token-file), or log in to /ui with an operator token. It cannot be shown again."
        )

        @Option(help: "Landing zone the token may post to.") var zone: String?
        @Flag(name: .customLong("operator"), help: "A token for operators: log in to the dashboard (/ui) to replay failed objects.") var forOperator = false
        @Option(help: "Owner recorded on acquisitions that do not name one (default: the label, else the zone).") var owner: String?
        @Option(help: "Free text to recognise the token by, e.g. the microscope's name.") var label: String = ""
        @Option(name: .customLong("scope"), help: ArgumentHelp(
            "What the token may do in its zone, repeatable: acquire (post acquisitions), read (the catalog), publish (request publications).",
            valueName: "acquire|read|publish")) var scopes: [String] = []
        @OptionGroup var catalog: CatalogOptions

        func validate() throws {
            guard (zone == nil) == forOperator else { throw ValidationError("give --zone ZONE (a watcher token) or --operator") }
            if forOperator && !scopes.isEmpty { throw ValidationError("--scope is for watcher tokens; an operator token acts on the dashboard") }
            for scope in scopes where TokenScope(rawValue: scope) == nil {
                throw ValidationError("unknown scope '\(scope.prefix(40))': use acquire, read or publish")
            }
        }

        func run() async throws {
            var random = SystemRandomNumberGenerator()
            let bytes = (0 ..< 32).map { _ in UInt8.random(in: .min ... .max, using: &random) }
            let token = "fwt_" + Data(bytes).base64EncodedString()
                .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
            let digest = ByteBuffer(bytes: Array(SHA256.hash(data: Data(token.utf8))))
            if forOperator {
                let label = label
                let id: UUID = try await catalog.withCatalog { client, logger in
                    for try await id in try await client.query("""
                        WITH created AS (INSERT INTO operator_tokens (token_sha256, label) VALUES (\(digest), \(label)) RETURNING id),
                        audit AS (
                            INSERT INTO audit_log (actor, action, target_kind, target_id, details)
                            SELECT 'cli', 'token.create', 'operator_token', id::text, jsonb_build_object('label', \(label)::text) FROM created
                        )
                        SELECT id FROM created
                        """, logger: logger).decode(UUID.self) { return id }
                    throw CommandFailure("the token was not stored")
                }
                print(token)
                note("operator token \(id.uuidString.lowercased()) created; it is shown only this once")
                return
            }
            let (zone, owner, label) = (zone!, owner, label)
            // A watcher only posts, unless told otherwise.
            let scopes = Set(scopes.compactMap(TokenScope.init(rawValue:))).union(scopes.isEmpty ? [.acquire] : []).sorted().map(\.rawValue)
            let id: UUID? = try await catalog.withCatalog { client, logger in
                for try await id in try await client.query("""
                    WITH zone AS (SELECT id FROM resources WHERE name = \(zone) AND role = 'landing'),
                    created AS (
                        INSERT INTO watcher_tokens (zone_id, token_sha256, label, owner, scopes)
                        SELECT id, \(digest), \(label), \(owner), \(scopes) FROM zone RETURNING id
                    ), audit AS (
                        INSERT INTO audit_log (actor, action, target_kind, target_id, details)
                        SELECT 'cli', 'token.create', 'watcher_token', id::text,
                               jsonb_build_object('zone', \(zone)::text, 'label', \(label)::text, 'scopes', \(scopes)::text[])
                        FROM created
                    )
                    SELECT id FROM created
                    """, logger: logger).decode(UUID.self) { return id }
                return nil
            }
            guard let id else { throw CommandFailure("no landing zone is named '\(zone)' (fairway zone list)") }
            print(token)
            note("token \(id.uuidString.lowercased()) created for zone \(zone) (may \(scopes.compactMap { TokenScope(rawValue: $0)?.allows }.joined(separator: ", "))); it is shown only this once")
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List tokens (never the tokens themselves).")
        @Option(help: "Only this zone.") var zone: String?
        @Flag(help: "Include revoked tokens.") var all = false
        @Flag(help: "Print JSON.") var json = false
        @OptionGroup var catalog: CatalogOptions

        func run() async throws {
            let (zone, all, json) = (zone, all, json)
            try await catalog.withCatalog { client, logger in
                var rows: [[String]] = []
                for try await (id, zoneName, label, owner, scopes, created, used, revoked) in try await client.query("""
                    SELECT t.id, r.name, t.label, COALESCE(t.owner, ''), array_to_string(t.scopes, ','), t.created_at::text,
                           COALESCE(t.last_used_at::text, ''), COALESCE(t.revoked_at::text, '')
                    FROM watcher_tokens t JOIN resources r ON r.id = t.zone_id
                    WHERE (\(zone)::text IS NULL OR r.name = \(zone)) AND (\(all) OR t.revoked_at IS NULL)
                    ORDER BY t.created_at
                    """, logger: logger).decode((UUID, String, String, String, String, String, String, String).self) {
                    rows.append([id.uuidString.lowercased(), zoneName, label, owner, scopes, created, used, revoked])
                }
                printTable(["id", "zone", "label", "owner", "scopes", "created", "last_used", "revoked"], rows, json: json)
            }
        }
    }

    struct Revoke: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Revoke a token by its id (fairway token list) or by the token itself; it stops working at once."
        )
        @Argument(help: "Token id, or the token (fwt_...).") var token: String
        @OptionGroup var catalog: CatalogOptions

        func run() async throws {
            let byID = UUID(uuidString: token)
            let digest = ByteBuffer(bytes: Array(SHA256.hash(data: Data(token.utf8))))
            let revoked: Int = try await catalog.withCatalog { client, logger in
                var count = 0
                for try await n in try await client.query("""
                    WITH revoked AS (
                        UPDATE watcher_tokens SET revoked_at = now()
                        WHERE (id = \(byID) OR token_sha256 = \(digest)) AND revoked_at IS NULL RETURNING id
                    ), audit AS (
                        INSERT INTO audit_log (actor, action, target_kind, target_id) SELECT 'cli', 'token.revoke', 'watcher_token', id::text FROM revoked
                    )
                    SELECT count(*)::int FROM revoked
                    """, logger: logger).decode(Int.self) { count = n }
                return count
            }
            guard revoked > 0 else { throw CommandFailure("no active token matches") }
            print("revoked")
        }
    }
}
