/// The six services of the pipeline. Each owns one queue and consumes a fixed set of routing keys.
public enum ServiceName: String, Sendable, CaseIterable, Codable {
    case ingest, converter, metadata, qc, retention, doi

    /// Executable name, also the RabbitMQ user and (with `_`) the PostgreSQL role.
    public var executable: String { "fairway-\(rawValue)" }

    /// Routing keys bound to the service's queue, as drawn in ARCHITECTURE.md.
    public var consumedKeys: [RoutingKey] {
        switch self {
        case .ingest: [.acquisitionCompleted]
        case .converter: [.objectRegistered]
        // Only the image of record is described, and the converter names it for every input: a
        // derived OME-TIFF, or (`inPlace`) a source that already was one. Describing OME-TIFF from
        // `object.registered` would race the converter's pyramid policy and describe twice.
        case .metadata: [.objectConverted]
        case .qc: [.metadataExtracted]
        // New objects wake the policies (replication at once); a DOI puts its study on legal hold.
        case .retention: [.objectRegistered, .doiRegistered]
        case .doi: [.datasetPublishRequested]
        }
    }

    /// Routing keys the service publishes (from its outbox). Its broker user may publish no other
    /// (topic permissions, `deploy/rabbitmq/topic-permissions`).
    public var publishedKeys: [RoutingKey] {
        switch self {
        case .ingest: [.objectRegistered]
        case .converter: [.objectConverted]
        case .metadata: [.metadataExtracted]
        case .qc: [.qcScored]
        case .retention: [.retentionNotice, .retentionApplied, .replicaDamaged]
        // Publication requests are written by the API and the CLI as the DOI service's messages.
        case .doi: [.datasetPublishRequested, .doiRegistered]
        }
    }

    /// Keys an earlier release bound to the service's queue and this one does not consume.
    public var retiredKeys: [RoutingKey] {
        switch self {
        case .metadata: [.objectRegistered]
        case .retention: [.qcScored]
        default: []
        }
    }

    /// Default port of the service's HTTP endpoint (API for ingest; health and metrics for all).
    public var defaultHTTPPort: Int {
        switch self {
        case .ingest: 8080
        case .converter: 8081
        case .metadata: 8082
        case .qc: 8083
        case .retention: 8084
        case .doi: 8085
        }
    }
}

extension RoutingKey {
    /// Whether a Fairway service consumes it. Such a message that no queue takes means a missing
    /// binding, so it is published `mandatory` and kept in the outbox until routable; the others
    /// (retention.applied, retention.notice, replica.damaged…) are announcements for whoever
    /// subscribes, and dropped by the broker when nobody does.
    public var hasFairwayConsumer: Bool { ServiceName.allCases.contains { $0.consumedKeys.contains(self) } }
}
