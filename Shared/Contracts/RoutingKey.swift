/// The facts Fairway services tell each other. Each is a routing key on the `fairway` topic exchange
/// and the AMQP `type` property of the message that carries it.
public enum RoutingKey: String, Sendable, CaseIterable, Codable {
    case acquisitionCompleted = "acquisition.completed"
    case objectRegistered = "object.registered"
    case objectConverted = "object.converted"
    case metadataExtracted = "metadata.extracted"
    case qcScored = "qc.scored"
    case datasetPublishRequested = "dataset.publish.requested"
    case doiRegistered = "doi.registered"
    case retentionNotice = "retention.notice"
    case retentionApplied = "retention.applied"
    case replicaDamaged = "replica.damaged"
}
