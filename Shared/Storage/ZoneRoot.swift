import Glibc

/// The root folder of a zone (a resource), canonical: absolute, symbolic links resolved, no
/// trailing slash. Everything a watcher names is resolved against it and must stay under it.
public struct ZoneRoot: Hashable, Sendable {
    public let path: String

    /// Canonicalizes `path`, which must be an existing folder.
    public init(canonicalizing path: String) throws(PathError) {
        guard path.hasPrefix("/") else { throw .zoneRootUnusable("'\(path)' is not an absolute path") }
        guard let resolved = Self.realPath(RawPath(path)) else {
            throw .zoneRootUnusable("'\(path)': \(Errno.current)")
        }
        guard let text = String(validating: resolved.bytes, as: UTF8.self) else {
            throw .zoneRootUnusable("'\(path)' resolves to a name that is not UTF-8")
        }
        guard FileStatus(at: resolved)?.kind == .folder else { throw .zoneRootUnusable("'\(text)' is not a folder") }
        self.path = text
    }

    /// Trusts `path` as canonical (it came from the catalog, which stored it canonical).
    public init(trusted path: String) { self.path = path }

    /// Where `relative` is on disk, with every symbolic link resolved; refuses anything that ends
    /// outside the root and anything that is not a regular file or a folder.
    public func resolve(_ relative: RelativePath) throws(PathError) -> ResolvedPath {
        let joined = RawPath(path).appending(RawPath(relative.description))
        guard let real = Self.realPath(joined) else {
            let error = Errno.current
            if error.code == ENOENT || error.code == ENOTDIR { throw .notFound(relative.description) }
            throw .unreadable(relative.description, reason: error.description)
        }
        guard contains(real) else { throw .escapesZone(relative.description) }
        guard let status = FileStatus(at: real) else { throw .notFound(relative.description) }
        guard status.kind == .file || status.kind == .folder else { throw .notFileOrFolder(relative.description) }
        return ResolvedPath(physical: real, status: status)
    }

    /// True when `physical` is strictly below the root.
    public func contains(_ physical: RawPath) -> Bool {
        let prefix = Array(path.utf8) + [UInt8(ascii: "/")]
        return physical.bytes.count > prefix.count && physical.bytes.starts(with: prefix)
    }

    static func realPath(_ path: RawPath) -> RawPath? {
        guard let resolved = path.cString.withUnsafeBufferPointer({ realpath($0.baseAddress!, nil) }) else { return nil }
        defer { free(resolved) }
        return RawPath(Array(UnsafeBufferPointer(start: resolved, count: strlen(resolved))).map { UInt8(bitPattern: $0) })
    }
}

/// A path inside a zone after confinement.
public struct ResolvedPath: Sendable {
    public let physical: RawPath
    public let status: FileStatus
}

/// What `lstat` says about a file, in the units the catalog keeps.
public struct FileStatus: Hashable, Sendable {
    public enum Kind: Sendable { case file, folder, symbolicLink, other }
    public let kind: Kind
    public let size: Int64
    /// Modification time in nanoseconds since 1970.
    public let modifiedNanoseconds: Int64
    public let inode: UInt64
    public let device: UInt64

    /// `lstat`: a symbolic link is reported as such, not followed.
    public init?(at path: RawPath) {
        var info = stat()
        guard path.cString.withUnsafeBufferPointer({ lstat($0.baseAddress!, &info) }) == 0 else { return nil }
        self.init(info)
    }

    init(_ info: stat) {
        switch info.st_mode & S_IFMT {
        case S_IFREG: kind = .file
        case S_IFDIR: kind = .folder
        case S_IFLNK: kind = .symbolicLink
        default: kind = .other
        }
        size = Int64(info.st_size)
        modifiedNanoseconds = Int64(info.st_mtim.tv_sec) * 1_000_000_000 + Int64(info.st_mtim.tv_nsec)
        inode = UInt64(info.st_ino)
        device = UInt64(info.st_dev)
    }

    /// Same content as far as size and mtime (and the file's identity) can tell.
    public func sameContentSignals(as other: FileStatus) -> Bool {
        size == other.size && modifiedNanoseconds == other.modifiedNanoseconds && inode == other.inode && device == other.device
    }
}

/// An errno value with its text.
public struct Errno: Error, Sendable, Equatable, CustomStringConvertible {
    public let code: Int32
    public static var current: Errno { Errno(code: errno) }
    public var description: String { String(cString: strerror(code)) }
}
