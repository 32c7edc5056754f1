import Foundation

/// `fairway export omero`: what `omero import --bulk` needs to import a study **in place** (the
/// server links the files where they are, `transfer: ln_s`, no copy): `bulk.yml`, `files.tsv`
/// (target, name, path per image) and `annotations.csv`, the per-image key-value pairs in the
/// form OMERO's metadata plugin (`omero metadata populate`) reads. Investigation → OMERO group,
/// study → Project, assay → Dataset. The output depends only on the catalog, so running it again
/// writes the same bytes and `exclude: clientpath` keeps OMERO from importing a file twice.
public struct OMEROBulkImport: Sendable {
    /// Which file of each image OMERO imports.
    public enum Source: String, Sendable, CaseIterable {
        /// The acquisition as the instrument wrote it (Bio-Formats reads it).
        case original
        /// The converted OME-TIFF.
        case converted
    }

    /// `FROM=TO`: a folder as Fairway sees it and the same folder as the OMERO server mounts it.
    public struct PathMapping: Sendable, Equatable {
        public let from: String
        public let to: String

        public init(parsing text: String) throws(ExportError) {
            let parts = text.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
            guard parts.count == 2 else { throw ExportError("--path-map \(text.prefix(80)) is not FROM=TO") }
            for (name, path) in [("FROM", parts[0]), ("TO", parts[1])] {
                guard path.hasPrefix("/"), !path.split(separator: "/").contains(".."), !path.contains(where: { $0.isNewline || $0 == "\t" || $0 == "\0" })
                else { throw ExportError("--path-map \(text.prefix(80)): \(name) must be an absolute path without '..', tabs or line breaks") }
            }
            from = Self.trimmed(parts[0]); to = Self.trimmed(parts[1])
        }

        static func trimmed(_ path: String) -> String {
            var path = path
            while path.count > 1 && path.hasSuffix("/") { path.removeLast() }
            return path
        }

        /// The mapped path when `path` is `from` or inside it (whole components only).
        func apply(_ path: String) -> String? {
            if from == "/" { return to == "/" ? path : to + path }
            guard path == from || path.hasPrefix(from + "/") else { return nil }
            return to + path.dropFirst(from.count)
        }
    }

    public struct Options: Sendable {
        public var source: Source = .original
        public var pathMap: [PathMapping] = []
        /// OMERO's checksum for the imported files; it has no SHA-256. `File-Size-64` skips reading
        /// large files twice, at the cost of a weak check.
        public var checksumAlgorithm = "SHA1-160"
        public init() {}
        public static let checksumAlgorithms = ["Adler-32", "CRC-32", "MD5-128", "Murmur3-32", "Murmur3-128", "SHA1-160", "File-Size-64"]
    }

    /// The files to write (name → content) and the images left out, each with why.
    public struct Output: Sendable {
        public var files: [(name: String, content: String)]
        public var images: Int
        public var skipped: [(path: String, reason: String)]
        /// Files that are not images (sidecars, notes): never given to OMERO.
        public var notImages: [String]
        public var group: String
    }

    /// Replica roles in the order their copy is preferred: the vault is permanent, the landing
    /// buffer may be cleaned, cold storage may be slow to read.
    static let rolePreference = ["vault", "landing", "cold", "derived"]

    public static func build(_ snapshot: StudySnapshot, options: Options) -> Output {
        var lines: [String] = []
        var rows: [[String]] = []
        var skipped: [(String, String)] = []
        var notImages: [String] = []
        let keys = annotationColumns(snapshot)
        for assay in snapshot.assays {
            let target = "Project:name:\(snapshot.study.name)/Dataset:name:\(assay.level.name)"
            // Bio-Formats reads vendor formats Fairway cannot convert, but not a file of no known format.
            let images = assay.files.filter { $0.format != "unknown" }
            notImages += assay.files.filter { $0.format == "unknown" }.map(\.path)
            let names = imageNames(images)
            for (file, name) in zip(images, names) {
                let candidates: [StudySnapshot.Replica]
                switch options.source {
                case .original: candidates = file.replicas
                case .converted:
                    guard let converted = file.converted else { skipped.append((file.path, "not converted to OME-TIFF")); continue }
                    candidates = converted.replicas
                }
                guard let replica = candidates.filter({ $0.status == "good" })
                    .min(by: { (rolePreference.firstIndex(of: $0.role) ?? 9, $0.resource) < (rolePreference.firstIndex(of: $1.role) ?? 9, $1.resource) })
                else { skipped.append((file.path, "no good replica")); continue }
                var path = replica.path
                if !options.pathMap.isEmpty {
                    // The longest matching folder wins, so a nested mount can be mapped on its own.
                    guard let mapped = options.pathMap.sorted(by: { $0.from.count > $1.from.count }).lazy.compactMap({ $0.apply(replica.path) }).first else {
                        skipped.append((file.path, "\(replica.path) is under no --path-map folder")); continue
                    }
                    path = mapped
                }
                // A tab or line break cannot be written in a TSV line; OMERO would split it.
                guard !(path + name).contains(where: { $0 == "\t" || $0.isNewline }) else {
                    skipped.append((file.path, "a tab or line break in its name or path")); continue
                }
                lines.append([target, name, path].joined(separator: "\t"))
                var row = [assay.level.name, name, file.id.uuidString.lowercased(), file.sha256Hex ?? "", String(file.size), file.format,
                           file.acquiredAt.map { $0.formatted(Date.ISO8601FormatStyle()) } ?? "", file.instrument ?? "", file.qcVerdict ?? "",
                           file.allAnnotations.filter { $0.kind == "tag" }.map(\.key).joined(separator: ", ")]
                for column in keys {
                    row.append(file.allAnnotations.filter { $0.kind == "map" && $0.namespace == column.namespace && $0.key == column.key }
                        .map(\.value).joined(separator: "; "))
                }
                rows.append(row)
            }
        }
        let header = ["Dataset Name", "Image Name", "Fairway Object", "SHA-256", "Size (bytes)", "Format", "Acquired", "Instrument", "QC Verdict", "Tags"]
            + keys.map(\.column)
        let types = header.indices.map { $0 == 4 ? "l" : "s" }
        let csv = (["# header " + types.joined(separator: ","), header.map(csvField).joined(separator: ",")]
                   + rows.map { $0.map(csvField).joined(separator: ",") }).joined(separator: "\n") + "\n"
        let yaml = """
            # In-place import of \(snapshot.investigation.name)/\(snapshot.study.name) (written by fairway export omero).
            # Run as a member of the OMERO group \(snapshot.investigation.name):
            #   omero import -g \(snapshot.investigation.name) --bulk bulk.yml
            # then attach the annotations to the Project:
            #   omero metadata populate Project:<id> --file annotations.csv
            path: "files.tsv"
            columns:
              - target
              - name
              - path
            transfer: "ln_s"
            checksum_algorithm: \(yamlString(options.checksumAlgorithm))
            continue: "true"
            exclude: "clientpath"

            """
        return Output(files: [("bulk.yml", yaml), ("files.tsv", lines.isEmpty ? "" : lines.joined(separator: "\n") + "\n"), ("annotations.csv", csv)],
                      images: lines.count, skipped: skipped, notImages: notImages, group: snapshot.investigation.name)
    }

    /// Image names within a dataset: the file name, or the whole logical path where two files of
    /// the assay share a file name.
    static func imageNames(_ files: [StudySnapshot.File]) -> [String] {
        let base = files.map { String($0.path.split(separator: "/").last ?? Substring($0.path)) }
        var counts: [String: Int] = [:]
        base.forEach { counts[$0, default: 0] += 1 }
        return zip(files, base).map { counts[$1]! > 1 ? $0.path : $1 }
    }

    /// One column per annotation key on the study's images (and their images of record): the key,
    /// or `namespace:key` where the same key comes from two namespaces.
    static func annotationColumns(_ snapshot: StudySnapshot) -> [(namespace: String, key: String, column: String)] {
        let pairs = Set(snapshot.assays.flatMap(\.files).flatMap(\.allAnnotations).filter { $0.kind == "map" }.map { [$0.namespace, $0.key] })
            .sorted { ($0[1], $0[0]) < ($1[1], $1[0]) }
        var perKey: [String: Int] = [:]
        pairs.forEach { perKey[$0[1], default: 0] += 1 }
        return pairs.map { (namespace: $0[0], key: $0[1], column: perKey[$0[1]]! > 1 ? "\($0[0]):\($0[1])" : $0[1]) }
    }

    /// RFC 4180: a field with a comma, quote or line break is quoted, quotes doubled. A leading
    /// `#` is quoted too, so no row reads as a comment.
    static func csvField(_ value: String) -> String {
        let needsQuotes = value.contains(where: { $0 == "," || $0 == "\"" || $0.isNewline }) || value.hasPrefix("#")
        return needsQuotes ? "\"" + value.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : value
    }

    static func yamlString(_ value: String) -> String {
        "\"" + value.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\""
    }
}
