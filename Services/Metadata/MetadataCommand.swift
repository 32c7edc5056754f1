import ArgumentParser
import FairwayContracts
import FairwayServiceKit
import FairwayXML

/// `fairway-metadata`: Extracts OME-XML and TIFF metadata into annotations and machine tags; checks mandatory fields.
@main
struct MetadataCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fairway-metadata",
        abstract: "Extracts OME-XML and TIFF metadata into annotations and machine tags; checks mandatory fields.",
        discussion: FairwayConfiguration.helpText,
        subcommands: [Serve.self, ExtractCommand.self, BenchmarkCommand.self],
        defaultSubcommand: Serve.self
    )

    struct Serve: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Run the service: consume object.converted, emit metadata.extracted.",
            discussion: FairwayConfiguration.helpText
        )

        @OptionGroup var options: ServeOptions

        func run() async throws {
            let configuration = try options.configuration()
            let schema = try MetadataSettings.schema(configuration)
            try await ServiceRuntime(service: .metadata, configuration: configuration) { context in
                let descriptions = Descriptions(client: context.postgres, schema: schema, logger: context.logger)
                // object.converted (a derived OME-TIFF, or a source that already was one) → image
                // metadata, annotations, machine tags and naming fields on the image of record, or
                // the object marked failed with the reason → metadata.extracted. Each file is read on
                // its own; what was read meanwhile is recorded in one transaction (group commit).
                var messages = MessageRoutes()
                messages.onBatches(ObjectConverted.self, prepare: descriptions.prepare, apply: descriptions.record)
                return ServiceParts(messages: messages)
            }.run()
        }
    }
}

/// The metadata step's part of the configuration.
enum MetadataSettings {
    /// FAIRWAY_OME_XSD, loaded once with the network off; a schema that cannot be loaded stops the
    /// service at start rather than letting it describe images unchecked.
    static func schema(_ configuration: FairwayConfiguration) throws -> XMLSchema? {
        guard let path = configuration.values["FAIRWAY_OME_XSD"], !path.isEmpty else { return nil }
        do {
            return try XMLSchema(path: path)
        } catch {
            throw ValidationError("FAIRWAY_OME_XSD=\(path): \(error.description)")
        }
    }
}
