import FairwayMetadata
import FairwayStorage
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A `fairway.yaml` at the top of an acquisition folder: the user's metadata for the acquisition,
/// imported when it is registered (namespace `sidecar`).
enum Sidecar {
    static let namespace = "sidecar"

    /// Reads it without following links (it was listed as a regular file of the zone).
    static func read(_ physical: RawPath) -> Result<[UserMetadata.Entry], KeyValueFileError> {
        let descriptor = (physical.bytes + [0]).withUnsafeBufferPointer { path in
            path.withMemoryRebound(to: CChar.self) { open($0.baseAddress!, O_RDONLY | O_NOFOLLOW | O_CLOEXEC) }
        }
        guard descriptor >= 0 else { return .failure(KeyValueFileError(line: nil, message: "cannot open: \(String(cString: strerror(errno)))")) }
        let handle = FileHandle(fileDescriptor: descriptor, closeOnDealloc: true)
        let data: Data
        do {
            data = try handle.read(upToCount: KeyValueFile.maxBytes + 1) ?? Data()
        } catch {
            return .failure(KeyValueFileError(line: nil, message: "cannot read: \(error.localizedDescription)"))
        }
        guard data.count <= KeyValueFile.maxBytes else { return .failure(KeyValueFileError(line: nil, message: "larger than \(KeyValueFile.maxBytes) bytes")) }
        return Result { () throws(KeyValueFileError) in try UserMetadata.read(Array(data), fileName: UserMetadata.sidecarName, at: .assay) }
    }
}

/// One sidecar annotation, placed at the acquisition's assay, study or investigation.
struct SidecarRow: Encodable {
    let assay_id: UUID
    let level: String
    let key: String
    let value: String
    let created_by: String
}
