import ArgumentParser
import FairwayContracts
import FairwayServiceKit

/// `fairway-retention`: Applies lifecycle policies: replication, buffer clean-up, cold tiering, expiry with notice, fixity, legal hold.
@main
struct RetentionCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fairway-retention",
        abstract: "Applies lifecycle policies: replication, buffer clean-up, cold tiering, expiry with notice, fixity, legal hold.",
        discussion: FairwayConfiguration.helpText,
        subcommands: [Serve.self],
        defaultSubcommand: Serve.self
    )

    struct Serve: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Run the service: consume object.registered, qc.scored and doi.registered, emit retention.notice and retention.applied.",
            discussion: FairwayConfiguration.helpText
        )

        @OptionGroup var options: ServeOptions

        func run() async throws {
            // Not built yet (see its issue): the service connects, declares its queue and idles, so
            // messages wait in fairway.retention for the release that handles them.
            try await ServiceRuntime(service: .retention, configuration: options.configuration()).run()
        }
    }
}
