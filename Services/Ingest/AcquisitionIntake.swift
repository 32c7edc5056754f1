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

    var description: String {
        switch self {
        case .invalidBody(let error): error.description
        case .unknownZone(let zone): "no landing zone is named '\(zone.prefix(128))'"
        case .zoneNotAllowed(let requested, let tokenZone): "this token is for zone '\(tokenZone)', not '\(requested.prefix(128))'"
        case .path(let error): error.description
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

    func accept(_ request: AcquisitionCompleted, source: Source, defaultOwner: String, tokenZone: String?,
                on connection: PostgresConnection) async throws -> Outcome {
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
        let path = relative.description
        let metadata = String(decoding: try JSONEncoder().encode(request.metadata ?? [:]), as: UTF8.self)

        let inserted = try await connection.query("""
            INSERT INTO acquisitions (zone_id, path, owner, assay_id, instrument, acquired_at, metadata, state, kind, source)
            VALUES (\(zone.id), \(path), \(owner), \(assayID), \(request.instrument), \(request.acquiredAt),
                    \(metadata)::jsonb, 'pending', \(kind), \(source.rawValue))
            ON CONFLICT (zone_id, path) DO NOTHING
            RETURNING id
            """, logger: logger)
        for try await id in inserted.decode(UUID.self) { return .created(id) }

        // Posted before. A pending one is left alone (re-posting must not restart its quiet period);
        // a finished one is checked again.
        let reopened = try await connection.query("""
            UPDATE acquisitions SET state = 'pending', failure_reason = NULL, kind = \(kind), fingerprint = NULL,
                   fingerprint_since = NULL, next_check_at = now(), checks = 0, updated_at = now()
            WHERE zone_id = \(zone.id) AND path = \(path) AND state <> 'pending'
            RETURNING id
            """, logger: logger)
        for try await id in reopened.decode(UUID.self) { return .existing(id, state: "pending") }
        let current = try await connection.query(
            "SELECT id, state FROM acquisitions WHERE zone_id = \(zone.id) AND path = \(path)", logger: logger)
        for try await (id, state) in current.decode((UUID, String).self) { return .existing(id, state: state) }
        throw PostgresIngestError("acquisition \(path) vanished while it was being recorded")
    }
}
