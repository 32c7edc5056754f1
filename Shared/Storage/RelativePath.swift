/// A path inside a zone as a watcher sends it, checked before it touches the filesystem: relative,
/// no `..`, no NUL, bounded. `.` and empty components are dropped, so `a//./b` is `a/b`.
public struct RelativePath: Hashable, Sendable, CustomStringConvertible {
    public static let maxBytes = 4096
    public let components: [String]

    public init(_ text: String) throws(PathError) {
        guard !text.isEmpty else { throw .empty }
        guard text.utf8.count <= Self.maxBytes else { throw .tooLong(bytes: text.utf8.count, limit: Self.maxBytes) }
        guard !text.utf8.contains(0) else { throw .nulByte }
        guard !text.hasPrefix("/") else { throw .absolute(text) }
        let parts = text.split(separator: "/", omittingEmptySubsequences: true).map(String.init).filter { $0 != "." }
        guard !parts.contains("..") else { throw .parentReference(text) }
        guard !parts.isEmpty else { throw .empty }
        guard parts.allSatisfy({ $0.utf8.count <= 255 }) else { throw .tooLong(bytes: text.utf8.count, limit: 255) }
        components = parts
    }

    public var description: String { components.joined(separator: "/") }
    /// The folders above the last component, top first.
    public var folders: ArraySlice<String> { components.dropLast() }
}

/// Why a path from outside was refused, or could not be used.
public enum PathError: Error, Equatable, Sendable, CustomStringConvertible {
    case empty
    case tooLong(bytes: Int, limit: Int)
    case nulByte
    case absolute(String)
    case parentReference(String)
    case notFound(String)
    case escapesZone(String)
    case notFileOrFolder(String)
    case zoneRootUnusable(String)
    case unreadable(String, reason: String)

    public var description: String {
        switch self {
        case .empty: "path is empty"
        case .tooLong(let bytes, let limit): "path is \(bytes) bytes, over the \(limit)-byte limit"
        case .nulByte: "path contains a NUL byte"
        case .absolute(let path): "path '\(path.prefix(256))' is absolute; send it relative to the zone root"
        case .parentReference(let path): "path '\(path.prefix(256))' contains '..'"
        case .notFound(let path): "'\(path.prefix(256))' does not exist in the zone"
        case .escapesZone(let path): "'\(path.prefix(256))' resolves outside the zone root (symbolic link?)"
        case .notFileOrFolder(let path): "'\(path.prefix(256))' is neither a regular file nor a folder"
        case .zoneRootUnusable(let reason): "zone root is unusable: \(reason)"
        case .unreadable(let path, let reason): "cannot read '\(path.prefix(256))': \(reason)"
        }
    }

    /// Refusals of the request itself, as opposed to the state of the filesystem.
    public var isMalformedRequest: Bool {
        switch self {
        case .empty, .tooLong, .nulByte: true
        default: false
        }
    }

    public var isConfinementViolation: Bool {
        switch self {
        case .absolute, .parentReference, .escapesZone: true
        default: false
        }
    }
}
