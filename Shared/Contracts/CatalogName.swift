/// Names of zones and of investigations, studies and assays: short identifiers that appear in paths,
/// URLs and CLI arguments. The database enforces the same rule.
public enum CatalogName {
    public static let rule = "a letter or digit, then up to 127 letters, digits, '.', '_' or '-'"

    public static func isValid(_ name: String) -> Bool {
        guard let first = name.unicodeScalars.first, name.unicodeScalars.count <= 128, isAlphanumeric(first) else { return false }
        return name.unicodeScalars.allSatisfy { isAlphanumeric($0) || $0 == "." || $0 == "_" || $0 == "-" }
    }

    /// A valid name made from a folder name: other characters become `_`, leading punctuation is
    /// dropped, the length is capped. `nil` when nothing usable is left.
    public static func derived(from folder: String) -> String? {
        var scalars = String.UnicodeScalarView()
        for scalar in folder.unicodeScalars {
            let kept: Unicode.Scalar = isAlphanumeric(scalar) || scalar == "." || scalar == "-" ? scalar : "_"
            if scalars.isEmpty && !isAlphanumeric(kept) { continue }
            scalars.append(kept)
            if scalars.count == 128 { break }
        }
        return scalars.isEmpty ? nil : String(scalars)
    }

    private static func isAlphanumeric(_ scalar: Unicode.Scalar) -> Bool {
        (scalar >= "a" && scalar <= "z") || (scalar >= "A" && scalar <= "Z") || (scalar >= "0" && scalar <= "9")
    }
}

extension AcquisitionCompleted {
    /// Bounds on what a watcher may send; the path itself is confined against the zone later.
    public static let maxMetadataEntries = 256
    public static let maxTextBytes = 1024
    public static let maxMetadataValueBytes = 8192

    /// Refuses fields that are present but unusable, naming the field.
    public func validate() throws(ContractError) {
        guard CatalogName.isValid(zone) else { throw .malformedField(path: "zone", reason: "must be \(CatalogName.rule)") }
        guard !path.isEmpty else { throw .malformedField(path: "path", reason: "must not be empty") }
        for (field, value) in [("investigation", investigation), ("study", study), ("assay", assay)] {
            if let value, !CatalogName.isValid(value) {
                throw .malformedField(path: field, reason: "must be \(CatalogName.rule)")
            }
        }
        for (field, value) in [("owner", owner), ("instrument", instrument)] {
            guard let value else { continue }
            guard !value.trimmingWhitespace.isEmpty else { throw .malformedField(path: field, reason: "must not be blank") }
            guard value.utf8.count <= Self.maxTextBytes else { throw .malformedField(path: field, reason: "longer than \(Self.maxTextBytes) bytes") }
            guard !value.unicodeScalars.contains(where: { $0.value < 0x20 }) else { throw .malformedField(path: field, reason: "contains control characters") }
        }
        if let metadata {
            guard metadata.count <= Self.maxMetadataEntries else {
                throw .malformedField(path: "metadata", reason: "more than \(Self.maxMetadataEntries) entries")
            }
            for (key, value) in metadata {
                guard !key.trimmingWhitespace.isEmpty, key.utf8.count <= 256 else {
                    throw .malformedField(path: "metadata", reason: "keys must be 1 to 256 bytes and not blank")
                }
                guard value.utf8.count <= Self.maxMetadataValueBytes else {
                    throw .malformedField(path: "metadata.\(key.prefix(64))", reason: "longer than \(Self.maxMetadataValueBytes) bytes")
                }
                guard !key.utf8.contains(0), !value.utf8.contains(0) else {
                    throw .malformedField(path: "metadata.\(key.prefix(64))", reason: "contains a NUL character")
                }
            }
        }
    }

    /// Investigation, study and assay: as given, else from the folders of the path (top first),
    /// else the zone name for the investigation and `default` for the others.
    public func isaNames(folders: some Sequence<String>) -> (investigation: String, study: String, assay: String) {
        let derived = folders.compactMap(CatalogName.derived(from:))
        func level(_ given: String?, _ index: Int, _ fallback: String) -> String {
            given ?? (index < derived.count ? derived[index] : fallback)
        }
        return (level(investigation, 0, zone), level(study, 1, "default"), level(assay, 2, "default"))
    }
}

extension String {
    var trimmingWhitespace: Substring {
        let scalars = unicodeScalars
        guard let first = scalars.firstIndex(where: { !$0.properties.isWhitespace }),
              let last = scalars.lastIndex(where: { !$0.properties.isWhitespace }) else { return "" }
        return Substring(scalars[first ... last])
    }
}
