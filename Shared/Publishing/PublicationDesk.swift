public import FairwayCatalog
import FairwayContracts
public import FairwayPublication
public import Foundation
public import Logging
public import PostgresNIO

/// Where publication requests are taken, from the CLI and the catalog API alike: the request is
/// checked field by field, the study's DOI chosen (or the one it has kept), and the record and the
/// request to DataCite committed together with `dataset.publish.requested`. The DOI service does
/// the remote part from what is committed here.
public struct PublicationDesk: Sendable {
    let client: PostgresClient
    let exchange: String
    let logger: Logger

    public init(client: PostgresClient, exchange: String, logger: Logger) {
        self.client = client; self.exchange = exchange; self.logger = logger
    }

    /// Why a request was not taken; each says what to do.
    public enum Refusal: Error, Sendable, CustomStringConvertible {
        case problems([FieldProblem])
        case unknownStudy(investigation: String, study: String)
        case nothingToPublish(investigation: String, study: String)
        case withdrawn(DOIName, reason: String)
        case unknownDOI(String)
        case contended

        public var description: String {
            switch self {
            case .problems(let problems): "\(problems.count) problem\(problems.count == 1 ? "" : "s"): " + problems.map(\.description).joined(separator: "; ")
            case .unknownStudy(let investigation, let study): "no study \(study) in investigation \(investigation)"
            case .nothingToPublish(let investigation, let study): "study \(investigation)/\(study) has no data to publish"
            case .withdrawn(let doi, let reason): "\(doi) was withdrawn (\(reason)); a withdrawn DOI is not published again"
            case .unknownDOI(let doi): "no publication has the DOI \(doi)"
            case .contended: "could not reserve a DOI; try again"
            }
        }
    }

    public struct Reservation: Sendable {
        public let publicationID: UUID
        public let doi: DOIName
        public let landingPage: String
        public let state: String
        /// The study already had this DOI: its metadata is updated.
        public let updated: Bool
    }

    /// Checks `request`, then reserves the study's DOI (or keeps the one it has) and asks for its
    /// registration, or for the update of its metadata.
    public func reserve(investigation: String, study: String, request: PublicationRequest, requestedBy: String,
                        settings: PublishingSettings) async throws -> Reservation {
        let problems = PublicationValidation.problems(of: request)
        guard problems.isEmpty else { throw Refusal.problems(problems) }
        var studyID: UUID?
        for try await id in try await client.query("""
            SELECT s.id FROM studies s JOIN investigations i ON i.id = s.investigation_id WHERE i.name = \(investigation) AND s.name = \(study)
            """, logger: logger).decode(UUID.self) { studyID = id }
        guard let studyID else { throw Refusal.unknownStudy(investigation: investigation, study: study) }
        let facts = try await Self.facts(of: studyID, settings: settings, client: client, logger: logger)
        guard facts.fileCount > 0 else { throw Refusal.nothingToPublish(investigation: investigation, study: study) }
        let catalog = Catalog(client: client, service: "doi", exchange: exchange, logger: logger)
        // The study keeps the DOI it was given; a new one is drawn until it is unused.
        for _ in 0 ..< 8 {
            var existing: (doi: String, reason: String?)?
            for try await row in try await client.query("SELECT doi, withdrawal_reason FROM publications WHERE study_id = \(studyID)", logger: logger)
                .decode((String, String?).self) { existing = (row.0, row.1) }
            let doi = existing.flatMap { DOIName($0.doi) } ?? DOIName(prefix: settings.validation.doiPrefix, suffix: DOISuffix.random())
            if let reason = existing?.reason { throw Refusal.withdrawn(doi, reason: reason) }
            let landing = settings.landingPage(doi)
            let installation = PublicationValidation.problems(doi: doi, landingPage: landing, facts: facts, settings: settings.validation)
            guard installation.isEmpty else { throw Refusal.problems(installation) }
            let record = DataCiteAttributes(doi: doi, event: "publish", landingPage: landing, request: request, facts: facts)
            let requestJSON = String(decoding: try JSONEncoder().encode(request), as: UTF8.self)
            let recordJSON = String(decoding: record.document, as: UTF8.self)
            let saved: (UUID, String)? = try await catalog.transaction { transaction in
                var saved: (UUID, String)?
                // A new publication waits for its registration; a known one for the update of its
                // metadata (a refused one is tried again with the new metadata).
                for try await row in try await transaction.query("""
                    INSERT INTO publications (study_id, doi, state, status_detail, landing_url, metadata, record, requested_by)
                    VALUES (\(studyID), \(doi.description), 'reserved', 'waiting for the DOI service to register it at DataCite',
                            \(landing), \(requestJSON)::jsonb, \(recordJSON)::jsonb, \(requestedBy))
                    ON CONFLICT (study_id) DO UPDATE
                    SET metadata = EXCLUDED.metadata, record = EXCLUDED.record, field_errors = '[]', updated_at = now(),
                        revision = publications.revision + 1, attempts = 0, next_attempt_at = now(),
                        state = CASE WHEN publications.state = 'failed' THEN 'reserved' ELSE publications.state END,
                        status_detail = CASE WHEN publications.registered_at IS NULL THEN EXCLUDED.status_detail
                                             ELSE 'metadata update waiting to be sent to DataCite' END
                    WHERE publications.doi = EXCLUDED.doi AND publications.withdrawn_at IS NULL
                    RETURNING id, state
                    """).decode((UUID, String).self) { saved = row }
                guard let (publicationID, _) = saved else { return nil }
                try await transaction.query("""
                    INSERT INTO audit_log (actor, action, target_kind, target_id, details)
                    VALUES (\(requestedBy), 'publication.request', 'publication', \(doi.description),
                            jsonb_build_object('investigation', \(investigation)::text, 'study', \(study)::text))
                    """)
                transaction.emit(Envelope(payload: DatasetPublishRequested(publicationID: publicationID, investigation: investigation,
                                                                           study: study, requestedBy: requestedBy)))
                return saved
            }
            if let saved { return Reservation(publicationID: saved.0, doi: doi, landingPage: landing, state: saved.1, updated: existing != nil) }
            // Another request for the same study won the race (with another DOI, or withdrew it): look again.
        }
        throw Refusal.contended
    }

    public struct Withdrawal: Sendable {
        public let doi: DOIName
        public let state: String
        /// Said to the user: what happens at DataCite.
        public let detail: String
        public let alreadyWithdrawn: Bool
    }

    /// Withdraws a publication: its landing page becomes a tombstone with `reason`, and the DOI
    /// service hides the DOI at DataCite (registered DOIs stay for good) or deletes it if DataCite
    /// only holds a draft. `delete` asks for deletion, which falls back to hiding for a DOI that is
    /// registered or findable.
    public func withdraw(doi: DOIName, reason: String, requestedBy: String, delete: Bool) async throws -> Withdrawal {
        let catalog = Catalog(client: client, service: "doi", exchange: exchange, logger: logger)
        return try await catalog.transaction { transaction in
            var row: (String, String?, Bool, Date?)?
            for try await found in try await transaction.query("""
                SELECT state, withdrawal_reason, in_flight, registered_at FROM publications WHERE doi = \(doi.description) FOR UPDATE
                """).decode((String, String?, Bool, Date?).self) { row = found }
            guard let (state, previous, inFlight, registeredAt) = row else { throw Refusal.unknownDOI(doi.description) }
            if previous != nil {
                return Withdrawal(doi: doi, state: state, detail: "already withdrawn: \(previous!)", alreadyWithdrawn: true)
            }
            // Nothing reached DataCite yet: no answer ever said otherwise and no call is open.
            let neverSent = ["reserved", "failed"].contains(state) && !inFlight && registeredAt == nil
            let detail: String
            if neverSent {
                detail = "it never reached DataCite: withdrawn here, nothing to hide or delete there"
            } else if delete && registeredAt != nil {
                detail = "DataCite keeps registered and findable DOIs for good: it is hidden instead of deleted, and resolves to the tombstone"
            } else {
                detail = "waiting for the DOI service to hide it at DataCite (a draft there is deleted); it will resolve to the tombstone"
            }
            var newState = state
            for try await value in try await transaction.query("""
                UPDATE publications
                SET withdrawn_at = now(), withdrawn_by = \(requestedBy), withdrawal_reason = \(reason), target = 'hidden',
                    delete_requested = \(delete), revision = revision + 1, attempts = 0, next_attempt_at = now(), updated_at = now(),
                    state = CASE WHEN \(neverSent) THEN 'withdrawn' ELSE state END,
                    synced_revision = CASE WHEN \(neverSent) THEN revision + 1 ELSE synced_revision END,
                    status_detail = \(detail)
                WHERE doi = \(doi.description)
                RETURNING state
                """).decode(String.self) { newState = value }
            try await transaction.query("""
                INSERT INTO audit_log (actor, action, target_kind, target_id, details)
                VALUES (\(requestedBy), 'publication.withdraw', 'publication', \(doi.description),
                        jsonb_build_object('reason', \(reason)::text, 'delete', \(delete)))
                """)
            return Withdrawal(doi: doi, state: newState, detail: detail, alreadyWithdrawn: false)
        }
    }

    /// What the catalog says about a study: files, sizes and formats of what was acquired,
    /// acquisition days and instruments from the metadata step, the imaging method annotation.
    public static func facts(of studyID: UUID, settings: PublishingSettings, client: PostgresClient, logger: Logger) async throws -> CatalogFacts {
        var files = 0, bytes: Int64 = 0, formats: [String] = [], first: String?, last: String?, instruments: [String] = []
        for try await row in try await client.query("""
            SELECT (count(*) FILTER (WHERE o.parent_id IS NULL))::int,
                   (coalesce(sum(o.size_bytes) FILTER (WHERE o.parent_id IS NULL), 0))::bigint,
                   coalesce(array_agg(DISTINCT o.format ORDER BY o.format) FILTER (WHERE o.format <> 'unknown'), '{}'),
                   to_char(min(coalesce(m.acquired_at, o.acquired_at)) AT TIME ZONE 'UTC', 'YYYY-MM-DD'),
                   to_char(max(coalesce(m.acquired_at, o.acquired_at)) AT TIME ZONE 'UTC', 'YYYY-MM-DD'),
                   coalesce(array_agg(DISTINCT m.microscope ORDER BY m.microscope) FILTER (WHERE m.microscope IS NOT NULL), '{}')
            FROM objects o JOIN assays a ON a.id = o.assay_id LEFT JOIN image_metadata m ON m.object_id = o.id
            WHERE a.study_id = \(studyID) AND o.state <> 'expired'
            """, logger: logger).decode((Int, Int64, [String], String?, String?, [String]).self) {
            (files, bytes, formats, first, last, instruments) = row
        }
        var method: String?
        for try await value in try await client.query("""
            SELECT value FROM annotations WHERE study_id = \(studyID) AND key IN ('imaging_method', 'imaging method') ORDER BY id LIMIT 1
            """, logger: logger).decode(String.self) { method = value }
        let names = ["ome-tiff": "OME-TIFF", "tiff": "TIFF", "bigtiff": "BigTIFF", "imagej-tiff": "ImageJ TIFF"]
        let now = Date()
        let year = Calendar(identifier: .gregorian).dateComponents(in: TimeZone(identifier: "UTC")!, from: now).year ?? 1970
        let day = ISO8601DateFormatter()
        day.formatOptions = [.withFullDate]
        return CatalogFacts(publisher: settings.publisherName, publisherROR: settings.publisherROR, publicationYear: year,
                            resourceTypeGeneral: files == 1 ? "Image" : "Dataset",
                            formats: Array(Set(formats.map { names[$0] ?? $0 })).sorted(), fileCount: files, totalBytes: bytes,
                            collected: first.flatMap { first in last.map { (first, $0) } }, issued: day.string(from: now),
                            instruments: instruments, imagingMethod: method)
    }
}
