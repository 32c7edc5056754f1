import FairwayCatalog
import Foundation
import Logging
import PostgresNIO

/// A physical copy of an object as the catalog records it, with its resource.
struct ReplicaRecord: Sendable {
    let id: UUID
    let resourceID: UUID
    let resource: String
    let role: String
    let root: String
    let path: String
    let status: String
    let checksum: String?
    let verified: Bool
    /// The path is not UTF-8 and only its bytes open it; retention leaves such replicas alone.
    let rawPath: Bool

    var isGood: Bool { status == "good" }
}

/// One object with everything an action needs: its place in the ISA tree (for the layout of new
/// replicas), its checksum, its policy and its replicas.
struct CatalogObject: Sendable {
    let id: UUID
    let logicalPath: String
    let checksum: String?
    let size: Int64
    let state: String
    let investigation: String
    let study: String
    let assay: String
    let policy: RetentionPolicy
    let replicas: [ReplicaRecord]

    /// Where a new replica of this object goes under a resource root: the ISA names, then the
    /// logical path (zone and acquisition folders). Unique because logical paths are per assay.
    var layout: String { "\(investigation)/\(study)/\(assay)/\(logicalPath)" }

    func replica(on resourceID: UUID) -> ReplicaRecord? { replicas.first { $0.resourceID == resourceID } }

    /// A replica that holds the catalog's bytes.
    func isIntact(_ replica: ReplicaRecord) -> Bool { replica.isGood && replica.checksum != nil && replica.checksum == checksum }

    /// The replica to copy from: intact, readable by path, the fastest storage first.
    func bestSource(excluding resourceID: UUID) -> ReplicaRecord? {
        let order = ["landing": 0, "vault": 1, "derived": 2, "cold": 3]
        return replicas.filter { $0.resourceID != resourceID && isIntact($0) && !$0.rawPath }
            .min { (order[$0.role] ?? 9, $0.resource) < (order[$1.role] ?? 9, $1.resource) }
    }

    static func load(_ id: UUID, client: PostgresClient, logger: Logger) async throws -> CatalogObject? {
        let rows = try await client.query("""
            SELECT o.logical_path, o.checksum, o.size_bytes, o.state, i.name, s.name, a.name, e.policy::text
            FROM objects o JOIN assays a ON a.id = o.assay_id JOIN studies s ON s.id = a.study_id
            JOIN investigations i ON i.id = s.investigation_id
            JOIN retention_effective_policies e ON e.investigation_id = i.id
            WHERE o.id = \(id)
            """, logger: logger)
        var found: (String, String?, Int64, String, String, String, String, String)?
        for try await row in rows.decode((String, String?, Int64, String, String, String, String, String).self) { found = row }
        guard let (path, checksum, size, state, investigation, study, assay, policyJSON) = found else { return nil }
        let policy = (try? RetentionPolicy.parse(json: Data(policyJSON.utf8))) ?? RetentionPolicy()
        var replicas: [ReplicaRecord] = []
        for try await (replicaID, resourceID, name, role, root, physical, status, sum, verified, raw) in try await client.query("""
            SELECT r.id, x.id, x.name, x.role, x.root_path, r.physical_path, r.status, r.checksum,
                   r.last_verified_at IS NOT NULL, r.physical_path_bytes IS NOT NULL
            FROM replicas r JOIN resources x ON x.id = r.resource_id
            WHERE r.object_id = \(id) ORDER BY x.name
            """, logger: logger).decode((UUID, UUID, String, String, String, String, String, String?, Bool, Bool).self) {
            replicas.append(ReplicaRecord(id: replicaID, resourceID: resourceID, resource: name, role: role, root: root, path: physical,
                                          status: status, checksum: sum, verified: verified, rawPath: raw))
        }
        return CatalogObject(id: id, logicalPath: path, checksum: checksum, size: size, state: state, investigation: investigation,
                             study: study, assay: assay, policy: policy, replicas: replicas)
    }
}

/// A resource root by id.
struct ResourceRecord: Sendable {
    let id: UUID
    let name: String
    let role: String
    let root: String

    static func load(_ id: UUID, client: PostgresClient, logger: Logger) async throws -> ResourceRecord? {
        for try await (name, role, root) in try await client.query("SELECT name, role, root_path FROM resources WHERE id = \(id)", logger: logger)
            .decode((String, String, String).self) {
            return ResourceRecord(id: id, name: name, role: role, root: root)
        }
        return nil
    }
}
