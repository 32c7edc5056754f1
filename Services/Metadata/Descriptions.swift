import FairwayCatalog
import FairwayContracts
import FairwayImaging
import FairwayMetadata
import FairwayServiceKit
import FairwayXML
import Foundation
import Logging
import PostgresNIO

/// The result of reading an image, recorded by `Descriptions.record`.
enum DescriptionOutcome: Sendable {
    case described(ImageOfRecord, ImageMetadata)
    /// The file could not be read or its metadata is hostile or broken: the object keeps the reason.
    case failed(ImageOfRecord, String)
    case skipped(String)
}

/// object.converted → image metadata, annotations and machine tags on the image of record, in the
/// inbox transaction → metadata.extracted. Reading the file happens before the transaction and is
/// repeatable.
struct Descriptions: Sendable {
    let client: PostgresClient
    let schema: XMLSchema?
    let logger: Logger

    func prepare(_ envelope: Envelope<ObjectConverted>) async throws -> DescriptionOutcome {
        let message = envelope.payload
        var binds = PostgresBindings()
        binds.append(message.objectID)
        var image: ImageOfRecord?
        for try await json in try await client.query(PostgresQuery(unsafeSQL: ImageOfRecord.query, binds: binds), logger: logger).decode(String.self) {
            image = try JSONDecoder().decode(ImageOfRecord.self, from: Data(json.utf8))
        }
        guard let image else { throw PermanentFailure("object \(message.objectID) is not in the catalog") }
        guard image.state == "converted" else { return .skipped("object is \(image.state)") }
        guard let path = image.physicalPath else { return .failed(image, "no good replica of \(image.logicalPath) to read") }
        let pattern: NamingPattern?
        do {
            pattern = try image.namingPattern.map { try NamingPattern($0) }
        } catch {
            // A pattern the catalog accepted but this release refuses: name checks still run.
            logger.warning("naming pattern not usable", metadata: ["investigation": "\(image.investigation)", "error": "\(error)"])
            pattern = nil
        }
        let schema = schema
        let result: Result<ImageMetadata, TIFFError> = await Task.detached {
            Result { () throws(TIFFError) in try MetadataExtractor.extract(path: path, fileName: image.sourceFileName, schema: schema) }
        }.value
        switch result {
        case .success(var metadata):
            metadata.naming = FileNaming(fileName: image.sourceFileName, pattern: pattern)
            return .described(image, metadata)
        case .failure(let error):
            return .failed(image, error.description)
        }
    }

    func record(_ envelope: Envelope<ObjectConverted>, _ outcome: DescriptionOutcome, _ transaction: CatalogTransaction) async throws {
        switch outcome {
        case .skipped(let why):
            logger.debug("nothing to describe", metadata: ["object": "\(envelope.payload.objectID)", "why": "\(why)"])
        case .failed(let image, let reason):
            guard try await stillConverted(image, transaction) else { return }
            try await MetadataRecord.failure(object: image.id, fileName: image.sourceFileName, reason: reason, in: transaction)
            logger.warning("metadata not extracted", metadata: ["object": "\(image.id)", "reason": "\(reason)"])
        case .described(let image, let metadata):
            guard try await stillConverted(image, transaction) else { return }
            let missing = try await MetadataRecord.store(metadata, image: image, in: transaction)
            transaction.emit(Envelope(correlationID: envelope.correlationID, payload: MetadataExtracted(
                objectID: image.id, complete: missing.isEmpty, missingFields: missing
            )))
        }
    }

    /// Locks the object; a newer conversion or a concurrent description makes this result stale.
    private func stillConverted(_ image: ImageOfRecord, _ transaction: CatalogTransaction) async throws -> Bool {
        let rows = try await transaction.query("SELECT version, state FROM objects WHERE id = \(image.id) FOR UPDATE").decode((Int, String).self)
        for try await (version, state) in rows where version == image.version && state == "converted" { return true }
        logger.info("description not recorded: the object moved on", metadata: ["object": "\(image.id)"])
        return false
    }
}
