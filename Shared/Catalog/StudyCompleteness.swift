public import Foundation
public import Logging
public import PostgresNIO

/// What a study has of the metadata publication needs (DataCite's mandatory and recommended
/// properties) and of the REMBI minimum, each field present or missing with where it came from:
/// user annotations on the study or its investigation (or, for sample-level fields, its assays),
/// the study's description, and the image metadata of its objects.
public struct StudyCompleteness: Sendable, Codable {
    public struct Field: Sendable, Codable {
        public let field: String
        /// `publication` or `REMBI`.
        public let group: String
        public let present: Bool
        /// Where the value came from, or what to add.
        public let source: String
        public let value: String?
    }

    public let investigation: String
    public let study: String
    public let complete: Bool
    public let fields: [Field]

    public struct NotFound: Error, CustomStringConvertible {
        public let description: String
    }

    /// Annotation keys compared without case, spaces, dots, dashes or underscores: `Imaging method`,
    /// `imaging_method` and `imagingMethod` are one field.
    static func normalized(_ key: String) -> String {
        String(key.lowercased().unicodeScalars.filter { $0.properties.isAlphabetic || $0.properties.numericType != nil }.map(Character.init))
    }

    /// ORCID iDs: four groups of four, the last character a digit or X.
    static func hasORCID(_ text: String) -> Bool {
        let bytes = Array(text.utf8)
        guard bytes.count >= 19 else { return false }
        for start in 0 ... bytes.count - 19 {
            var ok = true
            for offset in 0 ..< 19 {
                let byte = bytes[start + offset]
                if offset % 5 == 4 { ok = byte == UInt8(ascii: "-") } else if offset == 18 { ok = (48 ... 57).contains(byte) || byte == UInt8(ascii: "X") } else { ok = (48 ... 57).contains(byte) }
                if !ok { break }
            }
            if ok { return true }
        }
        return false
    }

    public static func check(investigation: String, study: String, client: PostgresClient, logger: Logger) async throws -> StudyCompleteness {
        struct Facts: Decodable {
            let description: String?
            let annotations: [Annotation]
            let images: Int
            let withPixelSize: Int
            let withMicroscope: Int
            let withDate: Int
            let microscopes: [String]
            let firstDate: String?
            let lastDate: String?
        }
        struct Annotation: Decodable { let level: String; let key: String; let value: String; let namespace: String }
        let rows = try await client.query("""
            WITH target AS (
                SELECT s.id AS study_id, s.investigation_id, s.description
                FROM studies s JOIN investigations i ON i.id = s.investigation_id
                WHERE i.name = \(investigation) AND s.name = \(study)
            ), images AS (
                SELECT m.* FROM image_metadata m JOIN objects o ON o.id = m.object_id JOIN assays y ON y.id = o.assay_id
                WHERE y.study_id = (SELECT study_id FROM target) AND m.status = 'extracted'
            )
            SELECT json_build_object(
                'description', (SELECT description FROM target),
                'annotations', COALESCE((SELECT json_agg(x ORDER BY x.id) FROM (
                    -- Three indexed lookups rather than one scan of every annotation.
                    SELECT a.id, 'study' AS level, a.key, a.value, a.namespace FROM annotations a, target t WHERE a.study_id = t.study_id
                    UNION ALL
                    SELECT a.id, 'investigation', a.key, a.value, a.namespace FROM annotations a, target t WHERE a.investigation_id = t.investigation_id
                    UNION ALL
                    SELECT a.id, 'assay', a.key, a.value, a.namespace FROM annotations a JOIN assays y ON y.id = a.assay_id, target t
                    WHERE y.study_id = t.study_id) x), '[]'::json),
                'images', (SELECT count(*) FROM images),
                'withPixelSize', (SELECT count(*) FROM images WHERE physical_size_x IS NOT NULL AND physical_size_y IS NOT NULL),
                'withMicroscope', (SELECT count(*) FROM images WHERE microscope IS NOT NULL),
                'withDate', (SELECT count(*) FROM images WHERE acquired_at IS NOT NULL),
                'microscopes', COALESCE((SELECT json_agg(DISTINCT microscope) FROM images WHERE microscope IS NOT NULL), '[]'::json),
                'firstDate', (SELECT to_char(min(acquired_at) AT TIME ZONE 'UTC', 'YYYY-MM-DD') FROM images),
                'lastDate', (SELECT to_char(max(acquired_at) AT TIME ZONE 'UTC', 'YYYY-MM-DD') FROM images)
            )::text
            FROM target
            """, logger: logger).decode(String.self)
        var facts: Facts?
        for try await json in rows { facts = try JSONDecoder().decode(Facts.self, from: Data(json.utf8)) }
        guard let facts else { throw NotFound(description: "no study \(study) in investigation \(investigation)") }

        var fields: [Field] = []
        /// The first annotation under any of `keys`, preferring the study over the investigation over assays.
        func annotated(_ keys: [String], levels: Set<String> = ["study", "investigation"]) -> [Annotation] {
            let wanted = Set(keys.map(normalized))
            let order = ["study": 0, "investigation": 1, "assay": 2]
            return facts.annotations.filter { wanted.contains(normalized($0.key)) && levels.contains($0.level) && !$0.value.isEmpty }
                .sorted { order[$0.level, default: 3] < order[$1.level, default: 3] }
        }
        func add(_ field: String, _ group: String, keys: [String], levels: Set<String> = ["study", "investigation"], hint: String) {
            if let found = annotated(keys, levels: levels).first {
                fields.append(Field(field: field, group: group, present: true, source: "\(found.level) annotation '\(found.key)' (\(found.namespace))", value: found.value))
            } else {
                fields.append(Field(field: field, group: group, present: false, source: hint, value: nil))
            }
        }
        let annotateStudy = "add with fairway annotate --investigation \(investigation) --study \(study)"
        add("title", "publication", keys: ["title"], hint: "\(annotateStudy) (key title)")
        if let description = facts.description, !description.isEmpty {
            fields.append(Field(field: "description", group: "publication", present: true, source: "study description", value: description))
        } else {
            add("description", "publication", keys: ["description", "abstract"], hint: "\(annotateStudy) (key description)")
        }
        let creators = annotated(["creator", "creators", "author", "authors"])
        let withoutORCID = creators.filter { !hasORCID($0.value) }
        fields.append(Field(
            field: "creators with ORCID", group: "publication", present: !creators.isEmpty && withoutORCID.isEmpty,
            source: creators.isEmpty ? "\(annotateStudy) (key creator, value 'Name (ORCID 0000-0000-0000-0000)')"
                : withoutORCID.isEmpty ? "\(creators[0].level) annotations 'creator' (\(creators.count))"
                : "\(withoutORCID.count) of \(creators.count) creators have no ORCID: " + withoutORCID.prefix(3).map(\.value).joined(separator: "; "),
            value: creators.isEmpty ? nil : creators.map(\.value).joined(separator: "; ")))
        add("license", "publication", keys: ["license", "licence", "rights"], hint: "\(annotateStudy) (key license, e.g. CC-BY-4.0)")
        add("subject/keywords", "publication", keys: ["keywords", "keyword", "subject", "subjects"], hint: "\(annotateStudy) (key keywords)")
        let sampleLevels: Set<String> = ["study", "investigation", "assay"]
        add("organism", "REMBI", keys: ["organism", "species"], levels: sampleLevels, hint: "\(annotateStudy) [--assay A] (key organism)")
        add("biological entity", "REMBI", keys: ["biological entity", "biologicalentity", "sample", "specimen"], levels: sampleLevels, hint: "\(annotateStudy) [--assay A] (key biological_entity)")
        add("sample preparation", "REMBI", keys: ["sample preparation", "preparation", "staining", "protocol"], levels: sampleLevels, hint: "\(annotateStudy) [--assay A] (key sample_preparation)")
        add("imaging method", "REMBI", keys: ["imaging method", "imagingmethod", "method", "modality"], levels: sampleLevels, hint: "\(annotateStudy) (key imaging_method, e.g. confocal microscopy)")
        let imageSource = "image metadata"
        if let instrument = annotated(["instrument", "microscope"], levels: sampleLevels).first {
            fields.append(Field(field: "instrument", group: "REMBI", present: true, source: "\(instrument.level) annotation '\(instrument.key)'", value: instrument.value))
        } else {
            fields.append(Field(field: "instrument", group: "REMBI", present: facts.images > 0 && facts.withMicroscope == facts.images,
                                source: facts.images == 0 ? "no described images yet" : "\(imageSource): \(facts.withMicroscope) of \(facts.images) images name their microscope",
                                value: facts.microscopes.isEmpty ? nil : facts.microscopes.joined(separator: ", ")))
        }
        fields.append(Field(field: "dates", group: "publication", present: facts.images > 0 && facts.withDate == facts.images,
                            source: facts.images == 0 ? "no described images yet" : "\(imageSource): \(facts.withDate) of \(facts.images) images have an acquisition date",
                            value: facts.firstDate.map { first in first == facts.lastDate ? first : "\(first)/\(facts.lastDate ?? first)" }))
        fields.append(Field(field: "pixel size", group: "REMBI", present: facts.images > 0 && facts.withPixelSize == facts.images,
                            source: facts.images == 0 ? "no described images yet" : "\(imageSource): \(facts.withPixelSize) of \(facts.images) images give a physical pixel size",
                            value: nil))
        return StudyCompleteness(investigation: investigation, study: study, complete: fields.allSatisfy(\.present), fields: fields)
    }
}
