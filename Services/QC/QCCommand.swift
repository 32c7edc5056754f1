import ArgumentParser
import FairwayContracts
import FairwayServiceKit

/// `fairway-qc`: Scores image quality per channel (SNR, saturation, background, focus) with a pass/warn/fail verdict.
@main
struct QCCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fairway-qc",
        abstract: "Scores image quality per channel (SNR, saturation, background, focus) with a pass/warn/fail verdict.",
        discussion: FairwayConfiguration.helpText,
        subcommands: [Serve.self],
        defaultSubcommand: Serve.self
    )

    struct Serve: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Run the service: consume metadata.extracted, emit qc.scored.",
            discussion: FairwayConfiguration.helpText
        )

        @OptionGroup var options: ServeOptions

        func run() async throws {
            // Not built yet (see its issue): the service connects, declares its queue and idles, so
            // messages wait in fairway.qc for the release that handles them.
            try await ServiceRuntime(service: .qc, configuration: options.configuration()).run()
        }
    }
}
