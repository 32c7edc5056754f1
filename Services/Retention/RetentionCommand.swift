import ArgumentParser
import FairwayContracts
import FairwayRetention
import FairwayServiceKit
import ServiceLifecycle

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
            abstract: "Run the service: apply the policies on a schedule; consume object.registered and doi.registered; emit retention.notice and retention.applied.",
            discussion: FairwayConfiguration.helpText
        )

        @OptionGroup var options: ServeOptions

        func run() async throws {
            let configuration = try options.configuration()
            let settings: RetentionSettings
            do { settings = try RetentionSettings(configuration) } catch { throw ValidationError(error.description) }
            try await ServiceRuntime(service: .retention, configuration: configuration) { context in
                let engine = settings.engine(catalog: context.catalog, actor: "fairway-retention")
                // Every interval: schedule what the policies ask for, send due notices, run the actions
                // whose grace period is over; soon after new objects arrive, the same for them alone.
                let schedule = PolicySchedule(engine: engine, interval: settings.interval, logger: context.logger)
                var messages = MessageRoutes()
                messages.on(ObjectRegistered.self) { envelope, _ in await schedule.wake(for: envelope.payload.objectID) }
                // A published study is on legal hold from the moment its DOI exists.
                messages.on(DOIRegistered.self, LegalHold.record)
                // Fixity: every replica re-read within the read budget, damaged ones marked, announced, repaired.
                var services: [any Service] = [schedule]
                if let budget = settings.fixityBytesPerSecond {
                    services.append(FixityLoop(checker: FixityChecker(engine: engine, bytesPerSecond: budget),
                                               interval: settings.fixityInterval, logger: context.logger))
                }
                return ServiceParts(messages: messages, services: services)
            }.run()
        }
    }
}
