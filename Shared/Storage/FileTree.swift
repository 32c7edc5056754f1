import Glibc

/// One regular file of an acquisition, found by walking its folder.
public struct FileEntry: Hashable, Sendable {
    /// Path below the acquisition's folder (the file's own name for a single-file acquisition).
    public let relative: RawPath
    public let physical: RawPath
    public let status: FileStatus
}

/// Lists the regular files of an acquisition without following symbolic links, so nothing outside
/// the zone is ever reached. Hidden entries (names starting with `.`) are left out: copy tools write
/// their partial files under such names and rename them when done.
public enum FileTree {
    public struct Listing: Sendable {
        public var files: [FileEntry] = []
        /// Symbolic links, sockets, devices: not registered, counted so the operator can be told.
        public var skipped = 0
        /// Every folder walked (physical paths), the top one included.
        public var folders: [RawPath] = []
    }

    public enum WalkError: Error, Sendable, Equatable, CustomStringConvertible {
        case tooManyFiles(limit: Int)
        case tooDeep(limit: Int)
        case unreadable(String, Errno)

        public var description: String {
            switch self {
            case .tooManyFiles(let limit): "the folder holds more than \(limit) files; split the acquisition"
            case .tooDeep(let limit): "the folder is nested more than \(limit) levels deep"
            case .unreadable(let path, let error): "cannot list '\(path.prefix(256))': \(error)"
            }
        }
    }

    public static func files(of resolved: ResolvedPath, name: RawPath, maxFiles: Int = 100_000, maxDepth: Int = 64) throws(WalkError) -> Listing {
        if resolved.status.kind == .file {
            return Listing(files: [FileEntry(relative: name, physical: resolved.physical, status: resolved.status)])
        }
        var listing = Listing()
        try walk(resolved.physical, relative: RawPath([]), depth: 0, into: &listing, maxFiles: maxFiles, maxDepth: maxDepth)
        listing.files.sort { $0.relative.bytes.lexicographicallyPrecedes($1.relative.bytes) }
        return listing
    }

    /// Every regular file below `folder` (an absolute path), relative to it, in byte order.
    public static func files(inFolder folder: RawPath, maxFiles: Int = 10_000_000, maxDepth: Int = 64) throws(WalkError) -> Listing {
        var listing = Listing()
        try walk(folder, relative: RawPath([]), depth: 0, into: &listing, maxFiles: maxFiles, maxDepth: maxDepth)
        listing.files.sort { $0.relative.bytes.lexicographicallyPrecedes($1.relative.bytes) }
        return listing
    }

    private static func walk(_ folder: RawPath, relative: RawPath, depth: Int, into listing: inout Listing,
                             maxFiles: Int, maxDepth: Int) throws(WalkError) {
        guard depth <= maxDepth else { throw .tooDeep(limit: maxDepth) }
        let descriptor = folder.cString.withUnsafeBufferPointer {
            open($0.baseAddress!, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        }
        guard descriptor >= 0, let stream = fdopendir(descriptor) else {
            let error = Errno.current
            if descriptor >= 0 { close(descriptor) }
            throw .unreadable(folder.display, error)
        }
        defer { closedir(stream) }
        listing.folders.append(folder)
        var folders: [(physical: RawPath, relative: RawPath)] = []
        while let entry = readdir(stream) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                Array(raw.prefix { $0 != 0 })
            }
            if name.first == UInt8(ascii: ".") { continue }   // ".", "..", and hidden or partial files
            var info = stat()
            guard fstatat(descriptor, name.map { CChar(bitPattern: $0) } + [0], &info, AT_SYMLINK_NOFOLLOW) == 0 else {
                continue   // vanished while listing: the at-rest check sees the change
            }
            let status = FileStatus(info)
            let child = relative.appending(RawPath(name))
            let physical = folder.appending(RawPath(name))
            switch status.kind {
            case .file:
                guard listing.files.count < maxFiles else { throw .tooManyFiles(limit: maxFiles) }
                listing.files.append(FileEntry(relative: child, physical: physical, status: status))
            case .folder:
                folders.append((physical, child))
            case .symbolicLink, .other:
                listing.skipped += 1
            }
        }
        for child in folders {
            try walk(child.physical, relative: child.relative, depth: depth + 1, into: &listing, maxFiles: maxFiles, maxDepth: maxDepth)
        }
    }
}
