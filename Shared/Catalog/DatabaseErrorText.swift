public import PostgresNIO

/// PostgresNIO's errors print a generic text on purpose (no leaked data); operators and the
/// action log need the server's message instead (constraint names and values are ours).
public func describeDatabaseError(_ error: any Error) -> String {
    guard let error = error as? PSQLError else { return String(describing: error) }
    if let message = error.serverInfo?[.message] {
        let detail = error.serverInfo?[.detail].map { " (\($0))" } ?? ""
        return "database: \(message)\(detail)"
    }
    return "database: \(error.code)"
}
