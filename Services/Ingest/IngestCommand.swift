import ArgumentParser
import FairwayContracts
import FairwayServiceKit

/// `fairway-ingest`: Registers acquisitions in place: confines paths to landing zones, waits for files at rest, checksums, builds the ISA hierarchy.
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
            abstract: "Run the service: consume acquisition.completed, serve the acquisitions API, emit object.registered.",
            discussion: FairwayConfiguration.helpText
        )

        @OptionGroup var options: ServeOptions

        func run() async throws {
            // Not built yet (see its issue): the service connects, declares its queue and idles, so
            // messages wait in fairway.ingest for the release that handles them.
            try await ServiceRuntime(service: .ingest, configuration: options.configuration()).run()
        }
    }
}
