import ArgumentParser
import FairwayContracts
import FairwayExports
import Foundation

/// `fairway import isa FILE`: an ISA-JSON investigation into the catalog's hierarchy.
struct ImportCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import",
        abstract: "Import an ISA-JSON investigation: its studies, assays and annotations.",
        subcommands: [ISA.self]
    )

    struct ISA: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "isa",
            abstract: "Create the investigation, studies and assays an ISA-JSON file describes, with their annotations.",
            discussion: """
                Studies are named by their identifier, assays by their file name (a_<name>.txt). Comments named \
                <namespace>:<key> become annotations (as `fairway export isa` writes them); data files are \
                matched to registered objects by logical path in their assay, and files not registered yet \
                are listed. What exists is kept; nothing is added twice. Nothing is written if the file has \
                an error. Exit codes: 0 imported, 1 failure, 64 usage.
                """
        )
        @Argument(help: "The ISA-JSON file.") var file: String
        @Option(help: "Import under this investigation name instead of the file's identifier.") var investigation: String?
        @Option(help: "Recorded as the annotations' author (default: $USER).") var by: String?
        @Flag(name: .customLong("dry-run"), help: "Show what would be created, write nothing.") var dryRun = false
        @Flag(help: "Print a JSON summary.") var json = false
        @OptionGroup var catalog: CatalogOptions

        func validate() throws {
            if let investigation, !CatalogName.isValid(investigation) { throw ValidationError("--investigation must be \(CatalogName.rule)") }
        }

        func run() async throws {
            let handle = try FileHandle(forReadingFrom: URL(fileURLWithPath: file))
            let data = try handle.read(upToCount: ISAImport.maxBytes + 1) ?? Data()
            var plan: ISAImport
            do { plan = try ISAImport(parsing: data) } catch { throw CommandFailure("\(file): \(error.description)") }
            if let investigation { plan.investigation = investigation }
            let author = by ?? ProcessInfo.processInfo.environment["USER"] ?? "cli"
            let (frozen, dryRun) = (plan, dryRun)
            let outcome = try await catalog.withCatalog { client, logger in
                try await frozen.apply(client: client, logger: logger, author: author, dryRun: dryRun)
            }
            let verb = dryRun ? "would import" : "imported"
            if json {
                printJSON(["investigation": plan.investigation, "dryRun": dryRun, "createdStudies": outcome.createdStudies,
                           "createdAssays": outcome.createdAssays, "addedAnnotations": outcome.addedAnnotations,
                           "annotatedFiles": outcome.annotatedFiles, "missingFiles": outcome.missingFiles])
            } else {
                print("\(verb) \(plan.investigation): \(plan.studies.count) studies (\(outcome.createdStudies.count) new), "
                      + "\(plan.studies.map(\.assays.count).reduce(0, +)) assays (\(outcome.createdAssays.count) new), "
                      + "\(outcome.addedAnnotations) annotations added, \(outcome.annotatedFiles) data files annotated")
                if !outcome.missingFiles.isEmpty {
                    print("\(outcome.missingFiles.count) data files are not registered in their assay (register the data, then import again):")
                    for path in outcome.missingFiles.prefix(20) { print("  \(path)") }
                    if outcome.missingFiles.count > 20 { print("  …") }
                }
            }
        }
    }
}
