import FairwayContracts
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The source file opened once and checked against the catalog; libtiff reads it through
/// /proc/self/fd, so the bytes converted are those of the inode checked, whatever its name's encoding.
struct OpenedSource: Sendable {
    let descriptor: Int32
    /// The extension of the file's name (lower case, letters and digits only).
    let `extension`: String?
    var procPath: String { "/proc/self/fd/\(descriptor)" }

    struct Refusal: Error, CustomStringConvertible { let description: String }

    static func open(_ message: ObjectRegistered, expecting source: SourceObject) -> Result<OpenedSource, Refusal> {
        var path = Array(message.physicalPath.utf8)
        if let encoded = message.physicalPathBytes, let bytes = Data(base64Encoded: encoded) { path = Array(bytes) }
        let descriptor = (path + [0]).withUnsafeBufferPointer { pointer in
            pointer.withMemoryRebound(to: CChar.self) { Glibc.open($0.baseAddress!, O_RDONLY | O_NOFOLLOW | O_CLOEXEC) }
        }
        guard descriptor >= 0 else {
            return .failure(Refusal(description: "source file \(message.physicalPath) cannot be opened: \(String(cString: strerror(errno)))"))
        }
        var status = stat()
        guard fstat(descriptor, &status) == 0, (status.st_mode & S_IFMT) == S_IFREG else {
            Glibc.close(descriptor)
            return .failure(Refusal(description: "source \(message.physicalPath) is not a regular file"))
        }
        let mtime = Int64(status.st_mtim.tv_sec) * 1_000_000_000 + Int64(status.st_mtim.tv_nsec)
        guard Int64(status.st_size) == source.size, source.mtimeNs.map({ $0 == mtime }) ?? true else {
            Glibc.close(descriptor)
            return .failure(Refusal(description: "source file changed after it was registered (\(source.size) bytes then, \(status.st_size) now); post the acquisition again to register the new version"))
        }
        let suffix = message.physicalPath.split(separator: "/").last?.split(separator: ".").last.map { $0.lowercased() }
        let usable = suffix.flatMap { $0.count <= 8 && $0.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber) } ? $0 : nil }
        return .success(OpenedSource(descriptor: descriptor, extension: message.physicalPath.contains(".") ? usable : nil))
    }

    func close() { Glibc.close(descriptor) }
}
