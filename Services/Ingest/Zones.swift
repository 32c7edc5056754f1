import FairwayStorage
import Foundation
import Logging
import PostgresNIO

/// A resource root as the catalog declares it.
struct Zone: Sendable {
    let id: UUID
    let name: String
    let role: String
    let root: ZoneRoot
}

/// Zones by name, cached briefly: every request names one, and they change only by operator action.
actor ZoneDirectory {
    private let client: PostgresClient
    private let logger: Logger
    private var cache: [String: (zone: Zone?, expires: ContinuousClock.Instant)] = [:]
    private let ttl: Duration = .seconds(5)

    init(client: PostgresClient, logger: Logger) {
        self.client = client
        self.logger = logger
    }

    func zone(named name: String) async throws -> Zone? {
        if let hit = cache[name], hit.expires > .now { return hit.zone }
        var found: Zone?
        let rows = try await client.query("SELECT id, role, root_path FROM resources WHERE name = \(name)", logger: logger)
        for try await (id, role, root) in rows.decode((UUID, String, String).self) {
            found = Zone(id: id, name: name, role: role, root: ZoneRoot(trusted: root))
        }
        if cache.count > 10_000 { cache.removeAll() }
        cache[name] = (found, .now + ttl)
        return found
    }
}

/// Investigation/study/assay ids by name. The rows are created on first use and never renamed, so
/// an id once seen stays valid; this saves a round trip on every acquisition.
actor AssayDirectory {
    private var cache: [String: UUID] = [:]

    func id(investigation: String, study: String, assay: String, member: String,
            on connection: PostgresConnection, logger: Logger) async throws -> UUID {
        let key = "\(investigation)\u{0}\(study)\u{0}\(assay)"
        if let id = cache[key] { return id }
        let rows = try await connection.query(
            "SELECT fairway_assay(\(investigation), \(study), \(assay), \(member))", logger: logger)
        var found: UUID?
        for try await id in rows.decode(UUID.self) { found = id }
        guard let found else { throw CatalogInconsistency("fairway_assay returned nothing") }
        if cache.count > 100_000 { cache.removeAll() }
        cache[key] = found
        return found
    }
}

/// The catalog answered something that its constraints should have made impossible.
struct CatalogInconsistency: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
