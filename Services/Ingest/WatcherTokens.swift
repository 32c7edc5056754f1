import Hummingbird
import Crypto
import FairwayContracts
import Foundation
import Logging
import PostgresNIO

/// Who posted: the zone their token is scoped to and the owner recorded with it.
struct WatcherIdentity: Sendable {
    let tokenID: UUID
    let zone: String
    let owner: String
    let scopes: Set<TokenScope>
}

/// Bearer tokens of watchers. Only SHA-256 digests are stored, so the table gives nothing away;
/// a revoked token stops working on its next request.
struct WatcherTokens: Sendable {
    let client: PostgresClient
    let logger: Logger

    static func digest(_ token: String) -> [UInt8] { Array(SHA256.hash(data: Data(token.utf8))) }

    func identify(_ token: String) async throws -> WatcherIdentity? {
        guard !token.isEmpty, token.utf8.count <= 256 else { return nil }
        let digest = ByteBuffer(bytes: Self.digest(token))
        // last_used_at is refreshed at most once a minute per token: a write per request would cost
        // more than the request.
        let rows = try await client.query("""
            WITH hit AS (
                SELECT t.id, r.name, COALESCE(NULLIF(t.owner, ''), NULLIF(t.label, ''), r.name) AS owner, t.scopes, t.last_used_at
                FROM watcher_tokens t JOIN resources r ON r.id = t.zone_id
                WHERE t.token_sha256 = \(digest) AND t.revoked_at IS NULL
            ), touched AS (
                UPDATE watcher_tokens SET last_used_at = now()
                WHERE id IN (SELECT id FROM hit WHERE last_used_at IS NULL OR last_used_at < now() - interval '1 minute')
            )
            SELECT id, name, owner, scopes FROM hit
            """, logger: logger)
        for try await (id, zone, owner, scopes) in rows.decode((UUID, String, String, [String]).self) {
            return WatcherIdentity(tokenID: id, zone: zone, owner: owner, scopes: Set(scopes.compactMap(TokenScope.init(rawValue:))))
        }
        return nil
    }
}

extension WatcherTokens {
    /// The identity behind `Authorization: Bearer <token>`, or a 401 saying what is wrong.
    func authenticate(_ request: Request) async throws -> WatcherIdentity {
        guard let header = request.headers[.authorization] else {
            throw APIError(.unauthorized, "unauthorized", "send Authorization: Bearer <token> (fairway token create)")
        }
        let parts = header.split(separator: " ", maxSplits: 1)
        guard parts.count == 2, parts[0].lowercased() == "bearer" else {
            throw APIError(.unauthorized, "unauthorized", "the Authorization header must be 'Bearer <token>'")
        }
        guard let identity = try await identify(String(parts[1]).trimmingCharacters(in: .whitespaces)) else {
            throw APIError(.unauthorized, "unauthorized", "the token is unknown or revoked")
        }
        return identity
    }

    /// The identity, when its token holds one of `scopes`; a 403 naming what it lacks otherwise.
    func authenticate(_ request: Request, for scopes: TokenScope...) async throws -> WatcherIdentity {
        try await authenticate(request, anyOf: scopes)
    }

    func authenticate(_ request: Request, anyOf scopes: [TokenScope]) async throws -> WatcherIdentity {
        let identity = try await authenticate(request)
        guard !identity.scopes.isDisjoint(with: scopes) else {
            let held = identity.scopes.sorted().map(\.rawValue).joined(separator: ", ")
            throw APIError(.forbidden, "scope missing",
                           "this token may not \(scopes[0].allows) (its scopes: \(held)); an operator can create one that may: fairway token create --zone \(identity.zone) --scope \(scopes[0].rawValue)")
        }
        return identity
    }
}
