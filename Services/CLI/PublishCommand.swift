import ArgumentParser
import FairwayAMQP
import FairwayCatalog
import FairwayContracts
import FairwayPublication
import FairwayServiceKit
import Foundation
import Logging
import PostgresNIO

/// `fairway publish`: checks a study's publication metadata, reserves its DOI and asks the DOI
/// service to register it.
struct PublishCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "publish",
        abstract: "Reserve a DOI for a study and ask for its registration at DataCite.",
        discussion: """
            The metadata file (YAML, or the same as JSON) gives title, description, creators (name as "Family, Given", \
            orcid, affiliation, ror), license (SPDX id or URL), keywords, relatedPublication (a DOI) \
            and funding ([{funder, award, funderROR}]); the rest comes from the catalog. Every \
            problem is printed with its field and nothing is reserved until there is none. The DOI \
            (FAIRWAY_DOI_PREFIX + a suffix with a check symbol) is chosen here, before any remote \
            call, and stays the study's: publishing again updates the metadata of the same DOI.
            Exit codes: 0 reserved or updated, 1 problems (listed), 64 usage.
            """
    )

    @Option(help: "Investigation.") var investigation: String
    @Option(help: "Study.") var study: String
    @Option(help: "Publication metadata file (.yaml/.yml or .json).") var metadata: String
    @Flag(help: "Print JSON.") var json = false
    @OptionGroup var catalog: CatalogOptions

    func run() async throws {
        let configuration = try catalog.configuration()
        let values = configuration.values
        func setting(_ key: String) -> String? { values[key].flatMap { $0.isEmpty ? nil : $0 } }
        let missing = ["FAIRWAY_DOI_PREFIX", "FAIRWAY_LANDING_BASE_URL", "FAIRWAY_PUBLISHER_NAME"].filter { setting($0) == nil }
        guard missing.isEmpty else { throw CommandFailure("set \(missing.joined(separator: ", ")) first (see fairway --help)") }
        let settings = PublicationValidation.Settings(doiPrefix: setting("FAIRWAY_DOI_PREFIX")!, landingBaseURL: setting("FAIRWAY_LANDING_BASE_URL")!)
        let publisherROR = setting("FAIRWAY_PUBLISHER_ROR")
        if let publisherROR, RORID(publisherROR) == nil { throw CommandFailure("FAIRWAY_PUBLISHER_ROR \(publisherROR) is not a ROR id") }

        let data: Data
        do { data = try Data(contentsOf: URL(fileURLWithPath: metadata)) } catch {
            throw CommandFailure("cannot read \(metadata): \(error.localizedDescription)")
        }
        // YAML or the same as JSON: by the name, else by the first character.
        let lowered = metadata.lowercased()
        let isJSON = lowered.hasSuffix(".json") || (!lowered.hasSuffix(".yaml") && !lowered.hasSuffix(".yml")
            && data.first(where: { ![0x20, 0x09, 0x0A, 0x0D].contains($0) }) == UInt8(ascii: "{"))
        var problems: [FieldProblem] = []
        var request: PublicationRequest?
        do { request = isJSON ? try PublicationRequest.parse(json: data) : try PublicationRequest.parse(yaml: Array(data)) } catch {
            problems += error.problems
        }
        if let request { problems += PublicationValidation.problems(of: request) }
        guard let request, problems.isEmpty else { throw Self.refusal(problems, json: json) }

        let publisherName = setting("FAIRWAY_PUBLISHER_NAME")!
        let investigation = investigation, study = study, json = json
        let requestedBy = "cli:" + (ProcessInfo.processInfo.environment["USER"] ?? "operator")
        let names = FairwayBrokerNames(namespace: configuration.brokerNamespace)
        let outcome = try await catalog.withCatalog { client, logger in
            var studyID: UUID?
            for try await id in try await client.query("""
                SELECT s.id FROM studies s JOIN investigations i ON i.id = s.investigation_id WHERE i.name = \(investigation) AND s.name = \(study)
                """, logger: logger).decode(UUID.self) { studyID = id }
            guard let studyID else { throw CommandFailure("no study \(study) in investigation \(investigation)") }
            let facts = try await Self.facts(of: studyID, publisher: publisherName, ror: publisherROR.flatMap(RORID.init),
                                             client: client, logger: logger)
            guard facts.fileCount > 0 else { throw CommandFailure("study \(investigation)/\(study) has no data to publish") }
            let catalog = Catalog(client: client, service: ServiceName.doi.rawValue, exchange: names.exchange, logger: logger)
            // The study keeps the DOI it was given; a new one is drawn until it is unused.
            for _ in 0 ..< 8 {
                var existing: (UUID, String, String)?
                for try await row in try await client.query("SELECT id, doi, state FROM publications WHERE study_id = \(studyID)", logger: logger)
                    .decode((UUID, String, String).self) { existing = row }
                let doi = existing.flatMap { DOIName($0.1) } ?? DOIName(prefix: settings.doiPrefix, suffix: DOISuffix.random())
                let base = settings.landingBaseURL.hasSuffix("/") ? settings.landingBaseURL : settings.landingBaseURL + "/"
                let landing = base + doi.description
                let installation = PublicationValidation.problems(doi: doi, landingPage: landing, facts: facts, settings: settings)
                guard installation.isEmpty else { throw Self.refusal(installation, json: json) }
                let record = DataCiteAttributes(doi: doi, event: "publish", landingPage: landing, request: request, facts: facts)
                let requestJSON = String(decoding: try JSONEncoder().encode(request), as: UTF8.self)
                let recordJSON = String(decoding: record.document, as: UTF8.self)
                let detail = "waiting for the DOI service to register it at DataCite"
                let saved: (UUID, String)? = try await catalog.transaction { transaction in
                    var saved: (UUID, String)?
                    for try await row in try await transaction.query("""
                        INSERT INTO publications (study_id, doi, state, status_detail, landing_url, metadata, record, requested_by)
                        VALUES (\(studyID), \(doi.description), 'reserved', \(detail), \(landing), \(requestJSON)::jsonb, \(recordJSON)::jsonb, \(requestedBy))
                        ON CONFLICT (study_id) DO UPDATE
                        SET metadata = EXCLUDED.metadata, record = EXCLUDED.record, field_errors = '[]', updated_at = now()
                        WHERE publications.doi = EXCLUDED.doi
                        RETURNING id, state
                        """).decode((UUID, String).self) { saved = row }
                    guard let (publicationID, _) = saved else { return nil }
                    try await transaction.query("""
                        INSERT INTO audit_log (actor, action, target_kind, target_id, details)
                        VALUES (\(requestedBy), 'publication.request', 'publication', \(doi.description),
                                jsonb_build_object('investigation', \(investigation)::text, 'study', \(study)::text))
                        """)
                    transaction.emit(Envelope(payload: DatasetPublishRequested(publicationID: publicationID, investigation: investigation,
                                                                               study: study, requestedBy: requestedBy)))
                    return saved
                }
                if let saved { return (doi: doi, landing: landing, state: saved.1, updated: existing != nil) }
                // Another publish of the same study won the race with another DOI: take that one.
            }
            throw CommandFailure("could not reserve a DOI for \(investigation)/\(study); try again")
        }
        if json {
            let document: [String: Any] = ["doi": outcome.doi.description, "url": outcome.doi.url, "landingPage": outcome.landing,
                                           "state": outcome.state, "updated": outcome.updated]
            let data = try JSONSerialization.data(withJSONObject: document, options: [.sortedKeys, .withoutEscapingSlashes])
            print(String(decoding: data, as: UTF8.self))
        } else {
            print("\(outcome.updated ? "updated" : "reserved") \(outcome.doi.url) for \(investigation)/\(study)")
            print("state: \(outcome.state) (the DOI service registers it at DataCite)")
            print("landing page: \(outcome.landing)")
        }
    }

    /// Prints the problems (one per line, or as JSON) and fails with exit code 1.
    static func refusal(_ problems: [FieldProblem], json: Bool) -> any Error {
        if json {
            let data = try! JSONEncoder().encode(["problems": problems])
            print(String(decoding: data, as: UTF8.self))
        } else {
            print("not published: \(problems.count) problem\(problems.count == 1 ? "" : "s")")
            for problem in problems { print("  \(problem)") }
        }
        return ExitCode(1)
    }

    /// What the catalog says about the study: files, sizes and formats of what was acquired,
    /// acquisition days and instruments from the metadata step, the imaging method annotation.
    static func facts(of studyID: UUID, publisher: String, ror: RORID?, client: PostgresClient, logger: Logger) async throws -> CatalogFacts {
        var files = 0, bytes: Int64 = 0, formats: [String] = [], first: String?, last: String?, instruments: [String] = []
        for try await row in try await client.query("""
            SELECT (count(*) FILTER (WHERE o.parent_id IS NULL))::int,
                   (coalesce(sum(o.size_bytes) FILTER (WHERE o.parent_id IS NULL), 0))::bigint,
                   coalesce(array_agg(DISTINCT o.format ORDER BY o.format) FILTER (WHERE o.format <> 'unknown'), '{}'),
                   to_char(min(coalesce(m.acquired_at, o.acquired_at)) AT TIME ZONE 'UTC', 'YYYY-MM-DD'),
                   to_char(max(coalesce(m.acquired_at, o.acquired_at)) AT TIME ZONE 'UTC', 'YYYY-MM-DD'),
                   coalesce(array_agg(DISTINCT m.microscope ORDER BY m.microscope) FILTER (WHERE m.microscope IS NOT NULL), '{}')
            FROM objects o JOIN assays a ON a.id = o.assay_id LEFT JOIN image_metadata m ON m.object_id = o.id
            WHERE a.study_id = \(studyID) AND o.state <> 'expired'
            """, logger: logger).decode((Int, Int64, [String], String?, String?, [String]).self) {
            (files, bytes, formats, first, last, instruments) = row
        }
        var method: String?
        for try await value in try await client.query("""
            SELECT value FROM annotations WHERE study_id = \(studyID) AND key IN ('imaging_method', 'imaging method') ORDER BY id LIMIT 1
            """, logger: logger).decode(String.self) { method = value }
        let names = ["ome-tiff": "OME-TIFF", "tiff": "TIFF", "bigtiff": "BigTIFF", "imagej-tiff": "ImageJ TIFF"]
        let now = Date()
        let year = Calendar(identifier: .gregorian).dateComponents(in: TimeZone(identifier: "UTC")!, from: now).year ?? 1970
        let day = ISO8601DateFormatter()
        day.formatOptions = [.withFullDate]
        return CatalogFacts(publisher: publisher, publisherROR: ror, publicationYear: year, resourceTypeGeneral: files == 1 ? "Image" : "Dataset",
                            formats: Array(Set(formats.map { names[$0] ?? $0 })).sorted(), fileCount: files, totalBytes: bytes,
                            collected: first.flatMap { first in last.map { (first, $0) } }, issued: day.string(from: now),
                            instruments: instruments, imagingMethod: method)
    }
}
