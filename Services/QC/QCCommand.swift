import ArgumentParser
import FairwayContracts
import FairwayServiceKit

/// `fairway-qc`: Scores image quality per channel (SNR, saturation, background, focus) with a pass/warn/fail verdict.
@main
struct QCCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fairway-qc",
        abstract: "Scores image quality per channel (SNR, saturation, background, noise, focus, dynamic range) with a pass/warn/fail verdict.",
        discussion: FairwayConfiguration.helpText,
        subcommands: [Serve.self, ScoreCommand.self],
        defaultSubcommand: Serve.self
    )

    struct Serve: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Run the service: consume metadata.extracted, emit qc.scored.",
            discussion: FairwayConfiguration.helpText
        )

        @OptionGroup var options: ServeOptions

        func run() async throws {
            try await ServiceRuntime(service: .qc, configuration: options.configuration()) { context in
                let scorings = Scorings(client: context.postgres, logger: context.logger)
                // metadata.extracted → the image of record's pixels read band by band on a thread
                // of their own → qc_results, qc_scores and qc tags, the object scored (or failed
                // with the reason) → qc.scored, in the inbox transaction.
                var messages = MessageRoutes()
                messages.on(MetadataExtracted.self, prepare: scorings.prepare, apply: scorings.record)
                return ServiceParts(messages: messages)
            }.run()
        }
    }
}
