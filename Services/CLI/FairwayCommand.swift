import ArgumentParser
import FairwayServiceKit

/// `fairway`: the operator's command line.
@main
struct FairwayCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fairway",
        abstract: "Operate a Fairway installation: migrations, zones and tokens, watching and ingesting folders, metadata and search, QC, retention, publication, exports (OMERO, RO-Crate, ISA-JSON), status.",
        discussion: FairwayConfiguration.helpText + """


            Exit codes: 0 success, 1 failure (the message says why), 64 usage error.
            """,
        subcommands: [MigrateCommand.self, ZoneCommand.self, TokenCommand.self, WatchCommand.self, IngestTreeCommand.self,
                      AnnotateCommand.self, SearchCommand.self, MetadataCommand.self, QCCommand.self,
                      RetentionCommand.self, FixityCommand.self, OwnerCommand.self, ContactCommand.self, PublishCommand.self,
                      WithdrawCommand.self, PublicationCommand.self, StatusCommand.self, MemberCommand.self, ObjectCommand.self,
                      ExportCommand.self, ImportCommand.self, DLQCommand.self]
    )
}
