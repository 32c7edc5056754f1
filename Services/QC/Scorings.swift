import FairwayCatalog
import FairwayContracts
import FairwayQuality
import FairwayServiceKit
import Foundation
import Logging
import Metrics
import PostgresNIO

/// The result of scoring an image, recorded by `Scorings.record`.
enum ScoringOutcome: Sendable {
    case scored(ImageToScore, QualityReport)
    /// The pixels cannot be read (corrupt, truncated, unsupported): the object keeps the reason.
    case failed(ImageToScore, String)
    case skipped(String)
}

/// metadata.extracted → per-channel metrics, verdict and tags on the image of record, in the
/// inbox transaction → qc.scored. Reading the pixels happens before the transaction, on threads
/// of its own, and is repeatable.
struct Scorings: Sendable {
    let client: PostgresClient
    /// Images scored at once: each reads its own file, band by band.
    let slots = BlockingSlots(limit: ProcessInfo.processInfo.activeProcessorCount)
    let logger: Logger

    func prepare(_ envelope: Envelope<MetadataExtracted>) async throws -> ScoringOutcome {
        let id = envelope.payload.objectID
        var image: ImageToScore?
        for try await json in try await client.execute(ImageToScore.Load(id: id), logger: logger) {
            image = try JSONDecoder().decode(ImageToScore.self, from: Data(json.utf8))
        }
        guard let image else { throw PermanentFailure("object \(id) is not in the catalog") }
        // A scored object is scored again when asked (a new method version keeps the old scores).
        guard image.state == "described" || image.state == "scored" else { return .skipped("object is \(image.state)") }
        guard let path = image.physicalPath else { return .failed(image, "no good replica of \(image.logicalPath) to read") }
        let options: QualityOptions
        do {
            options = try image.options()
        } catch {
            return .failed(image, "QC settings of \(image.microscope.map { "instrument \($0) or " } ?? "")investigation \(image.investigation) are not usable: \(error)")
        }
        let name = image.fileName
        let result: Result<QualityReport, QualityError> = await slots.run { () -> Result<QualityReport, QualityError> in
            Result { () throws(QualityError) in try ImageQuality.score(path: path, fileName: name, options: options) }
        }
        switch result {
        case .success(let report):
            Counter(label: "fairway_qc_images_total", dimensions: [("verdict", report.verdict.rawValue)]).increment()
            let size = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? 0
            Counter(label: "fairway_qc_bytes_scored_total").increment(by: size)
            return .scored(image, report)
        case .failure(let error):
            Counter(label: "fairway_qc_images_total", dimensions: [("verdict", "not-scored")]).increment()
            return .failed(image, error.description)
        }
    }

    func record(_ envelope: Envelope<MetadataExtracted>, _ outcome: ScoringOutcome, _ transaction: CatalogTransaction) async throws {
        let image: ImageToScore
        switch outcome {
        case .skipped(let why):
            logger.debug("nothing to score", metadata: ["object": "\(envelope.payload.objectID)", "why": "\(why)"])
            return
        case .scored(let scored, _), .failed(let scored, _): image = scored
        }
        // A new version or a re-description since the pixels were read makes the result stale.
        var current = false
        for try await (version, state) in try await transaction.query(
            "SELECT version, state FROM objects WHERE id = \(image.id) FOR UPDATE").decode((Int, String).self) {
            current = version == image.version && (state == "described" || state == "scored")
        }
        guard current else {
            logger.info("score not recorded: the object moved on", metadata: ["object": "\(image.id)"])
            return
        }
        switch outcome {
        case .scored(_, let report):
            try await QCRecord.store(report, object: image.id, in: transaction)
            transaction.emit(Envelope(following: envelope, payload: QCScored(
                objectID: image.id, verdict: QCScored.Verdict(rawValue: report.verdict.rawValue) ?? .fail, reasons: report.reasons
            )))
            logger.info("scored", metadata: ["object": "\(image.id)", "verdict": "\(report.verdict.rawValue)"])
        case .failed(_, let reason):
            try await QCRecord.failure(reason, object: image.id, in: transaction)
            logger.warning("not scored", metadata: ["object": "\(image.id)", "reason": "\(reason)"])
        case .skipped:
            break
        }
    }
}
