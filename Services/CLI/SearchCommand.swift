import ArgumentParser
import FairwayCatalog
import Foundation

/// `fairway search`: the catalog's objects by annotation, machine tag, words, ISA names and dates.
struct SearchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "search",
        abstract: "Find objects by annotation (KEY=VALUE), machine tag, words, ISA names and acquisition dates.",
        discussion: """
        Conditions combine with AND. KEY=VALUE matches an annotation on the object or on its assay, \
        study or investigation (values compared without case). --tag NAME:VALUE matches a machine \
        tag read from the image (microscope, objective, lasers, filters, software, acquisitionDate, \
        user); --tag NAME only asks that the tag exists. --text matches words of file names, image \
        names, ISA names, machine tags, channels and original metadata. The same search is \
        GET /v1/search on the ingest API.
        """
    )

    @Argument(help: "Annotations that must be present, as KEY=VALUE.") var annotations: [String] = []
    @Option(name: .customLong("tag"), help: "Machine tag NAME:VALUE (or NAME).") var tags: [String] = []
    @Option(help: "Words that must all appear.") var text: String?
    @Option(help: "Investigation name.") var investigation: String?
    @Option(help: "Study name.") var study: String?
    @Option(help: "Assay name.") var assay: String?
    @Option(help: "Acquired on or after (yyyy-MM-dd or ISO 8601).") var from: String?
    @Option(help: "Acquired on or before (yyyy-MM-dd or ISO 8601).") var to: String?
    @Option(help: "Only objects that came in through this zone.") var zone: String?
    @Option(help: "Most objects to list (1-1000).") var limit = 100
    @Option(help: "Continue after this object id (the previous page's next).") var after: String?
    @Flag(help: "Print the JSON answer of GET /v1/search.") var json = false
    @OptionGroup var catalog: CatalogOptions

    func run() async throws {
        var parameters: [(name: String, value: String)] = []
        for annotation in annotations {
            guard let equals = annotation.firstIndex(of: "="), equals != annotation.startIndex else {
                throw ValidationError("'\(annotation)' is not KEY=VALUE")
            }
            let key = String(annotation[..<equals])
            guard !CatalogSearch.reserved.contains(key) else { throw ValidationError("'\(key)' is an option here: use --\(key)") }
            parameters.append((key, String(annotation[annotation.index(after: equals)...])))
        }
        parameters += tags.map { ("tag", $0) }
        for (name, value) in [("text", text), ("investigation", investigation), ("study", study), ("assay", assay),
                              ("from", from), ("to", to), ("after", after)] {
            if let value { parameters.append((name, value)) }
        }
        parameters.append(("limit", String(limit)))
        let search: CatalogSearch
        do { search = try CatalogSearch(parameters: parameters, zone: zone) } catch { throw ValidationError(error.description) }
        let answer = try await catalog.withCatalog { client, logger in try await search.run(client: client, logger: logger) }
        if json {
            print(answer)
            return
        }
        let object = (try? JSONSerialization.jsonObject(with: Data(answer.utf8))) as? [String: Any] ?? [:]
        let found = object["objects"] as? [[String: Any]] ?? []
        let rows = found.map { item -> [String] in
            let tags = (item["machineTags"] as? [String: String] ?? [:]).sorted { $0.key < $1.key }
            return [item["id"] as? String ?? "", item["state"] as? String ?? "", item["path"] as? String ?? "",
                    tags.filter { ["microscope", "objective"].contains($0.key) }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")]
        }
        printTable(["ID", "STATE", "PATH", "TAGS"], rows, json: false)
        if let next = object["next"] as? String { note("more: --after \(next)") }
        if found.isEmpty { note("no objects match") }
    }
}
