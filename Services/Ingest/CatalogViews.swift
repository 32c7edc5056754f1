import Foundation
import Logging
import PostgresNIO

/// Read views of the catalog for the API, built as JSON by PostgreSQL in one query each. A watcher
/// token sees what lives in its own zone.
struct CatalogViews: Sendable {
    let client: PostgresClient
    let logger: Logger

    /// How far an object has gone down the pipeline, stage by stage.
    private static let stage = """
        json_build_object('registered', true,
                          'converted', o.state IN ('converted', 'described', 'scored'),
                          'described', o.state IN ('described', 'scored'),
                          'scored', o.state = 'scored')
        """

    func acquisition(_ id: UUID, zone: String) async throws -> String? {
        try await single(PostgresQuery(unsafeSQL: """
            SELECT json_build_object(
                'id', a.id, 'zone', r.name, 'path', a.path, 'kind', a.kind, 'state', a.state, 'reason', a.failure_reason,
                'owner', a.owner, 'investigation', i.name, 'study', s.name, 'assay', y.name, 'instrument', a.instrument,
                'acquiredAt', a.acquired_at, 'metadata', a.metadata, 'source', a.source, 'createdAt', a.created_at,
                'updatedAt', a.updated_at, 'registeredAt', a.registered_at, 'checks', a.checks,
                'nextCheckAt', CASE WHEN a.state = 'pending' THEN a.next_check_at END,
                'fileCount', a.file_count, 'totalBytes', a.total_bytes, 'skippedEntries', a.skipped_entries,
                'objects', COALESCE((
                    SELECT json_agg(json_build_object('id', o.id, 'path', o.logical_path, 'size', o.size_bytes, 'sha2', o.checksum,
                                                      'format', o.format, 'version', o.version, 'state', o.state,
                                                      'reason', o.failure_reason, 'stage', \(Self.stage)) ORDER BY o.logical_path)
                    FROM objects o
                    WHERE o.acquisition_id = a.id
                       OR o.id IN (SELECT object_id FROM object_versions WHERE acquisition_id = a.id)), '[]'::json)
            )::text
            FROM acquisitions a
            JOIN resources r ON r.id = a.zone_id
            JOIN assays y ON y.id = a.assay_id JOIN studies s ON s.id = y.study_id JOIN investigations i ON i.id = s.investigation_id
            WHERE a.id = $1 AND r.name = $2
            """, binds: binds(id, zone)))
    }

    struct ObjectFilter: Sendable {
        var zone: String
        var investigation: String?
        var study: String?
        var assay: String?
        var limit = 100
        var after: UUID?
    }

    /// A page of objects in id order; `next` is the cursor of the following page, or null.
    func objects(_ filter: ObjectFilter) async throws -> String {
        var binds = PostgresBindings()
        binds.append(filter.zone)
        binds.append(filter.investigation)
        binds.append(filter.study)
        binds.append(filter.assay)
        binds.append(filter.after)
        binds.append(filter.limit + 1)
        return try await single(PostgresQuery(unsafeSQL: """
            WITH page AS (
                SELECT o.*, i.name AS investigation, s.name AS study, y.name AS assay
                FROM objects o
                JOIN assays y ON y.id = o.assay_id JOIN studies s ON s.id = y.study_id JOIN investigations i ON i.id = s.investigation_id
                WHERE EXISTS (SELECT 1 FROM replicas p JOIN resources r ON r.id = p.resource_id WHERE p.object_id = o.id AND r.name = $1)
                  AND ($2::text IS NULL OR i.name = $2) AND ($3::text IS NULL OR s.name = $3) AND ($4::text IS NULL OR y.name = $4)
                  AND ($5::uuid IS NULL OR o.id > $5)
                ORDER BY o.id
                LIMIT $6
            ), numbered AS (
                SELECT page.*, row_number() OVER (ORDER BY id) AS n FROM page
            )
            SELECT json_build_object(
                'objects', COALESCE((SELECT json_agg(json_build_object(
                    'id', o.id, 'path', o.logical_path, 'size', o.size_bytes, 'sha2', o.checksum, 'format', o.format,
                    'version', o.version, 'state', o.state, 'reason', o.failure_reason, 'owner', o.owner,
                    'investigation', o.investigation, 'study', o.study, 'assay', o.assay, 'acquisition', o.acquisition_id,
                    'createdAt', o.created_at, 'stage', \(Self.stage)) ORDER BY o.id)
                    FROM numbered o WHERE n <= $6 - 1), '[]'::json),
                'next', (SELECT id FROM numbered WHERE n = $6 - 1 AND EXISTS (SELECT 1 FROM numbered WHERE n = $6))
            )::text
            """, binds: binds)) ?? "{\"objects\":[],\"next\":null}"
    }

    func object(_ id: UUID, zone: String) async throws -> String? {
        try await single(PostgresQuery(unsafeSQL: """
            SELECT json_build_object(
                'id', o.id, 'path', o.logical_path, 'size', o.size_bytes, 'sha2', o.checksum, 'format', o.format,
                'version', o.version, 'state', o.state, 'reason', o.failure_reason, 'owner', o.owner,
                'acquisition', o.acquisition_id, 'parent', o.parent_id, 'acquiredAt', o.acquired_at,
                'createdAt', o.created_at, 'updatedAt', o.updated_at,
                'investigation', i.name, 'study', s.name, 'assay', y.name, 'stage', \(Self.stage),
                'replicas', COALESCE((SELECT json_agg(json_build_object(
                    'resource', r.name, 'role', r.role, 'physicalPath', p.physical_path,
                    'physicalPathBytes', encode(p.physical_path_bytes, 'base64'), 'status', p.status, 'size', p.size_bytes,
                    'sha2', p.checksum, 'lastVerifiedAt', p.last_verified_at,
                    'mtime', to_timestamp(p.mtime_ns / 1e9)) ORDER BY r.name)
                    FROM replicas p JOIN resources r ON r.id = p.resource_id WHERE p.object_id = o.id), '[]'::json),
                'versions', COALESCE((SELECT json_agg(json_build_object(
                    'version', v.version, 'size', v.size_bytes, 'sha2', v.checksum, 'format', v.format,
                    'acquisition', v.acquisition_id, 'registeredAt', v.registered_at) ORDER BY v.version)
                    FROM object_versions v WHERE v.object_id = o.id), '[]'::json),
                'annotations', COALESCE((SELECT json_agg(json_build_object(
                    'namespace', n.namespace, 'key', n.key, 'value', n.value, 'kind', n.kind) ORDER BY n.namespace, n.key)
                    FROM annotations n WHERE n.object_id = o.id), '[]'::json),
                'image', (SELECT CASE WHEN m.status = 'failed' THEN json_build_object('error', m.error, 'extractedAt', m.extracted_at)
                                      ELSE json_build_object('metadata', m.record, 'missingFields', m.missing_fields, 'extractedAt', m.extracted_at) END
                          FROM image_metadata m WHERE m.object_id = o.id),
                -- The object's own scores, or those of its image of record (the OME-TIFF derived from it).
                'quality', (SELECT json_build_object('object', q.object_id, 'methodVersion', q.method_version, 'status', q.status,
                                                     'verdict', q.verdict, 'reasons', q.reasons, 'error', q.error,
                                                     'channels', q.report -> 'channels', 'scoredAt', q.scored_at)
                            FROM qc_results q
                            WHERE q.object_id = o.id OR q.object_id IN (SELECT c.id FROM objects c WHERE c.parent_id = o.id)
                            ORDER BY q.object_id = o.id DESC, q.method_version DESC, q.scored_at DESC LIMIT 1)
            )::text
            FROM objects o
            JOIN assays y ON y.id = o.assay_id JOIN studies s ON s.id = y.study_id JOIN investigations i ON i.id = s.investigation_id
            WHERE o.id = $1
              AND (EXISTS (SELECT 1 FROM replicas p JOIN resources r ON r.id = p.resource_id WHERE p.object_id = o.id AND r.name = $2)
                   -- Still the zone's after retention cleaned the buffer: acquired there.
                   OR EXISTS (SELECT 1 FROM acquisitions q JOIN resources z ON z.id = q.zone_id
                              WHERE z.name = $2 AND q.id = coalesce(o.acquisition_id, (SELECT f.acquisition_id FROM objects f WHERE f.id = o.parent_id))))
            """, binds: binds(id, zone)))
    }

    /// The replica to read an object's bytes from (an intact one, the fastest storage first) for a
    /// token of `zone`, recording the access that retention's tiering counts from.
    func readableReplica(_ id: UUID, zone: String) async throws -> (path: String, size: Int64, checksum: String?)? {
        var found: (String, Int64, String?)?
        for try await row in try await client.query(PostgresQuery(unsafeSQL: """
            WITH readable AS (
                SELECT r.physical_path, o.size_bytes, o.checksum
                FROM objects o
                JOIN replicas r ON r.object_id = o.id AND r.status = 'good' AND r.checksum = o.checksum AND r.physical_path_bytes IS NULL
                JOIN resources x ON x.id = r.resource_id
                JOIN acquisitions q ON q.id = coalesce(o.acquisition_id, (SELECT f.acquisition_id FROM objects f WHERE f.id = o.parent_id))
                JOIN resources z ON z.id = q.zone_id
                WHERE o.id = $1 AND z.name = $2 AND o.state <> 'expired'
                ORDER BY CASE x.role WHEN 'landing' THEN 0 WHEN 'vault' THEN 1 WHEN 'derived' THEN 2 ELSE 3 END
                LIMIT 1
            ),
            accessed AS (UPDATE objects SET last_accessed_at = now() WHERE id = $1 AND EXISTS (SELECT 1 FROM readable))
            SELECT physical_path, size_bytes, checksum FROM readable
            """, binds: binds(id, zone)), logger: logger).decode((String, Int64, String?).self) { found = row }
        return found.map { (path: $0.0, size: $0.1, checksum: $0.2) }
    }

    private func binds(_ id: UUID, _ zone: String) -> PostgresBindings {
        var binds = PostgresBindings()
        binds.append(id)
        binds.append(zone)
        return binds
    }

    private func single(_ query: PostgresQuery) async throws -> String? {
        for try await text in try await client.query(query, logger: logger).decode(String.self) { return text }
        return nil
    }
}
