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
        // OME-TIFF input is described straight from `object.registered`; everything else after conversion.
        case .metadata: [.objectConverted, .objectRegistered]
        case .qc: [.metadataExtracted]
        case .retention: [.objectRegistered, .qcScored, .doiRegistered]
        case .doi: [.datasetPublishRequested]
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
