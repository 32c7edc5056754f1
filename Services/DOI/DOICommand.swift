import ArgumentParser
import FairwayContracts
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
            abstract: "Run the service: consume dataset.publish.requested, emit doi.registered.",
            discussion: FairwayConfiguration.helpText
        )

        @OptionGroup var options: ServeOptions

        func run() async throws {
            // Not built yet (see its issue): the service connects, declares its queue and idles, so
            // messages wait in fairway.doi for the release that handles them.
            try await ServiceRuntime(service: .doi, configuration: options.configuration()).run()
        }
    }
}
