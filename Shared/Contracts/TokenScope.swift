/// What a watcher token lets its holder do in its zone.
public enum TokenScope: String, Sendable, CaseIterable, Codable, Comparable {
    /// Post acquisitions (and look up the ones posted): all a watcher on an acquisition PC needs.
    case acquire
    /// Read the zone's catalog: objects, their content, search.
    case read
    /// Request publications and follow their registration.
    case publish

    /// What the scope allows, for error messages.
    public var allows: String {
        switch self {
        case .acquire: "post acquisitions"
        case .read: "read the catalog"
        case .publish: "request publications"
        }
    }

    public static func < (lhs: TokenScope, rhs: TokenScope) -> Bool {
        allCases.firstIndex(of: lhs)! < allCases.firstIndex(of: rhs)!
    }
}
