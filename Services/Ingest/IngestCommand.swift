import ArgumentParser
import FairwayContracts
import FairwayPublishing
import FairwayServiceKit

/// `fairway-ingest`: the front door. Watchers post acquisitions over HTTP (or any AMQP client
/// publishes `acquisition.completed`); both become pending acquisitions; the registrar registers
/// their files in place once at rest and emits `object.registered`.
@main
struct IngestCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fairway-ingest",
        abstract: "Registers acquisitions in place: confines paths to landing zones, waits for files at rest, checksums, builds the ISA hierarchy.",
        discussion: FairwayConfiguration.helpText,
        subcommands: [Serve.self],
        defaultSubcommand: Serve.self
    )

    struct Serve: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Run the service: serve the acquisitions API, consume acquisition.completed, emit object.registered.",
            discussion: FairwayConfiguration.helpText
        )

        @OptionGroup var options: ServeOptions

        func run() async throws {
            try await ServiceRuntime(service: .ingest, configuration: options.configuration()) { context in
                let logger = context.logger
                let intake = AcquisitionIntake(zones: ZoneDirectory(client: context.postgres, logger: logger),
                                               assays: AssayDirectory(), logger: logger)
                var registrarConfiguration = Registrar.Configuration()
                registrarConfiguration.quietPeriod = context.configuration.quietPeriod
                let registrar = Registrar(client: context.postgres, catalog: context.catalog,
                                          configuration: registrarConfiguration, logger: logger)

                // acquisition.completed → pending acquisition (in the inbox transaction)
                var messages = MessageRoutes()
                messages.on(AcquisitionCompleted.self) { envelope, transaction in
                    do {
                        _ = try await intake.accept(envelope.payload, source: .amqp, defaultOwner: envelope.payload.zone,
                                                    tokenZone: nil, trace: envelope.hop ?? TraceParent.continuing(envelope.traceparent),
                                                    on: transaction.connection)
                    } catch let error as IntakeError {
                        throw PermanentFailure(error.description)
                    }
                }
                // POST /v1/acquisitions → pending acquisition; GET views of the catalog
                let api = IngestAPI(intake: intake, tokens: WatcherTokens(client: context.postgres, logger: logger),
                                    views: CatalogViews(client: context.postgres, logger: logger),
                                    client: context.postgres, logger: logger, registered: { registrar.wake() })
                // pending → at rest → checksummed → objects + replicas + object.registered (outbox)
                // POST /v1/publications → reserved DOI + dataset.publish.requested (relayed by fairway-doi)
                let publications = PublicationAPI(
                    desk: PublicationDesk(client: context.postgres, exchange: context.names.exchange, logger: logger),
                    settings: Result { () throws(FairwayConfiguration.Invalid) in try PublishingSettings(context.configuration.values) },
                    tokens: WatcherTokens(client: context.postgres, logger: logger), client: context.postgres, logger: logger)
                // GET /ui: the operators' dashboard; replaying a failed object re-emits object.registered
                let dashboard = Dashboard(catalog: context.catalog, logger: logger)
                return ServiceParts(messages: messages, services: [registrar], http: { api.add(to: $0); publications.add(to: $0); dashboard.add(to: $0) })
            }.run()
        }
    }
}
