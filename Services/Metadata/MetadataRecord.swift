import FairwayCatalog
import FairwayMetadata
import Foundation
import PostgresNIO

/// Writes what was read from an image: the `image_metadata` row, the annotations the metadata step
/// owns (replaced whole), and the object's state. Runs inside the message's inbox transaction.
enum MetadataRecord {
    /// Stores the description and returns the mandatory fields the image lacks.
    static func store(_ metadata: ImageMetadata, image: ImageOfRecord, in transaction: CatalogTransaction) async throws -> [String] {
        let missing = metadata.missingFields
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let record = String(decoding: try encoder.encode(metadata), as: UTF8.self)
        let naming = String(decoding: try encoder.encode(metadata.naming), as: UTF8.self)
        let acquiredAt = metadata.acquisitionDate.flatMap(AcquisitionDate.instant) ?? image.acquiredAt.flatMap(AcquisitionDate.instant)
        let document = searchText(metadata.searchWords + [image.investigation, image.study, image.assay, image.sourceLogicalPath] + (metadata.naming.fields.map { Array($0.values) } ?? []))
        let microscope = metadata.machineTags["microscope"], objective = metadata.machineTags["objective"]
        try await transaction.query("""
            INSERT INTO image_metadata (object_id, status, error, origin, file_name, image_name, acquisition_date, acquired_at,
                size_x, size_y, size_z, size_c, size_t, pixel_type, dimension_order, significant_bits,
                physical_size_x, physical_size_y, physical_size_z, time_increment, microscope, objective, experimenter, software,
                record, naming, missing_fields, search_document, extracted_at)
            VALUES (\(image.id), 'extracted', NULL, \(metadata.source), \(metadata.naming.name), \(metadata.imageName), \(metadata.acquisitionDate), \(acquiredAt),
                \(metadata.sizeX), \(metadata.sizeY), \(metadata.sizeZ), \(metadata.sizeC), \(metadata.sizeT), \(metadata.pixelType), \(metadata.dimensionOrder), \(metadata.significantBits),
                \(metadata.physicalSizeX), \(metadata.physicalSizeY), \(metadata.physicalSizeZ), \(metadata.timeIncrement), \(microscope), \(objective), \(metadata.experimenter), \(metadata.software),
                \(record)::jsonb, \(naming)::jsonb, \(missing)::text[], to_tsvector('simple', \(document)), now())
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
        try await replaceAnnotations(of: image.id, with: metadata.annotationTriples, in: transaction)
        try await transaction.query("UPDATE objects SET state = 'described', failure_reason = NULL, updated_at = now() WHERE id = \(image.id)")
        if image.sourceID != image.id {
            // The registered file shows the same stage as its image of record.
            try await transaction.query("UPDATE objects SET state = 'described', updated_at = now() WHERE id = \(image.sourceID) AND state = 'converted'")
        }
        return missing
    }

    /// The object keeps the reason; its earlier description, if any, is dropped with its annotations.
    static func failure(object: UUID, fileName: String, reason: String, in transaction: CatalogTransaction) async throws {
        let reason = String(reason.prefix(2000))
        try await transaction.query("""
            INSERT INTO image_metadata (object_id, status, error, file_name) VALUES (\(object), 'failed', \(reason), \(fileName))
            ON CONFLICT (object_id) DO UPDATE SET status = 'failed', error = EXCLUDED.error, origin = NULL, record = '{}',
                missing_fields = '{}', search_document = ''::tsvector, extracted_at = now()
            """)
        try await replaceAnnotations(of: object, with: [], in: transaction)
        try await transaction.query("""
            UPDATE objects SET state = 'failed', failure_reason = \("metadata: " + reason), updated_at = now() WHERE id = \(object)
            """)
    }

    private static func replaceAnnotations(of object: UUID, with triples: [(namespace: String, key: String, value: String)], in transaction: CatalogTransaction) async throws {
        try await transaction.query("DELETE FROM annotations WHERE object_id = \(object) AND namespace = ANY(\(ImageMetadata.Namespace.all)::text[])")
        guard !triples.isEmpty else { return }
        try await transaction.query("""
            INSERT INTO annotations (object_id, kind, namespace, key, value, created_by)
            SELECT \(object), 'map', n, k, v, 'fairway-metadata'
            FROM unnest(\(triples.map(\.namespace))::text[], \(triples.map(\.key))::text[], \(triples.map(\.value))::text[]) AS t(n, k, v)
            ON CONFLICT DO NOTHING
            """)
    }

    /// Letters and digits only, so file names and paths split into words the way people type them.
    static func searchText(_ parts: [String]) -> String {
        var text = String.UnicodeScalarView()
        for part in parts {
            for scalar in part.unicodeScalars.prefix(1024) {
                text.append(scalar.properties.isAlphabetic || scalar.properties.numericType != nil ? scalar : " ")
            }
            text.append(" ")
            if text.count > 65_536 { break }
        }
        return String(text)
    }
}
