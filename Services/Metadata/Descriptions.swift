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
    /// Files read at once, on threads of their own: a large OME-XML is parsed in memory.
    let slots = BlockingSlots(limit: 2 * ProcessInfo.processInfo.activeProcessorCount)
    let logger: Logger

    func prepare(_ envelope: Envelope<ObjectConverted>) async throws -> DescriptionOutcome {
        let message = envelope.payload
        var image: ImageOfRecord?
        for try await json in try await client.execute(ImageOfRecord.Load(id: message.objectID), logger: logger) {
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
        let schema = schema, name = image.sourceFileName
        let result: Result<ImageMetadata, TIFFError> = await slots.run { () -> Result<ImageMetadata, TIFFError> in
            Result { () throws(TIFFError) in try MetadataExtractor.extract(path: path, fileName: name, schema: schema) }
        }
        switch result {
        case .success(var metadata):
            metadata.naming = FileNaming(fileName: image.sourceFileName, pattern: pattern)
            return .described(image, metadata)
        case .failure(let error):
            return .failed(image, error.description)
        }
    }

    /// Records a batch of outcomes in the inbox transaction of their messages.
    func record(_ batch: [(Envelope<ObjectConverted>, DescriptionOutcome)], _ transaction: CatalogTransaction) async throws {
        var latest: [UUID: (envelope: Envelope<ObjectConverted>, image: ImageOfRecord, outcome: DescriptionOutcome)] = [:]
        for (envelope, outcome) in batch {
            switch outcome {
            case .skipped(let why):
                logger.debug("nothing to describe", metadata: ["object": "\(envelope.payload.objectID)", "why": "\(why)"])
            case .failed(let image, _), .described(let image, _): latest[image.id] = (envelope, image, outcome)
            }
        }
        guard !latest.isEmpty else { return }
        // Locked in id order (no deadlock between replicas); a newer conversion or version since
        // the file was read makes its result stale.
        var current = Set<UUID>()
        let ids = latest.keys.sorted { $0.uuidString < $1.uuidString }
        for try await (id, version, state) in try await transaction.query("""
            SELECT id, version, state FROM objects WHERE id = ANY(\(ids)::uuid[]) ORDER BY id FOR UPDATE
            """).decode((UUID, Int, String).self) where state == "converted" && latest[id]?.image.version == version {
            current.insert(id)
        }
        var described: [(metadata: ImageMetadata, image: ImageOfRecord)] = [], envelopes: [Envelope<ObjectConverted>] = []
        var failed: [(image: ImageOfRecord, reason: String)] = []
        for id in ids {
            guard let entry = latest[id] else { continue }
            guard current.contains(id) else {
                logger.info("description not recorded: the object moved on", metadata: ["object": "\(id)"])
                continue
            }
            switch entry.outcome {
            case .described(_, let metadata):
                described.append((metadata, entry.image))
                envelopes.append(entry.envelope)
            case .failed(_, let reason):
                failed.append((entry.image, reason))
                logger.warning("metadata not extracted", metadata: ["object": "\(id)", "reason": "\(reason)"])
            case .skipped:
                break
            }
        }
        try await MetadataRecord.failures(failed, in: transaction)
        let missing = try await MetadataRecord.store(described, in: transaction)
        for ((_, image), (envelope, fields)) in zip(described, zip(envelopes, missing)) {
            transaction.emit(Envelope(following: envelope, payload: MetadataExtracted(
                objectID: image.id, complete: fields.isEmpty, missingFields: fields
            )))
        }
    }
}
