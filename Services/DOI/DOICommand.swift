import ArgumentParser
import FairwayContracts
import FairwayHarvesting
import Foundation
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
            abstract: "Run the service: register, update and hide DOIs at DataCite (on dataset.publish.requested and until DataCite matches the catalog), emit doi.registered, serve landing pages and tombstones (GET /datasets/{doi}) and OAI-PMH (GET /oai).",
            discussion: FairwayConfiguration.helpText + "\n\nOAI-PMH:\n" + OAISettings.helpText
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
            let oaiSettings = OAISettings.read(configuration.values)
            if case .failure(let missing) = oaiSettings, configuration.values["FAIRWAY_LANDING_BASE_URL"] != nil {
                // Publishing works without it; harvesters get a 503 naming the setting.
                FileHandle.standardError.write(Data("fairway-doi: GET /oai is off: \(missing.description)\n".utf8))
            }
            try await ServiceRuntime(service: .doi, configuration: configuration) { context in
                // Publications committed in the catalog → DataCite, through their own outbox rows;
                // a request only wakes the sync, which also runs on its own until they match.
                let sync = DataCiteSync(catalog: context.catalog, settings: dataCite, logger: context.logger)
                var messages = MessageRoutes()
                messages.on(DatasetPublishRequested.self) { _, _ in await sync.wake() }
                let pages = LandingPages(client: context.postgres, logger: context.logger, dataAccess: dataAccess)
                let oai = OAIEndpoint(provider: oaiSettings.map { OAIProvider(settings: $0, repository: OAIRepository(client: context.postgres, logger: context.logger)) },
                                      logger: context.logger)
                return ServiceParts(messages: messages, services: [sync], http: { pages.add(to: $0); oai.add(to: $0) })
            }.run()
        }
    }
}
