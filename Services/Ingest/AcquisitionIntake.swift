import FairwayContracts
import FairwayStorage
import Foundation
import Logging
import PostgresNIO

/// Why an acquisition was refused at the door. Nothing is written to the catalog in any of these cases.
enum IntakeError: Error, CustomStringConvertible {
    case invalidBody(ContractError)
    case unknownZone(String)
    case zoneNotAllowed(requested: String, tokenZone: String)
    case path(PathError)
    case overQuota(investigation: String, usage: Int64, quota: Int64)

    var description: String {
        switch self {
        case .invalidBody(let error): error.description
        case .unknownZone(let zone): "no landing zone is named '\(zone.prefix(128))'"
        case .zoneNotAllowed(let requested, let tokenZone): "this token is for zone '\(tokenZone)', not '\(requested.prefix(128))'"
        case .path(let error): error.description
        case .overQuota(let investigation, let usage, let quota):
            "investigation '\(investigation)' is over its storage quota (\(usage) of \(quota) bytes used); remove data or ask an operator to raise the quota"
        }
    }
}

/// The front door shared by `POST /v1/acquisitions` and `acquisition.completed`: checks the request,
/// confines the path to its zone, and records the acquisition as pending. The registrar takes it
/// from there once its files are at rest, so no request ever waits for a checksum.
struct AcquisitionIntake: Sendable {
    enum Source: String, Sendable { case http, amqp }

    enum Outcome: Sendable {
        case created(UUID)
        /// The same zone and path was posted before: its id, and its state now (a registered or
        /// failed acquisition is checked again: changed files become new versions).
        case existing(UUID, state: String)
    }

    let zones: ZoneDirectory
    let assays: AssayDirectory
    let logger: Logger

    /// A request that passed every check, ready to be recorded.
    struct Checked: Sendable, Encodable {
        let zone_id: UUID
        let path: String
        let owner: String
        let assay_id: UUID
        let instrument: String?
        let acquired_at: String?
        let metadata: [String: String]
        let kind: String
        /// The acquisition's span in the trace its poster started (or a new trace).
        var traceparent: String?
        var key: String { "\(zone_id)/\(path)" }
    }

    func accept(_ request: AcquisitionCompleted, source: Source, defaultOwner: String, tokenZone: String?,
                trace: TraceParent, on connection: PostgresConnection) async throws -> Outcome {
        var checked = try await check(request, defaultOwner: defaultOwner, tokenZone: tokenZone, on: connection)
        checked.traceparent = trace.description
        return try await record([checked], source: source, on: connection)[0]
    }

    /// Validates the fields, confines the path to its zone, and finds (or creates) the assay.
    func check(_ request: AcquisitionCompleted, defaultOwner: String, tokenZone: String?,
               on connection: PostgresConnection) async throws -> Checked {
        do { try request.validate() } catch { throw IntakeError.invalidBody(error) }
        guard let zone = try await zones.zone(named: request.zone), zone.role == "landing" else {
            throw IntakeError.unknownZone(request.zone)
        }
        if let tokenZone, tokenZone != zone.name { throw IntakeError.zoneNotAllowed(requested: zone.name, tokenZone: tokenZone) }
        let relative: RelativePath
        let resolved: ResolvedPath
        do {
            relative = try RelativePath(request.path)
            resolved = try zone.root.resolve(relative)
        } catch {
            throw IntakeError.path(error)
        }
        let kind = resolved.status.kind == .folder ? "folder" : "file"
        let owner = request.owner ?? defaultOwner
        let names = request.isaNames(folders: kind == "folder" ? relative.components[...] : relative.folders)
        let assayID = try await assays.id(investigation: names.investigation, study: names.study, assay: names.assay,
                                          member: owner, on: connection, logger: logger)
        try await checkQuota(assayID: assayID, on: connection)
        return Checked(zone_id: zone.id, path: relative.description, owner: owner, assay_id: assayID,
                       instrument: request.instrument, acquired_at: request.acquiredAt.map(ISO8601Timestamp.format),
                       metadata: request.metadata ?? [:], kind: kind)
    }

    /// A hard quota (`quota:` in the retention policy) refuses acquisitions once the investigation's
    /// live objects fill it. Usage is summed only for investigations that have a quota.
    func checkQuota(assayID: UUID, on connection: PostgresConnection) async throws {
        for try await (name, quota, usage) in try await connection.query("""
            SELECT i.name, i.quota_bytes,
                   (SELECT coalesce(sum(o.size_bytes), 0)::bigint FROM studies s2 JOIN assays a2 ON a2.study_id = s2.id
                    JOIN objects o ON o.assay_id = a2.id WHERE s2.investigation_id = i.id AND o.state <> 'expired')
            FROM assays a JOIN studies s ON s.id = a.study_id JOIN investigations i ON i.id = s.investigation_id
            WHERE a.id = \(assayID) AND i.quota_bytes IS NOT NULL
            """, logger: logger).decode((String, Int64, Int64).self) where usage >= quota {
            throw IntakeError.overQuota(investigation: name, usage: usage, quota: quota)
        }
    }

    /// Records checked acquisitions in a few statements whatever their number: new ones as
    /// pending; ones posted before keep their id (a pending one is left alone, so re-posting never
    /// restarts its quiet period; a finished one is checked again).
    func record(_ acquisitions: [Checked], source: Source, on connection: PostgresConnection) async throws -> [Outcome] {
        guard !acquisitions.isEmpty else { return [] }
        let rows = String(decoding: try JSONEncoder().encode(acquisitions), as: UTF8.self)
        var outcomes: [String: Outcome] = [:]
        for try await (zoneID, path, id) in try await connection.query("""
            INSERT INTO acquisitions (zone_id, path, owner, assay_id, instrument, acquired_at, metadata, state, kind, source, traceparent)
            SELECT x.zone_id, x.path, x.owner, x.assay_id, x.instrument, x.acquired_at, x.metadata, 'pending', x.kind, \(source.rawValue), x.traceparent
            FROM jsonb_to_recordset(\(rows)::jsonb) AS x(zone_id uuid, path text, owner text, assay_id uuid, instrument text,
                 acquired_at timestamptz, metadata jsonb, kind text, traceparent text)
            ON CONFLICT (zone_id, path) DO NOTHING
            RETURNING zone_id, path, id
            """, logger: logger).decode((UUID, String, UUID).self) {
            outcomes["\(zoneID)/\(path)"] = .created(id)
        }
        let known = acquisitions.filter { outcomes[$0.key] == nil }
        if !known.isEmpty {
            let rows = String(decoding: try JSONEncoder().encode(known), as: UTF8.self)
            for try await (zoneID, path, id) in try await connection.query("""
                UPDATE acquisitions a SET state = 'pending', failure_reason = NULL, kind = x.kind, fingerprint = NULL,
                       fingerprint_since = NULL, next_check_at = now(), checks = 0, updated_at = now(),
                       traceparent = coalesce(x.traceparent, a.traceparent)
                FROM jsonb_to_recordset(\(rows)::jsonb) AS x(zone_id uuid, path text, kind text, traceparent text)
                WHERE a.zone_id = x.zone_id AND a.path = x.path AND a.state <> 'pending'
                RETURNING a.zone_id, a.path, a.id
                """, logger: logger).decode((UUID, String, UUID).self) {
                outcomes["\(zoneID)/\(path)"] = .existing(id, state: "pending")
            }
            for try await (zoneID, path, id, state) in try await connection.query("""
                SELECT a.zone_id, a.path, a.id, a.state
                FROM acquisitions a JOIN jsonb_to_recordset(\(rows)::jsonb) AS x(zone_id uuid, path text) ON a.zone_id = x.zone_id AND a.path = x.path
                """, logger: logger).decode((UUID, String, UUID, String).self) where outcomes["\(zoneID)/\(path)"] == nil {
                outcomes["\(zoneID)/\(path)"] = .existing(id, state: state)
            }
        }
        return try acquisitions.map { acquisition in
            guard let outcome = outcomes[acquisition.key] else {
                throw CatalogInconsistency("acquisition \(acquisition.path) vanished while it was being recorded")
            }
            return outcome
        }
    }
}
