public import Foundation
public import PostgresNIO

/// A prepared statement that looks one object up by id and returns one JSON document: what the
/// pipeline's steps load before reading a file. Planning their joins costs more than running them,
/// so each is prepared once per connection.
public protocol ObjectLookup: PostgresPreparedStatement where Row == String {
    var id: UUID { get }
}

extension ObjectLookup {
    public func makeBindings() throws -> PostgresBindings {
        var bindings = PostgresBindings()
        bindings.append(id)
        return bindings
    }

    public func decodeRow(_ row: PostgresRow) throws -> String { try row.decode(String.self) }

    /// SQL for the path a step reads object `object` at: a good replica whose path is valid
    /// UTF-8, hot storage before cold.
    public static func readablePath(of object: String) -> String {
        """
        (SELECT r.physical_path FROM replicas r JOIN resources res ON res.id = r.resource_id
         WHERE r.object_id = \(object) AND r.status = 'good' AND r.physical_path_bytes IS NULL
         ORDER BY res.role = 'cold', res.name LIMIT 1)
        """
    }
}
