public import FairwayPublication
public import Foundation
public import Logging
public import PostgresNIO

/// Everything the exports say about one study, read in one consistent query: its investigation,
/// its assays and their image files (originals, with their replicas, converted OME-TIFF, image
/// name and QC verdict), annotations on every level, and the publication.
public struct StudySnapshot: Sendable, Codable {
    public struct Annotation: Sendable, Codable, Hashable {
        /// `map` (key = value) or `tag` (key only).
        public var kind: String
        public var namespace: String
        public var key: String
        public var value: String
        public init(kind: String, namespace: String, key: String, value: String) {
            self.kind = kind; self.namespace = namespace; self.key = key; self.value = value
        }
    }
    public struct Level: Sendable, Codable {
        public var id: UUID
        public var name: String
        public var description: String?
        public var createdAt: Date
        public var annotations: [Annotation]
    }
    public struct Replica: Sendable, Codable {
        public var resource: String
        public var role: String
        public var path: String
        public var status: String
        public var checksum: String?
    }
    /// The converted OME-TIFF, the image of record: image metadata, provenance and QC tags are
    /// annotations on it.
    public struct Derived: Sendable, Codable {
        public var id: UUID
        public var path: String
        public var format: String
        public var size: Int64
        public var checksum: String?
        public var replicas: [Replica]
        public var annotations: [Annotation]
    }
    public struct File: Sendable, Codable {
        public init(id: UUID, path: String, size: Int64, checksum: String?, format: String, state: String, acquiredAt: Date? = nil,
                    instrument: String? = nil, imageName: String? = nil, qcVerdict: String? = nil, annotations: [Annotation],
                    replicas: [Replica], converted: Derived? = nil) {
            self.id = id; self.path = path; self.size = size; self.checksum = checksum; self.format = format; self.state = state
            self.acquiredAt = acquiredAt; self.instrument = instrument; self.imageName = imageName; self.qcVerdict = qcVerdict
            self.annotations = annotations; self.replicas = replicas; self.converted = converted
        }

        public var id: UUID
        public var path: String
        public var size: Int64
        /// `sha2:<base64>`, as the catalog keeps it.
        public var checksum: String?
        public var format: String
        public var state: String
        public var acquiredAt: Date?
        public var instrument: String?
        public var imageName: String?
        public var qcVerdict: String?
        public var annotations: [Annotation]
        public var replicas: [Replica]
        public var converted: Derived?
    }
    public struct Assay: Sendable, Codable {
        public var level: Level
        public var files: [File]
    }
    public struct Publication: Sendable, Codable {
        public var doi: String
        public var state: String
        public var landing: String
        public var withdrawn: Bool
        /// When DataCite first held it (nil while only reserved here).
        public var registeredAt: Date?
        public var record: String?
    }

    public var investigation: Level
    public var owners: [String]
    public var study: Level
    public var assays: [Assay]
    public var publication: Publication?

    /// The DataCite record, when the study has one.
    public var dataCite: DataCiteAttributes? {
        publication?.record.flatMap { try? DataCiteAttributes(document: Data($0.utf8)) }
    }
}

public struct ExportError: Error, Sendable, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

extension StudySnapshot {
    /// Reads a study (and optionally one of its assays only). Files that were deleted or expired are
    /// left out; so are derived files, which appear as their original's `converted`.
    public static func read(client: PostgresClient, logger: Logger, investigation: String, study: String, assay: String? = nil) async throws -> StudySnapshot {
        var document: String?
        for try await text in try await client.query("""
            WITH st AS (
                SELECT s.*, i.name AS investigation_name FROM studies s JOIN investigations i ON i.id = s.investigation_id
                WHERE i.name = \(investigation) AND s.name = \(study)
            )
            SELECT jsonb_build_object(
                'investigation', (SELECT jsonb_build_object('id', i.id, 'name', i.name, 'description', i.description, 'createdAt', i.created_at,
                                                            'annotations', \(unescaped: annotations("n.investigation_id = i.id")))
                                  FROM investigations i WHERE i.id = st.investigation_id),
                'owners', (SELECT coalesce(jsonb_agg(m.username ORDER BY m.username), '[]') FROM investigation_members m
                           WHERE m.investigation_id = st.investigation_id AND m.role = 'owner'),
                'study', jsonb_build_object('id', st.id, 'name', st.name, 'description', st.description, 'createdAt', st.created_at,
                                            'annotations', \(unescaped: annotations("n.study_id = st.id"))),
                'assays', (SELECT coalesce(jsonb_agg(jsonb_build_object(
                                'level', jsonb_build_object('id', a.id, 'name', a.name, 'description', a.description, 'createdAt', a.created_at,
                                                            'annotations', \(unescaped: annotations("n.assay_id = a.id"))),
                                'files', (SELECT coalesce(jsonb_agg(jsonb_build_object(
                                    'id', o.id, 'path', o.logical_path, 'size', o.size_bytes, 'checksum', o.checksum, 'format', o.format,
                                    'state', o.state, 'acquiredAt', o.acquired_at,
                                    'instrument', (SELECT q.instrument FROM acquisitions q WHERE q.id = o.acquisition_id),
                                    'imageName', (SELECT m.image_name FROM image_metadata m
                                                  WHERE m.object_id IN (SELECT o.id UNION ALL SELECT d.id FROM objects d WHERE d.parent_id = o.id)
                                                    AND m.image_name IS NOT NULL LIMIT 1),
                                    'qcVerdict', (SELECT r.verdict FROM qc_results r
                                                  WHERE r.object_id IN (SELECT o.id UNION ALL SELECT d.id FROM objects d WHERE d.parent_id = o.id)
                                                    AND r.status = 'scored' ORDER BY r.method_version DESC, r.scored_at DESC LIMIT 1),
                                    'annotations', \(unescaped: annotations("n.object_id = o.id")),
                                    'replicas', \(unescaped: replicas("o.id")),
                                    'converted', (SELECT jsonb_build_object('id', d.id, 'path', d.logical_path, 'format', d.format, 'size', d.size_bytes,
                                                                            'checksum', d.checksum, 'replicas', \(unescaped: replicas("d.id")),
                                                                            'annotations', \(unescaped: annotations("n.object_id = d.id")))
                                                  FROM objects d WHERE d.parent_id = o.id AND d.deleted_at IS NULL AND d.state <> 'expired'
                                                  ORDER BY d.logical_path LIMIT 1)
                                ) ORDER BY o.logical_path), '[]')
                                FROM objects o WHERE o.assay_id = a.id AND o.parent_id IS NULL AND o.deleted_at IS NULL AND o.state <> 'expired')
                            ) ORDER BY a.name), '[]')
                           FROM assays a WHERE a.study_id = st.id AND (\(assay)::text IS NULL OR a.name = \(assay))),
                'publication', (SELECT jsonb_build_object('doi', p.doi, 'state', p.state, 'landing', p.landing_url,
                                                          'withdrawn', p.withdrawn_at IS NOT NULL, 'registeredAt', p.registered_at,
                                                          'record', p.record::text)
                                FROM publications p WHERE p.study_id = st.id)
            )::text FROM st
            """, logger: logger).decode(String.self) { document = text }
        guard let document else { throw ExportError("no study \(study) in investigation \(investigation)") }
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .custom { decoder in
            let text = try decoder.singleValueContainer().decode(String.self)
            // PostgreSQL writes timestamptz in JSON as 2026-11-29T18:22:04.123456+00:00.
            if let date = try? Date(text, strategy: Date.ISO8601FormatStyle(includingFractionalSeconds: true)) ?? Date(text, strategy: .iso8601) {
                return date
            }
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "not a timestamp: \(text)"))
        }
        let snapshot = try decoder.decode(StudySnapshot.self, from: Data(document.utf8))
        if let assay, snapshot.assays.isEmpty { throw ExportError("no assay \(assay) in study \(investigation)/\(study)") }
        return snapshot
    }

    private static func annotations(_ condition: String) -> String {
        """
        (SELECT coalesce(jsonb_agg(jsonb_build_object('kind', n.kind, 'namespace', n.namespace, 'key', n.key, 'value', n.value)
                                   ORDER BY n.namespace, n.key, n.value), '[]') FROM annotations n WHERE \(condition))
        """
    }

    private static func replicas(_ object: String) -> String {
        """
        (SELECT coalesce(jsonb_agg(jsonb_build_object('resource', r.name, 'role', r.role, 'path', p.physical_path, 'status', p.status,
                                                      'checksum', p.checksum) ORDER BY r.role, r.name), '[]')
         FROM replicas p JOIN resources r ON r.id = p.resource_id WHERE p.object_id = \(object))
        """
    }
}

extension StudySnapshot.File {
    public var sha256Hex: String? { StudySnapshot.hex(checksum) }

    /// The image's annotations and its image of record's, each once.
    public var allAnnotations: [StudySnapshot.Annotation] {
        var seen = Set<StudySnapshot.Annotation>()
        return (annotations + (converted?.annotations ?? [])).filter { seen.insert($0).inserted }
    }
}

extension StudySnapshot {
    /// The SHA-256 as hex (RO-Crate's `sha256`, `sha256sum`'s form), from the catalog's `sha2:` base64.
    static func hex(_ checksum: String?) -> String? {
        guard let checksum, checksum.hasPrefix("sha2:"), let bytes = Data(base64Encoded: String(checksum.dropFirst(5))), bytes.count == 32 else { return nil }
        return bytes.map { String(format: "%02x", $0) }.joined()
    }
}
