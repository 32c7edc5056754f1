import FairwayCatalog
import FairwayContracts
import FairwayServiceKit
import FairwayStorage
import Foundation
import Logging
import PostgresNIO

/// Writes a batch of registrar results in the caller's transaction: objects, replicas and versions
/// of files at rest, their `object.registered` messages, and the new state of every acquisition.
/// Rows go in as one JSON document per statement, so a batch costs the same few round trips
/// whatever its size.
struct RegistrationWriter {
    let lease: UUID
    let logger: Logger

    struct Counts: Sendable {
        var objects = 0
        var failed = 0
    }

    func write(_ batch: [(Registrar.Claimed, Registrar.Result)], in transaction: CatalogTransaction) async throws -> Counts {
        // Only rows still leased to this batch: a lease that ran out may have been taken by another
        // registrar, which then owns the outcome. FOR UPDATE keeps it that way until commit.
        let ids = batch.map(\.0.id)
        var owned = Set<UUID>()
        for try await id in try await transaction.query("""
            SELECT id FROM acquisitions WHERE id = ANY(\(ids)) AND lease_token = \(lease) FOR UPDATE
            """).decode(UUID.self) { owned.insert(id) }

        var counts = Counts()
        var newObjects: [FileRow] = [], changedObjects: [FileRow] = [], reverified: [FileRow] = []
        var annotations: [AnnotationRow] = []
        var sidecar: [SidecarRow] = []
        var registered: [AcquisitionRow] = [], waiting: [AcquisitionRow] = [], failed: [AcquisitionRow] = []
        var retry: [UUID] = []

        for (acquisition, result) in batch where owned.contains(acquisition.id) {
            switch result {
            case .waiting(let fingerprint, let since, let nextCheck):
                waiting.append(AcquisitionRow(id: acquisition.id, fingerprint: fingerprint, since: since, nextCheck: nextCheck))
            case .retry:
                retry.append(acquisition.id)
            case .failed(let reason):
                failed.append(AcquisitionRow(id: acquisition.id, reason: String(reason.prefix(2000))))
                counts.failed += 1
            case .atRest(let files, let skipped, let fingerprint):
                var total: Int64 = 0
                for file in files {
                    total += file.entry.status.size
                    guard let inspection = file.inspection else { continue }   // unchanged since registered
                    var row = FileRow(acquisition, file, inspection)
                    // A sidecar: the acquisition's own metadata, imported at its assay (or the level its
                    // keys name); a broken one is registered like any other file, with its error.
                    switch file.sidecar {
                    case .success(let entries)?:
                        sidecar += entries.map { SidecarRow(assay_id: acquisition.assayID, level: $0.level.rawValue, key: $0.key, value: $0.value, created_by: acquisition.owner) }
                    case .failure(let error)?:
                        logger.warning("sidecar not imported", metadata: ["acquisition": "\(acquisition.id)", "error": "\(error.description)"])
                        annotations.append(AnnotationRow(objectID: file.previous?.objectID ?? row.id, namespace: Sidecar.namespace, key: "error",
                                                         value: String(error.description.prefix(2000)), createdBy: "fairway-ingest"))
                    case nil:
                        break
                    }
                    if let previous = file.previous {
                        row.id = previous.objectID
                        if previous.checksum == inspection.checksum {
                            reverified.append(row)
                        } else {
                            row.version = previous.version + 1
                            changedObjects.append(row)
                        }
                    } else {
                        newObjects.append(row)
                        for (key, value) in acquisition.metadata.sorted(by: { $0.key < $1.key }) {
                            annotations.append(AnnotationRow(objectID: row.id, namespace: "user", key: key, value: value, createdBy: acquisition.owner))
                        }
                    }
                }
                registered.append(AcquisitionRow(id: acquisition.id, fingerprint: fingerprint, files: files.count,
                                                 bytes: total, skipped: skipped))
            }
        }

        if !newObjects.isEmpty {
            // Object, replica and first version in one statement: the foreign keys of the last two
            // are checked at its end, when the objects exist.
            let rows = try Self.json(newObjects)
            try await transaction.query("""
                WITH x AS (
                    SELECT * FROM jsonb_to_recordset(\(rows)::jsonb) AS x(id uuid, acquisition_id uuid, assay_id uuid,
                         zone_id uuid, logical_path text, physical_path text, physical_path_hex text, owner text, size bigint,
                         checksum text, format text, mtime_ns bigint, acquired_at timestamptz)
                ), inserted AS (
                    INSERT INTO objects (id, acquisition_id, assay_id, logical_path, owner, size_bytes, checksum, format, state, acquired_at, version)
                    SELECT id, acquisition_id, assay_id, logical_path, owner, size, checksum, format, 'registered', acquired_at, 1 FROM x
                ), replica AS (
                    INSERT INTO replicas (object_id, resource_id, physical_path, physical_path_bytes, status, size_bytes, checksum, last_verified_at, mtime_ns)
                    SELECT id, zone_id, physical_path, decode(physical_path_hex, 'hex'), 'good', size, checksum, now(), mtime_ns FROM x
                )
                INSERT INTO object_versions (object_id, version, size_bytes, checksum, format, mtime_ns, acquisition_id)
                SELECT id, 1, size, checksum, format, mtime_ns, acquisition_id FROM x
                """)
        }
        if !changedObjects.isEmpty {
            let rows = try Self.json(changedObjects)
            // A file rewritten in place: the object keeps its id and gains a version; the old
            // checksum stays in object_versions. Downstream steps see a new object.registered.
            try await transaction.query("""
                UPDATE objects o SET version = x.version, size_bytes = x.size, checksum = x.checksum, format = x.format,
                       state = 'registered', failure_reason = NULL, updated_at = now()
                FROM jsonb_to_recordset(\(rows)::jsonb) AS x(id uuid, version int, size bigint, checksum text, format text)
                WHERE o.id = x.id
                """)
        }
        let replicaUpdates = changedObjects + reverified
        if !replicaUpdates.isEmpty {
            try await transaction.query("""
                INSERT INTO replicas (object_id, resource_id, physical_path, physical_path_bytes, status, size_bytes, checksum, last_verified_at, mtime_ns)
                SELECT x.id, x.zone_id, x.physical_path, decode(x.physical_path_hex, 'hex'), 'good', x.size, x.checksum, now(), x.mtime_ns
                FROM jsonb_to_recordset(\(try Self.json(replicaUpdates))::jsonb) AS x(id uuid, zone_id uuid, physical_path text,
                     physical_path_hex text, size bigint, checksum text, mtime_ns bigint)
                ON CONFLICT (object_id, resource_id) DO UPDATE SET status = 'good', size_bytes = EXCLUDED.size_bytes,
                    checksum = EXCLUDED.checksum, last_verified_at = now(), mtime_ns = EXCLUDED.mtime_ns
                """)
        }
        let versions = newObjects + changedObjects
        if !changedObjects.isEmpty {
            try await transaction.query("""
                INSERT INTO object_versions (object_id, version, size_bytes, checksum, format, mtime_ns, acquisition_id)
                SELECT x.id, x.version, x.size, x.checksum, x.format, x.mtime_ns, x.acquisition_id
                FROM jsonb_to_recordset(\(try Self.json(changedObjects))::jsonb) AS x(id uuid, version int, size bigint, checksum text,
                     format text, mtime_ns bigint, acquisition_id uuid)
                """)
        }
        if !annotations.isEmpty {
            try await transaction.query("""
                INSERT INTO annotations (object_id, kind, namespace, key, value, created_by)
                SELECT x.object_id, 'map', x.namespace, x.key, x.value, x.created_by
                FROM jsonb_to_recordset(\(try Self.json(annotations))::jsonb) AS x(object_id uuid, namespace text, key text, value text, created_by text)
                ON CONFLICT DO NOTHING
                """)
        }
        if !sidecar.isEmpty {
            try await transaction.query("""
                INSERT INTO annotations (investigation_id, study_id, assay_id, kind, namespace, key, value, created_by)
                SELECT CASE WHEN x.level = 'investigation' THEN s.investigation_id END, CASE WHEN x.level = 'study' THEN s.id END,
                       CASE WHEN x.level = 'assay' THEN y.id END, 'map', \(Sidecar.namespace), x.key, x.value, x.created_by
                FROM jsonb_to_recordset(\(try Self.json(sidecar))::jsonb) AS x(assay_id uuid, level text, key text, value text, created_by text)
                JOIN assays y ON y.id = x.assay_id JOIN studies s ON s.id = y.study_id
                ON CONFLICT DO NOTHING
                """)
        }
        if !registered.isEmpty {
            try await transaction.query("""
                UPDATE acquisitions a SET state = 'registered', failure_reason = NULL, fingerprint = x.fingerprint,
                       file_count = x.files, total_bytes = x.bytes, skipped_entries = x.skipped, registered_at = now(),
                       lease_token = NULL, lease_until = NULL, updated_at = now()
                FROM jsonb_to_recordset(\(try Self.json(registered))::jsonb) AS x(id uuid, fingerprint text, files int, bytes bigint, skipped int)
                WHERE a.id = x.id
                """)
        }
        if !waiting.isEmpty {
            try await transaction.query("""
                UPDATE acquisitions a SET fingerprint = x.fingerprint, fingerprint_since = x.since, next_check_at = x.next_check,
                       lease_token = NULL, lease_until = NULL, updated_at = now()
                FROM jsonb_to_recordset(\(try Self.json(waiting))::jsonb) AS x(id uuid, fingerprint text, since timestamptz, next_check timestamptz)
                WHERE a.id = x.id
                """)
        }
        if !failed.isEmpty {
            try await transaction.query("""
                UPDATE acquisitions a SET state = 'failed', failure_reason = x.reason, lease_token = NULL, lease_until = NULL, updated_at = now()
                FROM jsonb_to_recordset(\(try Self.json(failed))::jsonb) AS x(id uuid, reason text)
                WHERE a.id = x.id
                """)
        }
        if !retry.isEmpty {
            try await transaction.query("""
                UPDATE acquisitions SET lease_token = NULL, lease_until = NULL, next_check_at = now() WHERE id = ANY(\(retry))
                """)
        }

        // Each object continues its acquisition's trace.
        var traces: [UUID: String] = [:]
        let acquisitionIDs = Array(Set(versions.map(\.acquisition_id)))
        for try await (id, trace) in try await transaction.query("""
            SELECT id, traceparent FROM acquisitions WHERE id = ANY(\(acquisitionIDs)) AND traceparent IS NOT NULL
            """).decode((UUID, String).self) { traces[id] = trace }
        for row in versions {
            let correlation = row.acquisition_id.uuidString.lowercased()
            // The registration is a span of its own, a child of the acquisition's request.
            let trace = await TraceHop.span("register object", kind: .internal, continuing: traces[row.acquisition_id],
                                            attributes: ["fairway.object_id": row.id.uuidString.lowercased(),
                                                         "messaging.message.conversation_id": correlation]) { $0.traceparent }
            transaction.emit(Envelope(correlationID: correlation, traceparent: trace.description, payload: ObjectRegistered(
                objectID: row.id, acquisitionID: row.acquisition_id, assayID: row.assay_id, logicalPath: row.logical_path,
                resource: row.zone, physicalPath: row.physical_path, size: row.size, checksum: row.checksum,
                format: row.format, version: row.version, physicalPathBytes: row.physicalPathBase64
            )))
        }
        counts.objects = versions.count
        return counts
    }

    static func json(_ rows: some Encodable) throws -> String {
        String(decoding: try encoder.encode(rows), as: UTF8.self)
    }

    private static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .custom { date, encoder in
            var container = encoder.singleValueContainer()
            try container.encode(ISO8601Timestamp.format(date))
        }
        return encoder
    }()
}

/// A file's row, named as the SQL above reads it.
struct FileRow: Encodable {
    var id = UUID()
    var version = 1
    let acquisition_id: UUID
    let assay_id: UUID
    let zone_id: UUID
    let zone: String
    let logical_path: String
    let physical_path: String
    let physical_path_hex: String?
    let size: Int64
    let checksum: String
    let format: String
    let mtime_ns: Int64
    let owner: String
    let acquired_at: Date?
    /// Kept only when not UTF-8; not sent to SQL as such (the hex form is).
    let physicalBytes: [UInt8]?

    enum CodingKeys: String, CodingKey {
        case id, version, acquisition_id, assay_id, zone_id, zone, logical_path, physical_path, physical_path_hex
        case size, checksum, format, mtime_ns, owner, acquired_at
    }

    init(_ acquisition: Registrar.Claimed, _ file: Registrar.File, _ inspection: FileInspection) {
        acquisition_id = acquisition.id
        assay_id = acquisition.assayID
        zone_id = acquisition.zoneID
        zone = acquisition.zone
        logical_path = file.logicalPath
        physical_path = file.entry.physical.display
        physicalBytes = file.entry.physical.isUTF8 ? nil : file.entry.physical.bytes
        physical_path_hex = physicalBytes.map { $0.map { String($0, radix: 16).leftPadded(2) }.joined() }
        size = inspection.size
        checksum = inspection.checksum
        format = inspection.format.rawValue
        mtime_ns = inspection.status.modifiedNanoseconds
        owner = acquisition.owner
        acquired_at = acquisition.acquiredAt
    }

    /// The exact bytes of a physical path that is not UTF-8, for the message (base64).
    var physicalPathBase64: String? { physicalBytes.map { Data($0).base64EncodedString() } }
}

struct AnnotationRow: Encodable {
    let object_id: UUID
    let namespace: String
    let key: String
    let value: String
    let created_by: String

    init(objectID: UUID, namespace: String, key: String, value: String, createdBy: String) {
        object_id = objectID; self.namespace = namespace; self.key = key; self.value = value; created_by = createdBy
    }
}

struct AcquisitionRow: Encodable {
    let id: UUID
    var fingerprint: String?
    var since: Date?
    var next_check: Date?
    var files: Int?
    var bytes: Int64?
    var skipped: Int?
    var reason: String?

    init(id: UUID, fingerprint: String? = nil, since: Date? = nil, nextCheck: Date? = nil, files: Int? = nil,
         bytes: Int64? = nil, skipped: Int? = nil, reason: String? = nil) {
        self.id = id; self.fingerprint = fingerprint; self.since = since; next_check = nextCheck
        self.files = files; self.bytes = bytes; self.skipped = skipped; self.reason = reason
    }
}

extension String {
    func leftPadded(_ width: Int) -> String { count >= width ? self : String(repeating: "0", count: width - count) + self }
}
