import ArgumentParser
import FairwayAMQP
import FairwayCatalog
import FairwayPublication
import FairwayPublishing
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
            call, and stays the study's: publishing again updates the metadata of the same DOI. \
            fairway-doi registers it; --wait waits for DataCite's answer.
            Exit codes: 0 reserved or updated (with --wait: DataCite holds it), 1 problems (listed, \
            including those DataCite found with --wait), 3 still waiting when --wait ran out, 64 usage.
            """
    )

    @Option(help: "Investigation.") var investigation: String
    @Option(help: "Study.") var study: String
    @Option(help: "Publication metadata file (.yaml/.yml or .json).") var metadata: String
    @Option(help: "Wait up to this many seconds for DataCite's answer through fairway-doi.") var wait: Int?
    @Flag(help: "Print JSON.") var json = false
    @OptionGroup var catalog: CatalogOptions

    func run() async throws {
        let configuration = try catalog.configuration()
        let settings: PublishingSettings
        do { settings = try PublishingSettings(configuration.values) } catch { throw CommandFailure(error.description) }

        let data: Data
        do { data = try Data(contentsOf: URL(fileURLWithPath: metadata)) } catch {
            throw CommandFailure("cannot read \(metadata): \(error.localizedDescription)")
        }
        // YAML or the same as JSON: by the name, else by the first character.
        let lowered = metadata.lowercased()
        let isJSON = lowered.hasSuffix(".json") || (!lowered.hasSuffix(".yaml") && !lowered.hasSuffix(".yml")
            && data.first(where: { ![0x20, 0x09, 0x0A, 0x0D].contains($0) }) == UInt8(ascii: "{"))
        let request: PublicationRequest
        do { request = isJSON ? try PublicationRequest.parse(json: data) : try PublicationRequest.parse(yaml: Array(data)) } catch {
            throw Self.refusal(error.problems, json: json)
        }

        let investigation = investigation, study = study, json = json, wait = wait
        let requestedBy = "cli:" + (ProcessInfo.processInfo.environment["USER"] ?? "operator")
        let exchange = FairwayBrokerNames(namespace: configuration.brokerNamespace).exchange
        let (reservation, status) = try await catalog.withCatalog { client, logger in
            let desk = PublicationDesk(client: client, exchange: exchange, logger: logger)
            let reservation: PublicationDesk.Reservation
            do {
                reservation = try await desk.reserve(investigation: investigation, study: study, request: request, requestedBy: requestedBy, settings: settings)
            } catch let refusal as PublicationDesk.Refusal {
                if case .problems(let problems) = refusal { throw Self.refusal(problems, json: json) }
                throw CommandFailure(refusal.description)
            }
            guard let wait else { return (reservation, nil as PublicationStatus?) }
            let deadline = ContinuousClock.now + .seconds(wait)
            var status = try await PublicationStatus.load(doi: reservation.doi.description, client: client, logger: logger).first
            while let current = status, !current.settled, ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(250))
                status = try await PublicationStatus.load(doi: reservation.doi.description, client: client, logger: logger).first
            }
            return (reservation, status)
        }
        if json {
            var document: [String: Any] = ["doi": reservation.doi.description, "url": reservation.doi.url, "landingPage": reservation.landingPage,
                                           "state": status?.state ?? reservation.state, "updated": reservation.updated]
            if let status {
                document["pending"] = status.pending
                if let detail = status.detail { document["detail"] = detail }
                document["fieldErrors"] = status.fieldErrors.map { ["field": $0.field, "message": $0.message] }
            }
            let data = try JSONSerialization.data(withJSONObject: document, options: [.sortedKeys, .withoutEscapingSlashes])
            print(String(decoding: data, as: UTF8.self))
        } else {
            print("\(reservation.updated ? "updated" : "reserved") \(reservation.doi.url) for \(investigation)/\(study)")
            if let status {
                print("state: \(status.state)\(status.detail.map { " (\($0))" } ?? "")")
                for problem in status.fieldErrors { print("  \(problem)") }
            } else {
                print("state: \(reservation.state) (the DOI service registers it at DataCite; see `fairway publication show \(reservation.doi)`)")
            }
            print("landing page: \(reservation.landingPage)")
        }
        if let status {
            if !status.fieldErrors.isEmpty { throw ExitCode(1) }
            if status.pending { throw ExitCode(3) }
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
}

/// `fairway withdraw DOI --reason TEXT`: the landing page becomes a tombstone; the DOI service
/// hides the DOI at DataCite.
struct WithdrawCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "withdraw",
        abstract: "Withdraw a published DOI: hide it at DataCite and show a tombstone with the reason.",
        discussion: """
            A DOI registered at DataCite is never deleted: it is hidden (event hide) and resolves to \
            the tombstone page, which keeps answering. Only a DOI DataCite holds as a draft is \
            deleted; --delete asks for deletion and falls back to hiding for any other. A DOI that \
            never reached DataCite is withdrawn here only.
            Exit codes: 0 withdrawn (or already), 1 unknown DOI or failure, 64 usage.
            """
    )

    @Argument(help: "The DOI, e.g. 10.5072/ABCD-1234X.") var doi: String
    @Option(help: "Why it is withdrawn (shown on the tombstone).") var reason: String
    @Flag(help: "Ask for deletion (only drafts are deleted; others are hidden).") var delete = false
    @Flag(help: "Print JSON.") var json = false
    @OptionGroup var catalog: CatalogOptions

    func validate() throws {
        let trimmed = reason.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !trimmed.isEmpty, trimmed.count <= 2000 else { throw ValidationError("--reason must say why, in at most 2000 characters") }
        guard DOIName(doi.hasPrefix("https://doi.org/") ? String(doi.dropFirst(16)) : doi) != nil else {
            throw ValidationError("\(doi.prefix(100)) is not a Fairway DOI (PREFIX/XXXX-XXXXC)")
        }
    }

    func run() async throws {
        let configuration = try catalog.configuration()
        let name = DOIName(doi.hasPrefix("https://doi.org/") ? String(doi.dropFirst(16)) : doi)!
        let reason = reason.trimmingCharacters(in: .whitespacesAndNewlines), delete = delete
        let requestedBy = "cli:" + (ProcessInfo.processInfo.environment["USER"] ?? "operator")
        let exchange = FairwayBrokerNames(namespace: configuration.brokerNamespace).exchange
        let withdrawal = try await catalog.withCatalog { client, logger in
            do {
                return try await PublicationDesk(client: client, exchange: exchange, logger: logger)
                    .withdraw(doi: name, reason: reason, requestedBy: requestedBy, delete: delete)
            } catch let refusal as PublicationDesk.Refusal {
                throw CommandFailure(refusal.description)
            }
        }
        if json {
            let document: [String: Any] = ["doi": withdrawal.doi.description, "state": withdrawal.state, "detail": withdrawal.detail,
                                           "alreadyWithdrawn": withdrawal.alreadyWithdrawn]
            print(String(decoding: try JSONSerialization.data(withJSONObject: document, options: [.sortedKeys, .withoutEscapingSlashes]), as: UTF8.self))
        } else {
            print("\(withdrawal.alreadyWithdrawn ? "already withdrawn" : "withdrawn") \(withdrawal.doi.url): \(withdrawal.detail)")
        }
    }
}

/// `fairway publication list|show`: where publications stand, here and at DataCite.
struct PublicationCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "publication",
        abstract: "Show publications: state here and at DataCite, pending work, problems DataCite found.",
        subcommands: [List.self, Show.self]
    )

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List publications.")
        @Option(help: "Only this investigation.") var investigation: String?
        @Flag(help: "Print JSON.") var json = false
        @OptionGroup var catalog: CatalogOptions

        func run() async throws {
            let investigation = investigation
            let statuses = try await catalog.withCatalog { client, logger in
                try await PublicationStatus.load(investigation: investigation, client: client, logger: logger)
            }
            printTable(["doi", "investigation", "study", "state", "datacite", "pending", "status"], statuses.map {
                [$0.doi, $0.investigation, $0.study, $0.state, $0.remoteState ?? "", $0.pending ? "yes" : "no", $0.detail ?? ""]
            }, json: json)
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show one publication, by DOI or by study. Exit code 1 when there is none.")
        @Argument(help: "The DOI.") var doi: String?
        @Option(help: "Investigation (with --study).") var investigation: String?
        @Option(help: "Study (with --investigation).") var study: String?
        @Flag(help: "Print JSON.") var json = false
        @OptionGroup var catalog: CatalogOptions

        func validate() throws {
            guard (doi != nil) != (investigation != nil && study != nil) else {
                throw ValidationError("give a DOI, or --investigation and --study")
            }
        }

        func run() async throws {
            let doi = doi.map { $0.hasPrefix("https://doi.org/") ? String($0.dropFirst(16)) : $0 }.map { $0.uppercased() }
            let investigation = investigation, study = study
            let statuses = try await catalog.withCatalog { client, logger in
                try await PublicationStatus.load(doi: doi, investigation: investigation, study: study, client: client, logger: logger)
            }
            guard let status = statuses.first else { throw CommandFailure("no such publication") }
            if json {
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
                encoder.dateEncodingStrategy = .iso8601
                print(String(decoding: try encoder.encode(status), as: UTF8.self))
            } else {
                status.lines.forEach { print($0) }
            }
        }
    }
}
