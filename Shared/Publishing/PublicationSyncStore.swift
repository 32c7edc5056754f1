import FairwayCatalog
import FairwayContracts
import FairwayDataCite
import FairwayPublication
import Foundation
import Logging
import PostgresNIO

/// A publication the DOI service owns for one round with DataCite (its lease), as it was when
/// claimed: `revision` is what the round brings DataCite up to.
struct ClaimedPublication: Sendable {
    let id: UUID
    let doi: DOIName
    let record: String
    let target: String
    let revision: Int
    let inFlight: Bool
    let landingPage: String
    let investigation: String
    let study: String
    let lease: UUID
    /// Calls made for the publication since it last synced.
    let attempts: Int

    /// The DataCite state that target means: findable, or registered for a hidden (withdrawn) DOI.
    var expectedState: String { target == "hidden" ? "registered" : "findable" }
    var expectedURL: String { target == "hidden" ? PublishingSettings.tombstone(of: landingPage) : landingPage }
}

/// The DOI service's reads and writes of `publications`; every write after the claim holds the
/// claim's lease, so a worker that lost its lease (it stalled past it) changes nothing.
struct PublicationSyncStore: Sendable {
    let catalog: Catalog
    var client: PostgresClient { catalog.client }
    var logger: Logger { catalog.logger }

    private static let claimedColumns = """
        p.id, p.doi, p.record::text, p.target, p.revision, p.in_flight, p.landing_url, i.name, s.name, p.lease_token, p.attempts
        """

    /// Publications with something to send (a revision DataCite does not have yet, or a call whose
    /// answer was never recorded) whose back-off is over and which no live worker owns.
    func claimDue(limit: Int, lease: Duration) async throws -> [ClaimedPublication] {
        try await claim(condition: "(synced_revision < revision OR in_flight) AND next_attempt_at <= now()", order: "next_attempt_at",
                        limit: limit, lease: lease)
    }

    /// Synced publications whose last comparison with DataCite is older than `interval`.
    func claimForCheck(olderThan interval: Duration, limit: Int, lease: Duration) async throws -> [ClaimedPublication] {
        let seconds = Double(interval.components.seconds) + Double(interval.components.attoseconds) / 1e18
        return try await claim(condition: """
            synced_revision = revision AND NOT in_flight AND state IN ('findable', 'hidden')
            AND coalesce(remote_checked_at, '-infinity') < now() - make_interval(secs => \(seconds))
            """, order: "remote_checked_at NULLS FIRST", limit: limit, lease: lease)
    }

    private func claim(condition: String, order: String, limit: Int, lease: Duration) async throws -> [ClaimedPublication] {
        let token = UUID()
        let seconds = Double(lease.components.seconds) + Double(lease.components.attoseconds) / 1e18
        var claimed: [ClaimedPublication] = []
        var query = PostgresQuery(unsafeSQL: """
            WITH due AS (
                SELECT id FROM publications
                WHERE \(condition) AND record IS NOT NULL AND (lease_until IS NULL OR lease_until < now())
                ORDER BY \(order) LIMIT $1 FOR UPDATE SKIP LOCKED
            )
            UPDATE publications p SET lease_token = $2, lease_until = now() + make_interval(secs => $3)
            FROM due, studies s, investigations i
            WHERE p.id = due.id AND s.id = p.study_id AND i.id = s.investigation_id
            RETURNING \(Self.claimedColumns)
            """)
        query.binds.append(limit)
        query.binds.append(token)
        query.binds.append(seconds)
        for try await row in try await client.query(query, logger: logger)
            .decode((UUID, String, String, String, Int, Bool, String, String, String, UUID, Int).self) {
            guard let doi = DOIName(row.1) else { continue }
            claimed.append(ClaimedPublication(id: row.0, doi: doi, record: row.2, target: row.3, revision: row.4, inFlight: row.5,
                                              landingPage: row.6, investigation: row.7, study: row.8, lease: row.9, attempts: row.10))
        }
        return claimed
    }

    /// When the next publication falls due (its back-off or a dead worker's lease ends).
    func nextDue() async throws -> Date? {
        var next: Date?
        for try await value in try await client.query("""
            SELECT min(greatest(next_attempt_at, coalesce(lease_until, next_attempt_at))) FROM publications
            WHERE (synced_revision < revision OR in_flight) AND record IS NOT NULL
            """, logger: logger).decode(Date?.self) { next = value }
        return next
    }

    /// Records, before the call, that a call is being made: if its answer is never recorded, the
    /// next round asks DataCite first. False when the lease was lost.
    func markCalling(_ publication: ClaimedPublication) async throws -> Bool {
        var owned = false
        for try await _ in try await client.query("""
            UPDATE publications
            SET in_flight = true, state = CASE WHEN state = 'reserved' THEN 'registering' ELSE state END,
                status_detail = 'sending to DataCite', updated_at = now()
            WHERE id = \(publication.id) AND lease_token = \(publication.lease)
            RETURNING id
            """, logger: logger) { owned = true }
        return owned
    }

    /// DataCite holds the claimed revision (its answer, or a GET after an answer was lost, said so).
    /// Announces `doi.registered` when a revision of a findable DOI reaches DataCite.
    func recordSynced(_ publication: ClaimedPublication, remote: RemoteDOI, detail: String) async throws {
        try await catalog.transaction { transaction in
            var previous: (Int, Date?)?
            for try await row in try await transaction.query("""
                SELECT synced_revision, registered_at FROM publications WHERE id = \(publication.id) AND lease_token = \(publication.lease) FOR UPDATE
                """).decode((Int, Date?).self) { previous = row }
            guard let (syncedBefore, _) = previous else { return }
            let state = publication.target == "hidden" ? "hidden" : "findable"
            try await transaction.query("""
                UPDATE publications
                SET state = \(state), remote_state = \(remote.state), remote_url = \(remote.url), synced_revision = \(publication.revision),
                    in_flight = false, attempts = 0, lease_token = NULL, lease_until = NULL, synced_at = now(), remote_checked_at = now(),
                    field_errors = '[]', status_detail = \(detail), updated_at = now(),
                    registered_at = coalesce(registered_at, CASE WHEN \(state) = 'findable' THEN now() END)
                WHERE id = \(publication.id)
                """)
            if state == "findable" && publication.revision > syncedBefore {
                transaction.emit(Envelope(payload: DOIRegistered(publicationID: publication.id, doi: publication.doi.description,
                                                                 investigation: publication.investigation, study: publication.study,
                                                                 landingPage: publication.landingPage)))
            }
        }
    }

    /// Withdrawn with nothing left at DataCite: it never got there, or its draft was deleted.
    func recordWithdrawnLocally(_ publication: ClaimedPublication, detail: String) async throws {
        try await client.query("""
            UPDATE publications
            SET state = 'withdrawn', remote_state = NULL, remote_url = NULL, synced_revision = \(publication.revision), in_flight = false,
                attempts = 0, lease_token = NULL, lease_until = NULL, synced_at = now(), remote_checked_at = now(),
                status_detail = \(detail), updated_at = now()
            WHERE id = \(publication.id) AND lease_token = \(publication.lease)
            """, logger: logger)
    }

    /// DataCite refused the metadata: the problems are the user's to fix (publish again). A DOI
    /// already registered keeps its state; one never registered is `failed`.
    func recordRefused(_ publication: ClaimedPublication, problems: [FieldProblem]) async throws {
        let json = String(decoding: try JSONEncoder().encode(problems), as: UTF8.self)
        let detail = "DataCite refused the metadata (\(problems.count) problem\(problems.count == 1 ? "" : "s")): fix them and publish again"
        try await client.query("""
            UPDATE publications
            SET field_errors = \(json)::jsonb, synced_revision = \(publication.revision), in_flight = false, attempts = 0,
                lease_token = NULL, lease_until = NULL, status_detail = \(detail), updated_at = now(),
                state = CASE WHEN registered_at IS NULL AND target = 'findable' THEN 'failed' ELSE state END
            WHERE id = \(publication.id) AND lease_token = \(publication.lease)
            """, logger: logger)
    }

    /// A round that did not bring DataCite up to date. `uncertain`: the call may have taken effect
    /// (no answer, or a 5xx), so the next round asks DataCite before sending again.
    func recordRetry(_ publication: ClaimedPublication, after delay: Duration, uncertain: Bool, detail: String) async throws {
        let seconds = Double(delay.components.seconds) + Double(delay.components.attoseconds) / 1e18
        try await client.query("""
            UPDATE publications
            SET in_flight = \(uncertain), attempts = attempts + 1, next_attempt_at = now() + make_interval(secs => \(seconds)),
                lease_token = NULL, lease_until = NULL, status_detail = \(detail), updated_at = now(),
                state = CASE WHEN state = 'registering' AND NOT \(uncertain) AND registered_at IS NULL THEN 'reserved' ELSE state END
            WHERE id = \(publication.id) AND lease_token = \(publication.lease)
            """, logger: logger)
    }

    /// The reconciler found DataCite holding what the catalog says.
    func recordChecked(_ publication: ClaimedPublication, remote: RemoteDOI) async throws {
        try await client.query("""
            UPDATE publications SET remote_state = \(remote.state), remote_url = \(remote.url), remote_checked_at = now(),
                lease_token = NULL, lease_until = NULL
            WHERE id = \(publication.id) AND lease_token = \(publication.lease)
            """, logger: logger)
    }

    /// The reconciler found DataCite differing: a new revision makes the next round send ours again.
    func recordDrift(_ publication: ClaimedPublication, remote: RemoteDOI?, detail: String) async throws {
        try await client.query("""
            UPDATE publications
            SET revision = revision + 1, remote_state = \(remote?.state), remote_url = \(remote?.url), remote_checked_at = now(),
                next_attempt_at = now(), attempts = 0, lease_token = NULL, lease_until = NULL, status_detail = \(detail), updated_at = now()
            WHERE id = \(publication.id) AND lease_token = \(publication.lease)
            """, logger: logger)
    }

    /// Gives a claim back untouched (e.g. the service stops calling DataCite).
    /// Extends the leases taken under `tokens` (this worker's claims), while it works on them.
    func renew(_ tokens: [UUID], lease: Duration) async throws {
        let seconds = Double(lease.components.seconds) + Double(lease.components.attoseconds) / 1e18
        try await client.query("""
            UPDATE publications SET lease_until = now() + make_interval(secs => \(seconds)) WHERE lease_token = ANY(\(tokens))
            """, logger: logger)
    }

    func release(_ publication: ClaimedPublication, detail: String) async throws {
        try await client.query("""
            UPDATE publications SET lease_token = NULL, lease_until = NULL, status_detail = \(detail),
                state = CASE WHEN state = 'registering' AND NOT in_flight AND registered_at IS NULL THEN 'reserved' ELSE state END
            WHERE id = \(publication.id) AND lease_token = \(publication.lease)
            """, logger: logger)
    }

    /// Says on every publication still waiting why it waits (DataCite not configured, credentials refused).
    func explainWaiting(_ detail: String) async throws {
        try await client.query("""
            UPDATE publications SET status_detail = \(detail)
            WHERE (synced_revision < revision OR in_flight) AND status_detail IS DISTINCT FROM \(detail)
              AND (lease_until IS NULL OR lease_until < now())
            """, logger: logger)
    }

    func raiseAlert(kind: String, message: String) async throws {
        try await client.query("""
            INSERT INTO service_alerts (service, kind, message) VALUES ('doi', \(kind), \(message))
            ON CONFLICT (service, kind) DO UPDATE SET message = EXCLUDED.message, raised_at = now(), cleared_at = NULL
            """, logger: logger)
    }

    func clearAlert(kind: String) async throws {
        try await client.query("""
            UPDATE service_alerts SET cleared_at = now() WHERE service = 'doi' AND kind = \(kind) AND cleared_at IS NULL
            """, logger: logger)
    }
}
