import Foundation

/// Writes an export's files into a folder, each one atomically (a temporary file renamed over the
/// old one), so a reader never sees half a file and an interrupted run leaves the last good export.
public enum ExportFolder {
    public static func write(_ files: [(name: String, content: String)], to folder: String) throws(ExportError) {
        var isFolder: ObjCBool = false
        if FileManager.default.fileExists(atPath: folder, isDirectory: &isFolder) {
            guard isFolder.boolValue else { throw ExportError("\(folder) exists and is not a folder") }
        } else {
            do { try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true) }
            catch { throw ExportError("cannot create \(folder): \(error.localizedDescription)") }
        }
        for file in files {
            let target = URL(fileURLWithPath: folder).appendingPathComponent(file.name)
            do { try Data(file.content.utf8).write(to: target, options: .atomic) }
            catch { throw ExportError("cannot write \(target.path): \(error.localizedDescription)") }
        }
    }
}
