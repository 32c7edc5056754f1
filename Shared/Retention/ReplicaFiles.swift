import Crypto
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// What a file on disk holds, read end to end.
public struct FileDigest: Sendable, Equatable {
    public let size: Int64
    /// `sha2:` + base64 SHA-256, the catalog's form.
    public let checksum: String
}

/// A file operation that failed, with the path and the system's reason.
public struct ReplicaFileError: Error, Sendable, CustomStringConvertible {
    public let path: String
    public let reason: String
    public let missing: Bool

    init(_ path: String, _ reason: String, missing: Bool = false) {
        self.path = path; self.reason = reason; self.missing = missing
    }

    static func errno(_ path: String, _ action: String) -> ReplicaFileError {
        let code = Glibc.errno
        return ReplicaFileError(path, "\(action): \(String(cString: strerror(code)))", missing: code == ENOENT || code == ENOTDIR)
    }

    public var description: String { "\(path): \(reason)" }
}

/// The only code that writes to or removes from a resource. A copy is written beside its final
/// name, synced, then renamed over it and the folder synced: a crash leaves either the old file or
/// the complete new one, never a torn replica under the recorded name.
public enum ReplicaFiles {
    static let chunkBytes = 4 << 20
    public static let partialSuffix = ".fairway-partial"

    /// Limits reading to `bytesPerSecond` on average (fixity's budget); `nil` reads at full speed.
    public final class Throttle: @unchecked Sendable {
        let bytesPerSecond: Double
        private var started = ContinuousClock.now
        private var bytes: Double = 0

        public init(bytesPerSecond: Int64) { self.bytesPerSecond = Double(bytesPerSecond) }

        func account(_ count: Int) {
            bytes += Double(count)
            let due = bytes / bytesPerSecond
            let elapsed = ContinuousClock.now - started
            let ahead = due - elapsed.seconds
            if ahead > 0 { usleep(UInt32(min(ahead, 5) * 1_000_000)) }
            // Forget old history now and then so a pause does not buy a burst later.
            if elapsed > .seconds(10) { started = ContinuousClock.now; bytes = 0 }
        }
    }

    /// Size and SHA-256 of the file at `path`.
    public static func digest(of path: String, throttle: Throttle? = nil) throws(ReplicaFileError) -> FileDigest {
        try read(path) { chunk throws(ReplicaFileError) in throttle?.account(chunk.count) }
    }

    /// Reads the file at `path` chunk by chunk, hashing each chunk and handing it to `each`.
    private static func read(_ path: String, _ each: (UnsafeRawBufferPointer) throws(ReplicaFileError) -> Void) throws(ReplicaFileError) -> FileDigest {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)
        guard descriptor >= 0 else { throw .errno(path, "cannot open") }
        defer { close(descriptor) }
        _ = posix_fadvise(descriptor, 0, 0, POSIX_FADV_SEQUENTIAL)
        var hasher = SHA256()
        var total: Int64 = 0
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: chunkBytes, alignment: 4096)
        defer { buffer.deallocate() }
        while true {
            let count = Glibc.read(descriptor, buffer.baseAddress, chunkBytes)
            if count < 0 {
                if Glibc.errno == EINTR { continue }
                throw .errno(path, "cannot read")
            }
            if count == 0 { break }
            let chunk = UnsafeRawBufferPointer(rebasing: buffer[0 ..< count])
            hasher.update(bufferPointer: chunk)
            total += Int64(count)
            try each(chunk)
        }
        return FileDigest(size: total, checksum: "sha2:" + Data(hasher.finalize()).base64EncodedString())
    }

    /// Size of the file at `path`, or nil when there is none.
    public static func size(of path: String) -> Int64? {
        var status = stat()
        guard lstat(path, &status) == 0, (status.st_mode & S_IFMT) == S_IFREG else { return nil }
        return Int64(status.st_size)
    }

    /// Copies `source` to `target` (folders created as needed) and returns what was read from the
    /// source while copying. The target appears under its name only once complete and synced.
    public static func copy(from source: String, to target: String) throws(ReplicaFileError) -> FileDigest {
        let folder = (target as NSString).deletingLastPathComponent
        do {
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        } catch {
            throw ReplicaFileError(folder, "cannot create folder: \(error.localizedDescription)")
        }
        let partial = target + partialSuffix
        let output = open(partial, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0o640)
        guard output >= 0 else { throw .errno(partial, "cannot create") }
        var outputOpen = true
        defer { if outputOpen { close(output) } }

        let digest: FileDigest
        do {
            digest = try read(source) { chunk throws(ReplicaFileError) in
                var written = 0
                while written < chunk.count {
                    let step = write(output, chunk.baseAddress! + written, chunk.count - written)
                    if step < 0 {
                        if Glibc.errno == EINTR { continue }
                        throw .errno(partial, "cannot write")
                    }
                    written += step
                }
            }
        } catch {
            unlink(partial)
            throw error
        }
        guard fsync(output) == 0 else {
            let failure = ReplicaFileError.errno(partial, "cannot sync")
            unlink(partial)
            throw failure
        }
        close(output)
        outputOpen = false
        guard rename(partial, target) == 0 else {
            let failure = ReplicaFileError.errno(target, "cannot rename the finished copy into place")
            unlink(partial)
            throw failure
        }
        syncFolder(folder)
        return digest
    }

    /// Removes the file at `path`; a file already gone counts as removed (a retried action).
    public static func remove(_ path: String) throws(ReplicaFileError) {
        if unlink(path) != 0, Glibc.errno != ENOENT { throw .errno(path, "cannot remove") }
        unlink(path + partialSuffix)
        syncFolder((path as NSString).deletingLastPathComponent)
    }

    private static func syncFolder(_ folder: String) {
        let descriptor = open(folder, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard descriptor >= 0 else { return }
        _ = fsync(descriptor)
        close(descriptor)
    }
}

extension Duration {
    var seconds: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }
}
