public import Foundation
public import Logging
public import PostgresNIO
import FairwayCatalog
import FairwayContracts

/// An ISA-JSON investigation read back into what the catalog can hold: the investigation, its
/// studies and assays (by name), and annotations on each, and on data files Fairway has registered.
public struct ISAImport: Sendable {
    public struct Assay: Sendable, Equatable {
        public var name: String
        public var description: String?
        public var annotations: [StudySnapshot.Annotation]
        /// Data file name (the logical path) → its annotations.
        public var files: [(path: String, annotations: [StudySnapshot.Annotation])]
        public static func == (a: Self, b: Self) -> Bool {
            a.name == b.name && a.description == b.description && a.annotations == b.annotations
                && a.files.map(\.path) == b.files.map(\.path) && a.files.map(\.annotations) == b.files.map(\.annotations)
        }
    }
    public struct Study: Sendable, Equatable {
        public var name: String
        public var description: String?
        public var annotations: [StudySnapshot.Annotation]
        public var assays: [Assay]
    }

    public var investigation: String
    public var description: String?
    public var annotations: [StudySnapshot.Annotation]
    public var studies: [Study]

    public static let maxBytes = 64 << 20

    /// Reads an ISA-JSON investigation. Every problem is reported with where it is
    /// (`studies[0].assays[1].filename: …`), and nothing is imported from a file with one.
    public init(parsing data: Data) throws(ExportError) {
        guard data.count <= Self.maxBytes else { throw ExportError("larger than \(Self.maxBytes) bytes") }
        guard let root = try? JSONSerialization.jsonObject(with: data) else { throw ExportError("not JSON") }
        let document = try Self.object(root, at: "the document")
        let identifier = try Self.string(document["identifier"], at: "identifier")
        guard CatalogName.isValid(identifier) else { throw ExportError("identifier \(identifier.prefix(80)) is not a catalog name (\(CatalogName.rule))") }
        investigation = identifier
        description = try Self.optionalString(document["description"], at: "description")
        annotations = try Self.annotations(document["comments"], at: "comments")
        var studies: [Study] = []
        for (s, value) in try Self.array(document["studies"], at: "studies").enumerated() {
            let at = "studies[\(s)]"
            let study = try Self.object(value, at: at)
            let name = try Self.string(study["identifier"], at: at + ".identifier")
            guard CatalogName.isValid(name) else { throw ExportError("\(at).identifier \(name.prefix(80)) is not a catalog name (\(CatalogName.rule))") }
            var assays: [Assay] = []
            for (a, value) in try Self.array(study["assays"] ?? [Any](), at: at + ".assays").enumerated() {
                let at = "\(at).assays[\(a)]"
                let assay = try Self.object(value, at: at)
                let filename = try Self.string(assay["filename"], at: at + ".filename")
                // Assays have no identifier in ISA; Fairway names them by their file, a_<name>.txt.
                let name = filename.hasPrefix("a_") && filename.hasSuffix(".txt") ? String(filename.dropFirst(2).dropLast(4)) : ""
                guard CatalogName.isValid(name) else { throw ExportError("\(at).filename \(filename.prefix(80)) is not a_<assay name>.txt") }
                var description: String?
                var annotations: [StudySnapshot.Annotation] = []
                for (c, entry) in try Self.comments(assay["comments"], at: at + ".comments").enumerated() {
                    if entry.name == "description" { description = entry.value; continue }
                    if let annotation = try Self.annotation(entry, at: "\(at).comments[\(c)]") { annotations.append(annotation) }
                }
                var files: [(String, [StudySnapshot.Annotation])] = []
                for (f, value) in try Self.array(assay["dataFiles"] ?? [Any](), at: at + ".dataFiles").enumerated() {
                    let at = "\(at).dataFiles[\(f)]"
                    let file = try Self.object(value, at: at)
                    let path = try Self.string(file["name"], at: at + ".name")
                    guard !path.isEmpty, path.utf8.count <= 4096, !path.hasPrefix("/"), !path.split(separator: "/").contains(".."),
                          !path.unicodeScalars.contains(where: { $0.value < 0x20 }) else {
                        throw ExportError("\(at).name \(path.prefix(80)) is not a relative logical path")
                    }
                    files.append((path, try Self.annotations(file["comments"], at: at + ".comments")))
                }
                assays.append(Assay(name: name, description: description, annotations: annotations, files: files))
            }
            studies.append(Study(name: name, description: try Self.optionalString(study["description"], at: at + ".description"),
                                 annotations: try Self.annotations(study["comments"], at: at + ".comments"), assays: assays))
        }
        self.studies = studies
    }

    // MARK: - Reading JSON values, each with where it is

    static func object(_ value: Any?, at: String) throws(ExportError) -> [String: Any] {
        guard let object = value as? [String: Any] else { throw ExportError("\(at) must be an object") }
        return object
    }
    static func array(_ value: Any?, at: String) throws(ExportError) -> [Any] {
        guard let array = value as? [Any] else { throw ExportError("\(at) must be a list") }
        return array
    }
    static func string(_ value: Any?, at: String) throws(ExportError) -> String {
        guard let string = value as? String else { throw ExportError("\(at) must be a string") }
        guard string.utf8.count <= 65_536 else { throw ExportError("\(at) is longer than 65536 bytes") }
        return string
    }
    static func optionalString(_ value: Any?, at: String) throws(ExportError) -> String? {
        guard let value, !(value is NSNull) else { return nil }
        let string = try string(value, at: at)
        return string.isEmpty ? nil : string
    }
    static func comments(_ value: Any?, at: String) throws(ExportError) -> [(name: String, value: String)] {
        guard let value else { return [] }
        var comments: [(String, String)] = []
        for (index, entry) in try array(value, at: at).enumerated() {
            let comment = try object(entry, at: "\(at)[\(index)]")
            comments.append((try string(comment["name"], at: "\(at)[\(index)].name"), try optionalString(comment["value"], at: "\(at)[\(index)].value") ?? ""))
        }
        return comments
    }
    static func annotation(_ comment: (name: String, value: String), at: String) throws(ExportError) -> StudySnapshot.Annotation? {
        let found: StudySnapshot.Annotation?
        do { found = try CommentName.annotation(name: comment.name, value: comment.value) } catch { throw ExportError("\(at): \(error.description)") }
        guard let annotation = found else { return nil }
        guard annotation.namespace.count <= 128, annotation.key.utf8.count <= 1024 else {
            throw ExportError("\(at): the namespace (128 characters) or key (1024 bytes) is too long")
        }
        return annotation
    }
    static func annotations(_ value: Any?, at: String) throws(ExportError) -> [StudySnapshot.Annotation] {
        var found: [StudySnapshot.Annotation] = []
        for (index, comment) in try comments(value, at: at).enumerated() {
            if let annotation = try annotation(comment, at: "\(at)[\(index)]") { found.append(annotation) }
        }
        return found
    }
}

extension ISAImport {
    /// What an import did.
    public struct Outcome: Sendable {
        public var createdStudies: [String] = []
        public var createdAssays: [String] = []
        public var addedAnnotations = 0
        public var annotatedFiles = 0
        /// Data files with no registered object at that path in their assay (register the data first).
        public var missingFiles: [String] = []
    }

    /// Creates what is missing (investigation, studies, assays) and adds the annotations, in one
    /// transaction; what exists is kept, and an annotation already there is not added twice.
    public func apply(client: PostgresClient, logger: Logger, author: String, dryRun: Bool) async throws -> Outcome {
        struct DryRun: Error { let outcome: Outcome }
        do {
            return try await client.withTransaction(logger: logger) { connection in
                var outcome = Outcome()
                var investigationID: UUID?
                for try await id in try await connection.query("""
                    INSERT INTO investigations (name, description) VALUES (\(investigation), \(description))
                    ON CONFLICT (name) DO UPDATE SET description = coalesce(investigations.description, EXCLUDED.description)
                    RETURNING id
                    """, logger: logger).decode(UUID.self) { investigationID = id }
                let investigationLevel = investigationID!
                outcome.addedAnnotations += try await annotate(connection, logger, column: "investigation_id", id: investigationLevel, annotations, author)
                for study in studies {
                    let (studyID, studyNew) = try await upsert(connection, logger, """
                        INSERT INTO studies (investigation_id, name, description) VALUES (\(investigationLevel), \(study.name), \(study.description))
                        ON CONFLICT (investigation_id, name) DO UPDATE SET description = coalesce(studies.description, EXCLUDED.description)
                        RETURNING id, xmax = 0
                        """)
                    if studyNew { outcome.createdStudies.append(study.name) }
                    outcome.addedAnnotations += try await annotate(connection, logger, column: "study_id", id: studyID, study.annotations, author)
                    for assay in study.assays {
                        let (assayID, assayNew) = try await upsert(connection, logger, """
                            INSERT INTO assays (study_id, name, description) VALUES (\(studyID), \(assay.name), \(assay.description))
                            ON CONFLICT (study_id, name) DO UPDATE SET description = coalesce(assays.description, EXCLUDED.description)
                            RETURNING id, xmax = 0
                            """)
                        if assayNew { outcome.createdAssays.append("\(study.name)/\(assay.name)") }
                        outcome.addedAnnotations += try await annotate(connection, logger, column: "assay_id", id: assayID, assay.annotations, author)
                        for file in assay.files {
                            var objectID: UUID?
                            for try await id in try await connection.query("""
                                SELECT id FROM objects WHERE assay_id = \(assayID) AND logical_path = \(file.path) AND deleted_at IS NULL
                                """, logger: logger).decode(UUID.self) { objectID = id }
                            guard let objectID else { outcome.missingFiles.append(file.path); continue }
                            outcome.annotatedFiles += 1
                            outcome.addedAnnotations += try await annotate(connection, logger, column: "object_id", id: objectID, file.annotations, author)
                        }
                    }
                }
                if dryRun { throw DryRun(outcome: outcome) }
                return outcome
            }
        } catch let dry as DryRun { return dry.outcome }
    }

    private func upsert(_ connection: PostgresConnection, _ logger: Logger, _ query: PostgresQuery) async throws -> (UUID, Bool) {
        var result: (UUID, Bool)?
        for try await row in try await connection.query(query, logger: logger).decode((UUID, Bool).self) { result = row }
        return result!
    }

    private func annotate(_ connection: PostgresConnection, _ logger: Logger, column: String, id: UUID,
                          _ annotations: [StudySnapshot.Annotation], _ author: String) async throws -> Int {
        guard !annotations.isEmpty else { return 0 }
        let json = String(decoding: try JSONEncoder().encode(annotations), as: UTF8.self)
        var added = 0
        for try await count in try await connection.query("""
            WITH added AS (
                INSERT INTO annotations (\(unescaped: column), kind, namespace, key, value, created_by)
                SELECT \(id), a.kind, a.namespace, a.key, a.value, \(author)
                FROM jsonb_to_recordset(\(json)::jsonb) AS a(kind text, namespace text, key text, value text)
                ON CONFLICT DO NOTHING RETURNING 1)
            SELECT count(*)::int FROM added
            """, logger: logger).decode(Int.self) { added = count }
        return added
    }
}
