/// User metadata from a key-value file, placed at a level of the ISA hierarchy.
public enum UserMetadata {
    public enum Level: String, Sendable, Codable, CaseIterable { case investigation, study, assay }

    public struct Entry: Sendable, Equatable, Codable {
        public var level: Level
        public var key: String
        public var value: String
    }

    /// The name of the sidecar file ingest imports from the top of an acquisition folder.
    public static let sidecarName = "fairway.yaml"

    /// `study.title: X` goes to the study, `investigation.…` and `assay.…` likewise; any other key
    /// to `level` as written.
    public static func place(_ entries: [KeyValueEntry], at level: Level) -> [Entry] {
        entries.map { entry in
            for candidate in Level.allCases where entry.key.hasPrefix(candidate.rawValue + ".") && entry.key.count > candidate.rawValue.count + 1 {
                return Entry(level: candidate, key: String(entry.key.dropFirst(candidate.rawValue.count + 1)), value: entry.value)
            }
            return Entry(level: level, key: entry.key, value: entry.value)
        }
    }

    /// Reads a sidecar or annotation file (format from its name) and places its entries.
    public static func read(_ bytes: [UInt8], fileName: String, at level: Level) throws(KeyValueFileError) -> [Entry] {
        guard let format = KeyValueFile.format(forFileName: fileName) else {
            throw KeyValueFileError(line: nil, message: "\(fileName): not a .csv, .tsv or .yaml file")
        }
        return place(try KeyValueFile.parse(bytes, format: format), at: level)
    }
}
