import FairwayCatalog
import FairwayContracts

/// doi.registered → a hold on the published study: its objects are never tiered away or deleted.
enum LegalHold {
    @Sendable static func record(_ envelope: Envelope<DOIRegistered>, _ transaction: CatalogTransaction) async throws {
        let published = envelope.payload
        try await transaction.query("""
            INSERT INTO retention_holds (study_id, source, reason, created_by)
            SELECT s.id, 'publication', 'published as doi:' || \(published.doi), 'fairway-retention'
            FROM studies s JOIN investigations i ON i.id = s.investigation_id
            WHERE i.name = \(published.investigation) AND s.name = \(published.study)
            ON CONFLICT DO NOTHING
            """)
    }
}
