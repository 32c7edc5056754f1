public import FairwayAMQP
public import Foundation
import Logging

/// Broker objects of one test: its own exchange and queue names (a random namespace), on the shared
/// vhost, deleted at the end.
public struct TestBroker: Sendable {
    public let names: FairwayBrokerNames
    public let endpoint: AMQPEndpoint

    public init() throws {
        names = FairwayBrokerNames(namespace: "test-\(UUID().uuidString.prefix(8).lowercased())")
        endpoint = try AMQPEndpoint(url: try TestEnvironment.amqpURL)
    }

    public func configuration(_ name: String, prefetch: UInt16 = 64) -> AMQPConfiguration {
        var configuration = AMQPConfiguration(endpoint: endpoint, connectionName: "test \(names.namespace) \(name)")
        configuration.prefetch = prefetch
        configuration.reconnect.initial = .milliseconds(50)
        configuration.reconnect.maximum = .seconds(1)
        configuration.drainTimeout = .seconds(5)
        return configuration
    }

    public var admin: AMQPAdmin { AMQPAdmin(configuration: configuration("admin")) }

    public func topology(service: String, keys: [String], deliveryLimit: Int = 5) -> AMQPTopology {
        names.serviceTopology(service: service, routingKeys: keys, deliveryLimit: deliveryLimit)
    }

    public func publisher(service: String = "test", keys: [String] = ["test.key"]) -> AMQPPublisher {
        AMQPPublisher(configuration: configuration("publisher"), topology: topology(service: service, keys: keys), logger: TestEnvironment.logger)
    }

    public func consumer(service: String = "test", keys: [String] = ["test.key"], prefetch: UInt16 = 64, queue: String? = nil) -> AMQPConsumer {
        AMQPConsumer(configuration: configuration("consumer", prefetch: prefetch), topology: topology(service: service, keys: keys),
                     queue: queue ?? names.queue(service), logger: TestEnvironment.logger)
    }

    public func message(_ body: [UInt8], key: String = "test.key", id: String = UUID().uuidString.lowercased()) -> AMQPOutgoingMessage {
        AMQPOutgoingMessage(exchange: names.exchange, routingKey: key, body: body,
                            properties: AMQPProperties(messageID: id, type: key, contentType: "application/json"))
    }

    /// Removes what the test declared (services named in `services`).
    public func cleanUp(services: [String] = ["test"]) async {
        let queues = services.flatMap { [names.queue($0), names.deadLetterQueue($0)] }
        try? await admin.delete(queues: queues, exchanges: [names.exchange, names.deadLetterExchange])
    }
}
