import ArgumentParser
import FairwayContracts
import FairwayPublishing
import FairwayServiceKit

/// `fairway-doi`: Mints DataCite DOIs for published studies and serves their landing pages.
@main
struct DOICommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fairway-doi",
        abstract: "Mints DataCite DOIs for published studies and serves their landing pages.",
        discussion: FairwayConfiguration.helpText,
        subcommands: [Serve.self],
        defaultSubcommand: Serve.self
    )

    struct Serve: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Run the service: register, update and hide DOIs at DataCite (on dataset.publish.requested and until DataCite matches the catalog), emit doi.registered, serve landing pages and tombstones (GET /datasets/{doi}).",
            discussion: FairwayConfiguration.helpText
        )

        @OptionGroup var options: ServeOptions

        func run() async throws {
            let configuration = try options.configuration()
            let dataCite: DataCiteSettings
            let dataAccess: String?
            do {
                dataCite = try DataCiteSettings(configuration.values)
                dataAccess = try LandingPages.dataAccessTemplate(configuration.values)
            } catch { throw ValidationError(error.description) }
            try await ServiceRuntime(service: .doi, configuration: configuration) { context in
                // Publications committed in the catalog → DataCite, through their own outbox rows;
                // a request only wakes the sync, which also runs on its own until they match.
                let sync = DataCiteSync(catalog: context.catalog, settings: dataCite, logger: context.logger)
                var messages = MessageRoutes()
                messages.on(DatasetPublishRequested.self) { _, _ in await sync.wake() }
                let pages = LandingPages(client: context.postgres, logger: context.logger, dataAccess: dataAccess)
                return ServiceParts(messages: messages, services: [sync], http: { pages.add(to: $0) })
            }.run()
        }
    }
}
