import FairwayCatalog
import Foundation
import PostgresNIO

/// What the catalog knows about the image an `object.converted` names, and about the file the
/// user registered (its name is what naming rules judge).
struct ImageOfRecord: Decodable, Sendable {
    let id: UUID
    let state: String
    let version: Int
    let logicalPath: String
    let sourceID: UUID
    let sourceLogicalPath: String
    let acquiredAt: String?
    let investigation: String
    let study: String
    let assay: String
    let namingPattern: String?
    let physicalPath: String?

    /// The registered file's own name, without its folders.
    var sourceFileName: String { String(sourceLogicalPath.split(separator: "/").last ?? Substring(sourceLogicalPath)) }

    /// Prepared once per connection: planning this join costs more than running it.
    struct Load: ObjectLookup {
        let id: UUID
        static var sql: String { """
            SELECT json_build_object(
                'id', o.id, 'state', o.state, 'version', o.version, 'logicalPath', o.logical_path,
                'sourceID', COALESCE(p.id, o.id), 'sourceLogicalPath', COALESCE(p.logical_path, o.logical_path),
                'acquiredAt', to_char(COALESCE(o.acquired_at, p.acquired_at) AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'),
                'investigation', i.name, 'study', s.name, 'assay', y.name, 'namingPattern', i.naming_pattern,
                'physicalPath', \(readablePath(of: "o.id")))::text
            FROM objects o
            LEFT JOIN objects p ON p.id = o.parent_id
            JOIN assays y ON y.id = o.assay_id JOIN studies s ON s.id = y.study_id JOIN investigations i ON i.id = s.investigation_id
            WHERE o.id = $1
            """ }
    }
}
