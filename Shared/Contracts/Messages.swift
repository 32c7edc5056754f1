public import Foundation

/// A payload that travels on the bus. Its routing key is fixed by its type; its fields are the body.
public protocol FairwayMessage: Codable, Sendable, Equatable {
    static var routingKey: RoutingKey { get }
    /// Messages that any AMQP client may publish (a watcher, a script with pika): the `schema` field
    /// and the `message_id` property may be left out. Internal messages require both.
    static var acceptsExternalProducers: Bool { get }
}

extension FairwayMessage {
    public static var acceptsExternalProducers: Bool { false }
}

// Schema 1 of every message of the pipeline. Adding an optional field keeps schema 1; renaming or
// removing one, or changing a meaning, needs schema 2 and a release that reads both.

/// A watcher (or any AMQP client) says an acquisition is complete. Same fields as `POST /v1/acquisitions`.
/// `path` is relative to the zone root and names a file or a folder.
public struct AcquisitionCompleted: FairwayMessage {
    public static let routingKey = RoutingKey.acquisitionCompleted
    public static let acceptsExternalProducers = true
    public var zone: String
    public var path: String
    public var owner: String?
    public var investigation: String?
    public var study: String?
    public var assay: String?
    public var instrument: String?
    public var acquiredAt: Date?
    public var metadata: [String: String]?

    public init(zone: String, path: String, owner: String? = nil, investigation: String? = nil, study: String? = nil,
                assay: String? = nil, instrument: String? = nil, acquiredAt: Date? = nil, metadata: [String: String]? = nil) {
        self.zone = zone; self.path = path; self.owner = owner; self.investigation = investigation
        self.study = study; self.assay = assay; self.instrument = instrument; self.acquiredAt = acquiredAt
        self.metadata = metadata
    }
}

/// A file was checksummed and registered in place.
public struct ObjectRegistered: FairwayMessage {
    public static let routingKey = RoutingKey.objectRegistered
    public var objectID: UUID
    public var acquisitionID: UUID
    public var assayID: UUID
    public var logicalPath: String
    public var resource: String
    public var physicalPath: String
    public var size: Int64
    /// `sha2:<base64 SHA-256>`, the iRODS form.
    public var checksum: String
    public var format: String
    /// 1 for a new object; higher when the file's content changed after it was registered.
    public var version: Int?
    /// The physical path's bytes, base64, when they are not UTF-8 (`physicalPath` then shows them escaped).
    public var physicalPathBytes: String?

    public init(objectID: UUID, acquisitionID: UUID, assayID: UUID, logicalPath: String, resource: String,
                physicalPath: String, size: Int64, checksum: String, format: String, version: Int? = nil,
                physicalPathBytes: String? = nil) {
        self.objectID = objectID; self.acquisitionID = acquisitionID; self.assayID = assayID
        self.logicalPath = logicalPath; self.resource = resource; self.physicalPath = physicalPath
        self.size = size; self.checksum = checksum; self.format = format; self.version = version
        self.physicalPathBytes = physicalPathBytes
    }
}

/// The image of record of an object is an OME-TIFF: a derived one was written and registered with
/// provenance to its source, or (`inPlace`) the source already was one and `objectID` is the source.
public struct ObjectConverted: FairwayMessage {
    public static let routingKey = RoutingKey.objectConverted
    public var sourceObjectID: UUID
    public var objectID: UUID
    public var resource: String
    public var physicalPath: String
    public var size: Int64
    public var checksum: String
    public var format: String
    /// True when no file was written because the source is already OME-TIFF.
    public var inPlace: Bool?
    /// Resolution levels of the derived image, full resolution included.
    public var levels: Int?

    public init(sourceObjectID: UUID, objectID: UUID, resource: String, physicalPath: String, size: Int64,
                checksum: String, format: String, inPlace: Bool? = nil, levels: Int? = nil) {
        self.sourceObjectID = sourceObjectID; self.objectID = objectID; self.resource = resource
        self.physicalPath = physicalPath; self.size = size; self.checksum = checksum; self.format = format
        self.inPlace = inPlace; self.levels = levels
    }
}

/// Image metadata was recorded for an object; `missingFields` lists mandatory fields not found.
public struct MetadataExtracted: FairwayMessage {
    public static let routingKey = RoutingKey.metadataExtracted
    public var objectID: UUID
    public var complete: Bool
    public var missingFields: [String]

    public init(objectID: UUID, complete: Bool, missingFields: [String]) {
        self.objectID = objectID; self.complete = complete; self.missingFields = missingFields
    }
}

/// Quality metrics were computed for an object.
public struct QCScored: FairwayMessage {
    public enum Verdict: String, Codable, Sendable { case pass, warn, fail }
    public static let routingKey = RoutingKey.qcScored
    public var objectID: UUID
    public var verdict: Verdict
    public var reasons: [String]

    public init(objectID: UUID, verdict: Verdict, reasons: [String]) {
        self.objectID = objectID; self.verdict = verdict; self.reasons = reasons
    }
}

/// An operator asked for a study to be published.
public struct DatasetPublishRequested: FairwayMessage {
    public static let routingKey = RoutingKey.datasetPublishRequested
    public var publicationID: UUID
    public var investigation: String
    public var study: String
    public var requestedBy: String

    public init(publicationID: UUID, investigation: String, study: String, requestedBy: String) {
        self.publicationID = publicationID; self.investigation = investigation; self.study = study
        self.requestedBy = requestedBy
    }
}

/// A DOI was registered (or updated) at DataCite for a publication.
public struct DOIRegistered: FairwayMessage {
    public static let routingKey = RoutingKey.doiRegistered
    public var publicationID: UUID
    public var doi: String
    public var investigation: String
    public var study: String
    public var landingPage: String

    public init(publicationID: UUID, doi: String, investigation: String, study: String, landingPage: String) {
        self.publicationID = publicationID; self.doi = doi; self.investigation = investigation
        self.study = study; self.landingPage = landingPage
    }
}

/// Retention will act on data at `dueAt` unless someone intervenes (extension, hold).
public struct RetentionNotice: FairwayMessage {
    public static let routingKey = RoutingKey.retentionNotice
    public var investigation: String
    public var action: String
    public var objectIDs: [UUID]
    public var dueAt: Date
    public var recipient: String?

    public init(investigation: String, action: String, objectIDs: [UUID], dueAt: Date, recipient: String? = nil) {
        self.investigation = investigation; self.action = action; self.objectIDs = objectIDs
        self.dueAt = dueAt; self.recipient = recipient
    }
}

/// Retention carried out an action (replicate, clean, tier, expire, restage, transfer) on an object.
public struct RetentionApplied: FairwayMessage {
    public static let routingKey = RoutingKey.retentionApplied
    public var objectID: UUID
    public var action: String
    public var resource: String?
    public var outcome: String

    public init(objectID: UUID, action: String, resource: String? = nil, outcome: String) {
        self.objectID = objectID; self.action = action; self.resource = resource; self.outcome = outcome
    }
}

/// A fixity check found a replica that no longer holds the catalog's bytes (or no file at all).
/// An alert: operators watch for it; retention repairs the replica from a good one when it can.
public struct ReplicaDamaged: FairwayMessage {
    public static let routingKey = RoutingKey.replicaDamaged
    public var objectID: UUID
    public var resource: String
    public var physicalPath: String
    /// `mismatch`, `missing` or `unreadable`.
    public var problem: String
    public var detail: String
    public var expectedChecksum: String?
    public var actualChecksum: String?
    /// Whether a good replica exists to repair from (the repair is scheduled at once).
    public var repairable: Bool

    public init(objectID: UUID, resource: String, physicalPath: String, problem: String, detail: String,
                expectedChecksum: String?, actualChecksum: String?, repairable: Bool) {
        self.objectID = objectID; self.resource = resource; self.physicalPath = physicalPath; self.problem = problem
        self.detail = detail; self.expectedChecksum = expectedChecksum; self.actualChecksum = actualChecksum
        self.repairable = repairable
    }
}
