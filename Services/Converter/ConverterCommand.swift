import ArgumentParser
import FairwayContracts
import FairwayServiceKit

/// `fairway-converter`: Converts TIFF-family images to tiled, pyramidal OME-TIFF registered as derived objects.
@main
struct ConverterCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fairway-converter",
        abstract: "Converts TIFF-family images to tiled, pyramidal OME-TIFF registered as derived objects.",
        discussion: FairwayConfiguration.helpText,
        subcommands: [Serve.self, ConvertCommand.self],
        defaultSubcommand: Serve.self
    )

    struct Serve: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Run the service: consume object.registered, emit object.converted.",
            discussion: FairwayConfiguration.helpText
        )

        @OptionGroup var options: ServeOptions

        func run() async throws {
            // Not built yet (see its issue): the service connects, declares its queue and idles, so
            // messages wait in fairway.converter for the release that handles them.
            try await ServiceRuntime(service: .converter, configuration: options.configuration()).run()
        }
    }
}
