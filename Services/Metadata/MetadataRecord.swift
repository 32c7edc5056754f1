import FairwayCatalog
import FairwayMetadata
import Foundation
import PostgresNIO

/// Writes what was read from images: the `image_metadata` rows, the annotations the metadata step
/// owns (replaced whole), and the objects' states. Runs inside the messages' inbox transaction, a
/// batch of images per statement.
enum MetadataRecord {
    /// One `image_metadata` row as `jsonb_to_recordset` reads it.
    struct Row: Encodable {
        let object_id: UUID
        let origin: String
        let file_name: String
        let image_name: String?
        let acquisition_date: String?
        let acquired_at: Date?
        let size_x: Int, size_y: Int, size_z: Int, size_c: Int, size_t: Int
        let pixel_type: String
        let dimension_order: String
        let significant_bits: Int
        let physical_size_x: Double?, physical_size_y: Double?, physical_size_z: Double?
        let time_increment: Double?
        let microscope: String?
        let objective: String?
        let experimenter: String?
        let software: String?
        let record: ImageMetadata
        let naming: FileNaming
        let missing_fields: [String]
        let document: String

        init(_ metadata: ImageMetadata, image: ImageOfRecord) {
            object_id = image.id
            origin = metadata.source
            file_name = metadata.naming.name
            image_name = metadata.imageName
            acquisition_date = metadata.acquisitionDate
            acquired_at = metadata.acquisitionDate.flatMap(AcquisitionDate.instant) ?? image.acquiredAt.flatMap(AcquisitionDate.instant)
            size_x = metadata.sizeX; size_y = metadata.sizeY; size_z = metadata.sizeZ; size_c = metadata.sizeC; size_t = metadata.sizeT
            pixel_type = metadata.pixelType
            dimension_order = metadata.dimensionOrder
            significant_bits = metadata.significantBits
            physical_size_x = metadata.physicalSizeX; physical_size_y = metadata.physicalSizeY; physical_size_z = metadata.physicalSizeZ
            time_increment = metadata.timeIncrement
            microscope = metadata.machineTags["microscope"]
            objective = metadata.machineTags["objective"]
            experimenter = metadata.experimenter
            software = metadata.software
            record = metadata
            naming = metadata.naming
            missing_fields = metadata.missingFields
            document = searchText(metadata.searchWords + [image.investigation, image.study, image.assay, image.sourceLogicalPath]
                + (metadata.naming.fields.map { Array($0.values) } ?? []))
        }
    }

    /// Stores the descriptions (one per image) and returns each image's missing mandatory fields.
    static func store(_ described: [(metadata: ImageMetadata, image: ImageOfRecord)], in transaction: CatalogTransaction) async throws -> [[String]] {
        guard !described.isEmpty else { return [] }
        let rows = described.map { Row($0.metadata, image: $0.image) }
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601
        let json = String(decoding: try encoder.encode(rows), as: UTF8.self)
        try await transaction.query("""
            INSERT INTO image_metadata (object_id, status, error, origin, file_name, image_name, acquisition_date, acquired_at,
                size_x, size_y, size_z, size_c, size_t, pixel_type, dimension_order, significant_bits,
                physical_size_x, physical_size_y, physical_size_z, time_increment, microscope, objective, experimenter, software,
                record, naming, missing_fields, search_document, extracted_at)
            SELECT x.object_id, 'extracted', NULL, x.origin, x.file_name, x.image_name, x.acquisition_date, x.acquired_at,
                x.size_x, x.size_y, x.size_z, x.size_c, x.size_t, x.pixel_type, x.dimension_order, x.significant_bits,
                x.physical_size_x, x.physical_size_y, x.physical_size_z, x.time_increment, x.microscope, x.objective, x.experimenter, x.software,
                x.record, x.naming, x.missing_fields, to_tsvector('simple', x.document), now()
            FROM jsonb_to_recordset(\(json)::jsonb) AS x(object_id uuid, origin text, file_name text, image_name text, acquisition_date text,
                acquired_at timestamptz, size_x int, size_y int, size_z int, size_c int, size_t int, pixel_type text, dimension_order text,
                significant_bits int, physical_size_x float8, physical_size_y float8, physical_size_z float8, time_increment float8,
                microscope text, objective text, experimenter text, software text, record jsonb, naming jsonb, missing_fields text[], document text)
            ON CONFLICT (object_id) DO UPDATE SET
                status = EXCLUDED.status, error = NULL, origin = EXCLUDED.origin, file_name = EXCLUDED.file_name,
                image_name = EXCLUDED.image_name, acquisition_date = EXCLUDED.acquisition_date, acquired_at = EXCLUDED.acquired_at,
                size_x = EXCLUDED.size_x, size_y = EXCLUDED.size_y, size_z = EXCLUDED.size_z, size_c = EXCLUDED.size_c, size_t = EXCLUDED.size_t,
                pixel_type = EXCLUDED.pixel_type, dimension_order = EXCLUDED.dimension_order, significant_bits = EXCLUDED.significant_bits,
                physical_size_x = EXCLUDED.physical_size_x, physical_size_y = EXCLUDED.physical_size_y, physical_size_z = EXCLUDED.physical_size_z,
                time_increment = EXCLUDED.time_increment, microscope = EXCLUDED.microscope, objective = EXCLUDED.objective,
                experimenter = EXCLUDED.experimenter, software = EXCLUDED.software, record = EXCLUDED.record, naming = EXCLUDED.naming,
                missing_fields = EXCLUDED.missing_fields, search_document = EXCLUDED.search_document, extracted_at = now()
            """)
        let ids = described.map(\.image.id)
        var objects: [UUID] = [], namespaces: [String] = [], keys: [String] = [], values: [String] = []
        for (metadata, image) in described {
            for triple in metadata.annotationTriples {
                objects.append(image.id); namespaces.append(triple.namespace); keys.append(triple.key); values.append(triple.value)
            }
        }
        try await replaceAnnotations(of: ids, with: (objects, namespaces, keys, values), in: transaction)
        try await transaction.query("UPDATE objects SET state = 'described', failure_reason = NULL, updated_at = now() WHERE id = ANY(\(ids)::uuid[])")
        // The registered files show the same stage as their images of record.
        let sources = described.map(\.image).filter { $0.sourceID != $0.id }.map(\.sourceID)
        if !sources.isEmpty {
            try await transaction.query("UPDATE objects SET state = 'described', updated_at = now() WHERE id = ANY(\(sources)::uuid[]) AND state = 'converted'")
        }
        return rows.map(\.missing_fields)
    }

    /// The objects keep the reasons; earlier descriptions, if any, are dropped with their annotations.
    static func failures(_ failed: [(image: ImageOfRecord, reason: String)], in transaction: CatalogTransaction) async throws {
        guard !failed.isEmpty else { return }
        let ids = failed.map(\.image.id), names = failed.map(\.image.sourceFileName), reasons = failed.map { String($0.reason.prefix(2000)) }
        try await transaction.query("""
            INSERT INTO image_metadata (object_id, status, error, file_name)
            SELECT id, 'failed', reason, name FROM unnest(\(ids)::uuid[], \(reasons)::text[], \(names)::text[]) AS f(id, reason, name)
            ON CONFLICT (object_id) DO UPDATE SET status = 'failed', error = EXCLUDED.error, origin = NULL, record = '{}',
                missing_fields = '{}', search_document = ''::tsvector, extracted_at = now()
            """)
        try await replaceAnnotations(of: ids, with: ([], [], [], []), in: transaction)
        try await transaction.query("""
            UPDATE objects o SET state = 'failed', failure_reason = 'metadata: ' || f.reason, updated_at = now()
            FROM unnest(\(ids)::uuid[], \(reasons)::text[]) AS f(id, reason) WHERE o.id = f.id
            """)
    }

    private static func replaceAnnotations(of ids: [UUID], with rows: ([UUID], [String], [String], [String]), in transaction: CatalogTransaction) async throws {
        try await transaction.query("DELETE FROM annotations WHERE object_id = ANY(\(ids)::uuid[]) AND namespace = ANY(\(ImageMetadata.Namespace.all)::text[])")
        guard !rows.0.isEmpty else { return }
        try await transaction.query("""
            INSERT INTO annotations (object_id, kind, namespace, key, value, created_by)
            SELECT o, 'map', n, k, v, 'fairway-metadata'
            FROM unnest(\(rows.0)::uuid[], \(rows.1)::text[], \(rows.2)::text[], \(rows.3)::text[]) AS t(o, n, k, v)
            ON CONFLICT DO NOTHING
            """)
    }

    /// The words of an image's document, split as searches split theirs; each part and the whole
    /// bounded, so a huge name or annotation cannot bloat the index.
    static func searchText(_ parts: [String]) -> String {
        var text = ""
        for part in parts {
            text += CatalogSearch.searchable(String(part.prefix(1024))) + " "
            if text.utf8.count > 65_536 { break }
        }
        return text
    }
}
