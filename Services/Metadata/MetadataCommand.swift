import ArgumentParser
import FairwayContracts
import FairwayServiceKit

/// `fairway-metadata`: Extracts OME-XML and TIFF metadata into annotations and machine tags; checks mandatory fields.
@main
struct MetadataCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fairway-metadata",
        abstract: "Extracts OME-XML and TIFF metadata into annotations and machine tags; checks mandatory fields.",
        discussion: FairwayConfiguration.helpText,
        subcommands: [Serve.self, ExtractCommand.self],
        defaultSubcommand: Serve.self
    )

    struct Serve: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Run the service: consume object.converted and object.registered, emit metadata.extracted.",
            discussion: FairwayConfiguration.helpText
        )

        @OptionGroup var options: ServeOptions

        func run() async throws {
            // Not built yet (see its issue): the service connects, declares its queue and idles, so
            // messages wait in fairway.metadata for the release that handles them.
            try await ServiceRuntime(service: .metadata, configuration: options.configuration()).run()
        }
    }
}
