public import ArgumentParser
public import FairwayAMQP
public import FairwayCatalog
public import FairwayContracts
import Foundation
public import Hummingbird
public import Logging
import Metrics
public import PostgresNIO
import Prometheus
public import ServiceLifecycle

/// What a service's own code gets to build its parts from.
public struct ServiceContext: Sendable {
    public let configuration: FairwayConfiguration
    public let postgres: PostgresClient
    public let catalog: Catalog
    public let publisher: AMQPPublisher
    public let names: FairwayBrokerNames
    public let logger: Logger
}

/// A service's own parts, added to the common ones.
public struct ServiceParts: Sendable {
    /// Messages the service handles; `nil` while its issue is not built: it then declares its queue
    /// and idles, leaving messages there for the release that handles them.
    public var messages: MessageRoutes?
    /// Long-running loops of its own (started after the catalog and broker clients, stopped before).
    public var services: [any Service]
    /// Routes of its HTTP API, served beside /healthz, /readyz and /metrics.
    public var http: (@Sendable (Router<BasicRequestContext>) -> Void)?

    public init(messages: MessageRoutes? = nil, services: [any Service] = [], http: (@Sendable (Router<BasicRequestContext>) -> Void)? = nil) {
        self.messages = messages; self.services = services; self.http = http
    }
}

/// What one service executable runs: the catalog client, a publisher and (when it consumes) a
/// consumer on its own queue, the outbox relay, the message worker and the HTTP endpoint, in one
/// `ServiceGroup` that stops in reverse order on SIGTERM or SIGINT.
public struct ServiceRuntime: Sendable {
    public let service: ServiceName
    public let configuration: FairwayConfiguration
    public var parts: @Sendable (ServiceContext) throws -> ServiceParts

    public init(service: ServiceName, configuration: FairwayConfiguration,
                parts: @escaping @Sendable (ServiceContext) throws -> ServiceParts = { _ in ServiceParts() }) {
        self.service = service
        self.configuration = configuration
        self.parts = parts
    }

    public func run() async throws {
        FairwayLogging.bootstrap(format: configuration.logFormat, level: configuration.logLevel)
        let logger = Logger(label: service.executable)
        let registry = PrometheusCollectorRegistry()
        MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry))
        let spanExport = try SpanExport.bootstrap(service: service.executable, logger: logger)

        let databaseURL = try configuration.requireDatabaseURL()
        let amqpURL = try configuration.requireAMQPURL()
        // Named per process, so the pool gauge finds this process's connections among its replicas'.
        let applicationName = "\(service.executable) \(ProcessInfo.processInfo.hostName.prefix(32)):\(getpid())"
        let postgres = PostgresClient(configuration: try DatabaseURL.configuration(databaseURL, applicationName: applicationName), backgroundLogger: logger)
        let names = FairwayBrokerNames(namespace: configuration.brokerNamespace)
        let topology = names.serviceTopology(
            service: service.rawValue, routingKeys: service.consumedKeys.map(\.rawValue),
            retiredKeys: service.retiredKeys.map(\.rawValue), deliveryLimit: configuration.deliveryLimit
        )
        var amqp = try AMQPConfiguration(url: amqpURL, connectionName: "\(service.executable) publisher")
        amqp.prefetch = configuration.prefetch
        let publisher = AMQPPublisher(configuration: amqp, topology: topology, logger: logger)
        let catalog = Catalog(client: postgres, service: service.rawValue, exchange: names.exchange, logger: logger)
        let relay = OutboxRelay(client: postgres, publisher: publisher, producer: service.rawValue, logger: logger)

        let own = try parts(ServiceContext(configuration: configuration, postgres: postgres, catalog: catalog,
                                           publisher: publisher, names: names, logger: logger))
        let routes = own.messages
        var readiness = Readiness(checks: [.database(postgres), .broker("rabbitmq-publisher", publisher.status)])
        var services: [any Service] = (spanExport.map { [$0] } ?? []) + [postgres, publisher]
        var worker: MessageWorker?
        if let routes {
            amqp.connectionName = "\(service.executable) consumer"
            var workerConfiguration = MessageWorker.Configuration()
            if routes.batches {
                // Group commit needs messages in flight to group: two batches' worth.
                workerConfiguration.concurrency = 2 * MessageRoutes.maxBatch
                amqp.prefetch = max(amqp.prefetch, UInt16(2 * MessageRoutes.maxBatch))
            }
            let consumer = AMQPConsumer(configuration: amqp, topology: topology, queue: names.queue(service.rawValue), logger: logger)
            readiness.checks.append(.broker("rabbitmq-consumer", consumer.status))
            workerConfiguration.deliveryLimit = configuration.deliveryLimit
            worker = MessageWorker(consumer: consumer, publisher: publisher, catalog: catalog, routes: routes,
                                   names: names, configuration: workerConfiguration, logger: logger)
            services.append(consumer)
        }
        services.append(relay)
        services.append(DatabasePoolGauge(client: postgres, applicationName: applicationName, maximum: DatabaseURL.maximumConnections, logger: logger))
        services.append(contentsOf: own.services)
        if let worker { services.append(worker) }

        let router = Router()
        OperationsRoutes.add(to: router, readiness: readiness, metrics: registry)
        own.http?(router)
        let http = Application(
            router: router,
            configuration: .init(address: .hostname(configuration.httpHost, port: configuration.port(for: service)),
                                 serverName: service.executable),
            logger: logger
        )
        services.append(http)

        logger.info("starting", metadata: [
            "database": "\(DatabaseURL.redacted(databaseURL))",
            "broker": "\((try? AMQPEndpoint(url: amqpURL))?.redacted ?? "?")",
            "queue": "\(names.queue(service.rawValue))",
            "http": "\(configuration.httpHost):\(configuration.port(for: service))",
            "consuming": "\(routes != nil)",
        ])
        let group = ServiceGroup(configuration: .init(
            services: services.map { .init(service: $0) },
            gracefulShutdownSignals: [.sigterm, .sigint],
            logger: logger
        ))
        try await group.run()
        logger.info("stopped")
    }
}

/// `fairway-<service> serve`: the long-running service. Shared by the six executables.
public struct ServeOptions: ParsableArguments {
    public init() {}

    public func configuration() throws -> FairwayConfiguration {
        do {
            return try FairwayConfiguration.fromEnvironment()
        } catch {
            throw ValidationError(error.description)
        }
    }
}
