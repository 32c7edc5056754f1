import ArgumentParser
import FairwayCatalog
import FairwayContracts
import FairwayMetadata
import Foundation
import PostgresNIO

/// `fairway metadata check|naming`: what a study lacks for publication; file-naming patterns.
struct MetadataCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "metadata",
        abstract: "Check a study's metadata for publication; set an investigation's file-naming pattern.",
        subcommands: [Check.self, Naming.self]
    )

    struct Check: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Report each field publication and the REMBI minimum need: present or missing, and where it came from.",
            discussion: "Exit status 0 when every field is present, 2 when some are missing, 1 on error."
        )

        @Option(help: "Investigation name.") var investigation: String
        @Option(help: "Study name.") var study: String
        @Flag(help: "Print JSON.") var json = false
        @OptionGroup var catalog: CatalogOptions

        func run() async throws {
            let (investigation, study) = (investigation, study)
            let report: StudyCompleteness
            do {
                report = try await catalog.withCatalog { client, logger in
                    try await StudyCompleteness.check(investigation: investigation, study: study, client: client, logger: logger)
                }
            } catch let error as StudyCompleteness.NotFound {
                throw CommandFailure(error.description)
            }
            if json {
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
                print(String(decoding: try encoder.encode(report), as: UTF8.self))
            } else {
                print("\(investigation)/\(study): " + (report.complete ? "complete" : "\(report.fields.filter { !$0.present }.count) of \(report.fields.count) fields missing"))
                printTable(["FIELD", "GROUP", "STATUS", "SOURCE"], report.fields.map {
                    [$0.field, $0.group, $0.present ? "present" : "missing", $0.source]
                }, json: false)
            }
            if !report.complete { throw ExitCode(2) }
        }
    }

    struct Naming: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Set (or --clear) the file-naming pattern of an investigation.",
            discussion: """
            Example: '{date:yyyy-MM-dd}_{project}_{sample}_{creator}_{condition}_{type}_v{version}'. \
            Files described after this take their fields as annotations (namespace fairway/naming); \
            names that do not follow it are flagged, never rejected.
            """
        )

        @Option(help: "Investigation name.") var investigation: String
        @Argument(help: "The pattern.") var pattern: String?
        @Flag(help: "Remove the pattern.") var clear = false
        @OptionGroup var catalog: CatalogOptions

        func validate() throws {
            guard (pattern == nil) == clear else { throw ValidationError("give a pattern or --clear") }
            if let pattern {
                do { _ = try NamingPattern(pattern) } catch { throw ValidationError("pattern: \(error.description)") }
            }
        }

        func run() async throws {
            let (investigation, pattern) = (investigation, pattern)
            let updated = try await catalog.withCatalog { client, logger in
                var count = 0
                for try await n in try await client.query("""
                    WITH changed AS (UPDATE investigations SET naming_pattern = \(pattern) WHERE name = \(investigation) RETURNING id),
                    audit AS (INSERT INTO audit_log (actor, action, target_kind, target_id, details)
                              SELECT 'cli', 'investigation.naming', 'investigation', id::text, jsonb_build_object('pattern', \(pattern)::text) FROM changed)
                    SELECT count(*)::int FROM changed
                    """, logger: logger).decode(Int.self) { count = n }
                return count
            }
            guard updated == 1 else { throw CommandFailure("no investigation \(investigation)") }
            print(pattern.map { "\(investigation): naming pattern \($0)" } ?? "\(investigation): naming pattern removed")
        }
    }
}
