import FairwayMetadata
import Foundation

/// Threshold overrides written by operators: `name: value` lines in YAML, or `name,value` rows in
/// CSV or TSV, read with the same hardened reader as user metadata.
public enum QualitySettingsFile {
    public struct Invalid: Error, CustomStringConvertible {
        public let description: String
    }

    /// The defaults with the file's settings applied; an unknown name, a bad value or a broken
    /// file is refused with the line or the name.
    public static func thresholds(path: String, base: QualityThresholds = QualityThresholds()) throws(Invalid) -> QualityThresholds {
        guard let format = KeyValueFile.format(forFileName: path) else {
            throw Invalid(description: "name the file .yaml, .yml, .csv or .tsv so its format is known")
        }
        guard let data = FileManager.default.contents(atPath: path) else { throw Invalid(description: "cannot be read") }
        let entries: [KeyValueEntry]
        do { entries = try KeyValueFile.parse(Array(data), format: format) } catch { throw Invalid(description: error.description) }
        var thresholds = base
        do { try thresholds.apply(entries.map { ($0.key, $0.value) }) } catch { throw Invalid(description: error.description) }
        return thresholds
    }
}
