import Crypto
public import Foundation
import Glibc

/// A file read once from start to end: its SHA-256 in the iRODS form and its format, with proof that
/// it did not change while it was read and that the file opened is the one inside the zone.
public struct FileInspection: Sendable, Equatable {
    public let size: Int64
    /// `sha2:<base64 of the SHA-256>`, as iRODS records it.
    public let checksum: String
    public let format: FileFormat
    public let status: FileStatus

    public enum Failure: Error, Sendable, Equatable, CustomStringConvertible {
        /// Size or mtime moved while the file was read: not at rest after all.
        case changedWhileReading
        case vanished
        case escapesZone
        case notRegularFile
        case unreadable(String)

        public var description: String {
            switch self {
            case .changedWhileReading: "the file changed while it was being checksummed"
            case .vanished: "the file disappeared before it could be read"
            case .escapesZone: "the file opened resolves outside the zone root"
            case .notRegularFile: "not a regular file"
            case .unreadable(let reason): "cannot read the file: \(reason)"
            }
        }
    }

    /// Bytes read per system call: large enough to stream at disk speed, small enough that memory
    /// stays flat whatever the file size.
    public static let chunkBytes = 1 << 20

    /// Reads the file at `physical` (which must still be under `root` once opened).
    public static func inspect(_ physical: RawPath, name: RawPath, root: ZoneRoot) throws(Failure) -> FileInspection {
        try Reader().inspect(physical, name: name, root: root)
    }

    /// Reads many files one after the other with one buffer: for a thread that works through a
    /// list of small files, the buffer is not allocated and faulted in again for each.
    public final class Reader {
        private let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: FileInspection.chunkBytes, alignment: 4096)

        public init() {}
        deinit { buffer.deallocate() }

        public func inspect(_ physical: RawPath, name: RawPath, root: ZoneRoot) throws(Failure) -> FileInspection {
            try FileInspection.read(physical, name: name, root: root, buffer: buffer)
        }
    }

    private static func read(_ physical: RawPath, name: RawPath, root: ZoneRoot, buffer: UnsafeMutableRawBufferPointer) throws(Failure) -> FileInspection {
        let descriptor = physical.cString.withUnsafeBufferPointer { open($0.baseAddress!, O_RDONLY | O_NOFOLLOW | O_CLOEXEC) }
        guard descriptor >= 0 else {
            let error = Errno.current
            switch error.code {
            case ENOENT, ENOTDIR: throw .vanished
            case ELOOP: throw .escapesZone   // the last component became a symbolic link
            default: throw .unreadable(error.description)
            }
        }
        defer { close(descriptor) }
        // A folder above may have been swapped for a link after the path was checked: ask the kernel
        // what was actually opened.
        guard let opened = openedPath(descriptor), root.contains(opened) else { throw .escapesZone }
        var before = stat()
        guard fstat(descriptor, &before) == 0 else { throw .unreadable(Errno.current.description) }
        let status = FileStatus(before)
        guard status.kind == .file else { throw .notRegularFile }
        _ = posix_fadvise(descriptor, 0, 0, POSIX_FADV_SEQUENTIAL)

        var hasher = SHA256()
        var total: Int64 = 0
        while true {
            let count = Glibc.read(descriptor, buffer.baseAddress, chunkBytes)
            if count < 0 {
                if errno == EINTR { continue }
                throw .unreadable(Errno.current.description)
            }
            if count == 0 { break }
            hasher.update(bufferPointer: UnsafeRawBufferPointer(rebasing: buffer[0 ..< count]))
            total += Int64(count)
        }
        let format = FormatSniffer.detect(name: name, size: total) { offset, count in
            Self.readAt(descriptor, offset: offset, count: count)
        }
        var after = stat()
        guard fstat(descriptor, &after) == 0 else { throw .unreadable(Errno.current.description) }
        guard FileStatus(after).sameContentSignals(as: status), total == status.size else { throw .changedWhileReading }
        let digest = Data(hasher.finalize())
        return FileInspection(size: total, checksum: "sha2:" + digest.base64EncodedString(), format: format, status: status)
    }

    /// The iRODS form of a SHA-256 digest.
    public static func checksum(of bytes: some DataProtocol) -> String {
        "sha2:" + Data(SHA256.hash(data: bytes)).base64EncodedString()
    }

    private static func openedPath(_ descriptor: Int32) -> RawPath? {
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let length = readlink("/proc/self/fd/\(descriptor)", &buffer, buffer.count - 1)
        guard length > 0 else { return nil }
        return RawPath(buffer[0 ..< length].map { UInt8(bitPattern: $0) })
    }

    private static func readAt(_ descriptor: Int32, offset: Int64, count: Int) -> [UInt8] {
        guard count > 0, offset >= 0 else { return [] }
        var bytes = [UInt8](repeating: 0, count: count)
        var filled = 0
        while filled < count {
            let got = bytes.withUnsafeMutableBytes { pread(descriptor, $0.baseAddress! + filled, count - filled, off_t(offset) + off_t(filled)) }
            if got < 0 && errno == EINTR { continue }
            if got <= 0 { break }
            filled += got
        }
        return Array(bytes[0 ..< filled])
    }
}
