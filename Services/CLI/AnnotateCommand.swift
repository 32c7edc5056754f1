import ArgumentParser
import FairwayContracts
import FairwayMetadata
import Foundation
import PostgresNIO

/// `fairway annotate`: imports key-value metadata (CSV/TSV `key,value` rows or YAML) at an ISA level.
struct AnnotateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "annotate",
        abstract: "Import key-value metadata (CSV/TSV key,value rows, or YAML) for an investigation, study or assay.",
        discussion: """
        The level is the most specific of --investigation/--study/--assay given; in YAML, keys under \
        investigation:, study: or assay: go to that level instead (as in an acquisition's fairway.yaml). \
        A key may repeat (several creators). Annotations already present are kept; --replace first \
        removes the level's annotations in the namespace. Nothing is written if the file has an error.
        """
    )

    @Option(help: "Investigation name.") var investigation: String
    @Option(help: "Study name (within the investigation).") var study: String?
    @Option(help: "Assay name (within the study).") var assay: String?
    @Option(help: "The metadata file: .csv, .tsv or .yaml.") var file: String
    @Option(help: "Annotation namespace.") var namespace = "user"
    @Option(help: "Recorded as the annotations' author (default: $USER).") var by: String?
    @Flag(help: "Replace the level's annotations in this namespace.") var replace = false
    @OptionGroup var catalog: CatalogOptions

    func validate() throws {
        for (name, value) in [("investigation", investigation), ("study", study), ("assay", assay)] {
            if let value, !CatalogName.isValid(value) { throw ValidationError("--\(name) must be \(CatalogName.rule)") }
        }
        if assay != nil && study == nil { throw ValidationError("--assay needs --study") }
        guard !namespace.isEmpty, namespace.count <= 128 else { throw ValidationError("--namespace must be 1 to 128 characters") }
    }

    func run() async throws {
        guard let data = FileManager.default.contents(atPath: file) else { throw CommandFailure("cannot read \(file)") }
        guard data.count <= KeyValueFile.maxBytes else { throw CommandFailure("\(file): larger than \(KeyValueFile.maxBytes) bytes") }
        let level: UserMetadata.Level = assay != nil ? .assay : study != nil ? .study : .investigation
        let entries: [UserMetadata.Entry]
        do {
            entries = try UserMetadata.read(Array(data), fileName: file, at: level)
        } catch {
            throw CommandFailure("\(file): \(error.description)")
        }
        let (hasStudy, hasAssay) = (study != nil, assay != nil)
        if let misplaced = entries.first(where: { ($0.level == .assay && !hasAssay) || ($0.level == .study && !hasStudy) }) {
            throw CommandFailure("\(file): '\(misplaced.level.rawValue).\(misplaced.key)' needs --\(misplaced.level.rawValue)")
        }
        let (investigation, study, assay, namespace, replace) = (investigation, study, assay, namespace, replace)
        let author = by ?? ProcessInfo.processInfo.environment["USER"] ?? "cli"
        let json = String(decoding: try JSONEncoder().encode(entries), as: UTF8.self)
        let (added, removed) = try await catalog.withCatalog { client, logger in
            try await client.withTransaction(logger: logger) { connection in
                var ids: (UUID, UUID?, UUID?)?
                for try await row in try await connection.query("""
                    SELECT i.id, s.id, y.id FROM investigations i
                    LEFT JOIN studies s ON s.investigation_id = i.id AND s.name = \(study)
                    LEFT JOIN assays y ON y.study_id = s.id AND y.name = \(assay)
                    WHERE i.name = \(investigation)
                    """, logger: logger).decode((UUID, UUID?, UUID?).self) { ids = row }
                guard let ids else { throw CommandFailure("no investigation \(investigation)") }
                if let study, ids.1 == nil { throw CommandFailure("no study \(study) in investigation \(investigation)") }
                if let assay, let study, ids.2 == nil { throw CommandFailure("no assay \(assay) in study \(investigation)/\(study)") }
                var removed = 0
                if replace {
                    for try await count in try await connection.query("""
                        WITH gone AS (
                            DELETE FROM annotations WHERE namespace = \(namespace) AND object_id IS NULL
                              AND ((investigation_id = \(ids.0)::uuid AND \(level.rawValue)::text = 'investigation')
                                OR (study_id = \(ids.1)::uuid AND \(level.rawValue)::text = 'study')
                                OR (assay_id = \(ids.2)::uuid AND \(level.rawValue)::text = 'assay'))
                            RETURNING 1)
                        SELECT count(*)::int FROM gone
                        """, logger: logger).decode(Int.self) { removed = count }
                }
                var added = 0
                for try await count in try await connection.query("""
                    WITH added AS (
                        INSERT INTO annotations (investigation_id, study_id, assay_id, kind, namespace, key, value, created_by)
                        SELECT CASE WHEN x.level = 'investigation' THEN \(ids.0)::uuid END, CASE WHEN x.level = 'study' THEN \(ids.1)::uuid END,
                               CASE WHEN x.level = 'assay' THEN \(ids.2)::uuid END, 'map', \(namespace), x.key, x.value, \(author)
                        FROM jsonb_to_recordset(\(json)::jsonb) AS x(level text, key text, value text)
                        ON CONFLICT DO NOTHING RETURNING id
                    ), audit AS (
                        INSERT INTO audit_log (actor, action, target_kind, target_id, details)
                        SELECT \(author), 'annotate', 'investigation', \(ids.0)::text,
                               jsonb_build_object('study', \(study)::text, 'assay', \(assay)::text, 'file', \(file)::text,
                                                  'namespace', \(namespace)::text, 'added', (SELECT count(*) FROM added), 'replaced', \(replace))
                    )
                    SELECT count(*)::int FROM added
                    """, logger: logger).decode(Int.self) { added = count }
                return (added, removed)
            }
        }
        let target = [investigation, study, assay].compactMap { $0 }.joined(separator: "/")
        print("\(target): \(added) annotation\(added == 1 ? "" : "s") added, \(entries.count - added) already present" + (replace ? ", \(removed) replaced" : ""))
    }
}
