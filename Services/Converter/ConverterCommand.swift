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
            let configuration = try options.configuration()
            let settings = try ConverterSettings(configuration)
            try await ServiceRuntime(service: .converter, configuration: configuration) { context in
                let conversions = Conversions(client: context.postgres, settings: settings, logger: context.logger)
                // object.registered → OME-TIFF of record (converted into the derived resource, kept in
                // place, or the object marked unsupported/failed with its reason) → object.converted
                var messages = MessageRoutes()
                messages.on(ObjectRegistered.self, prepare: conversions.prepare, apply: conversions.record)
                return ServiceParts(messages: messages)
            }.run()
        }
    }
}
