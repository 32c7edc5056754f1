public import Foundation

/// Everything checked before anything leaves the machine: DataCite 4.5's mandatory properties,
/// identifiers (ORCID check digit, ROR form and check), the licence, the year, the resource type,
/// the landing page under the configured base URL and the DOI under the configured prefix. Every
/// problem is returned, named by its field.
public enum PublicationValidation {
    /// What the installation fixes: `FAIRWAY_DOI_PREFIX` and `FAIRWAY_LANDING_BASE_URL`.
    public struct Settings: Sendable, Equatable {
        public var doiPrefix: String
        public var landingBaseURL: String

        public init(doiPrefix: String, landingBaseURL: String) {
            self.doiPrefix = doiPrefix; self.landingBaseURL = landingBaseURL
        }
    }

    public static let resourceTypes: Set<String> = [
        "Audiovisual", "Book", "BookChapter", "Collection", "ComputationalNotebook", "ConferencePaper", "ConferenceProceeding",
        "DataPaper", "Dataset", "Dissertation", "Event", "Image", "Instrument", "InteractiveResource", "Journal", "JournalArticle",
        "Model", "OutputManagementPlan", "PeerReview", "PhysicalObject", "Preprint", "Report", "Service", "Software", "Sound",
        "Standard", "StudyRegistration", "Text", "Workflow", "Other",
    ]

    /// The problems of a request, empty when it can be published.
    public static func problems(of request: PublicationRequest) -> [FieldProblem] {
        var problems: [FieldProblem] = []
        func text(_ value: String, _ field: String, max: Int, multiline: Bool = false) {
            let trimmed = value.trimmingCharacters(in: .whitespacesAndNewlines)
            if trimmed.isEmpty { problems.append(.init(field: field, message: "is empty")); return }
            if value.count > max { problems.append(.init(field: field, message: "is longer than \(max) characters")) }
            if value.unicodeScalars.contains(where: { ($0.value < 0x20 && !(multiline && ($0 == "\n" || $0 == "\t"))) || $0.value == 0x7F }) {
                problems.append(.init(field: field, message: "contains control characters"))
            }
        }
        text(request.title, "title", max: 1000)
        text(request.description, "description", max: 20_000, multiline: true)
        if request.creators.isEmpty { problems.append(.init(field: "creators", message: "needs at least one creator")) }
        if request.creators.count > 1000 { problems.append(.init(field: "creators", message: "has more than 1000 entries")) }
        for (index, creator) in request.creators.prefix(1000).enumerated() {
            text(creator.name, "creators[\(index)].name", max: 512)
            if let orcid = creator.orcid, ORCID(orcid) == nil {
                problems.append(.init(field: "creators[\(index)].orcid", message: "'\(orcid.prefix(64))' is not an ORCID iD (0000-0000-0000-000X with a valid check digit)"))
            }
            if let affiliation = creator.affiliation { text(affiliation, "creators[\(index)].affiliation", max: 512) }
            if let ror = creator.ror {
                if RORID(ror) == nil {
                    problems.append(.init(field: "creators[\(index)].ror", message: "'\(ror.prefix(64))' is not a ROR id (https://ror.org/0xxxxxxNN with a valid check)"))
                }
                if creator.affiliation == nil {
                    problems.append(.init(field: "creators[\(index)].affiliation", message: "name the organisation whose ROR id is given"))
                }
            }
        }
        if Licenses.find(request.license) == nil {
            problems.append(.init(field: "license", message: "'\(request.license.prefix(64))' is not a known licence; use an SPDX id such as \(Licenses.known.prefix(4).map(\.spdx).joined(separator: ", ")) or its URL"))
        }
        if request.keywords.count > 100 { problems.append(.init(field: "keywords", message: "has more than 100 entries")) }
        for (index, keyword) in request.keywords.prefix(100).enumerated() { text(keyword, "keywords[\(index)]", max: 256) }
        if Set(request.keywords).count != request.keywords.count { problems.append(.init(field: "keywords", message: "lists a keyword twice")) }
        if let related = request.relatedPublication, relatedDOI(related) == nil {
            problems.append(.init(field: "relatedPublication", message: "'\(related.prefix(64))' is not a DOI (10.NNNN/…)"))
        }
        for (index, funding) in request.funding.prefix(100).enumerated() {
            text(funding.funder, "funding[\(index)].funder", max: 512)
            if let award = funding.award { text(award, "funding[\(index)].award", max: 256) }
            if let ror = funding.funderROR, RORID(ror) == nil {
                problems.append(.init(field: "funding[\(index)].funderROR", message: "'\(ror.prefix(64))' is not a ROR id"))
            }
        }
        return problems
    }

    /// The problems of the installation's side of a record: DOI under the prefix, landing page
    /// under the base URL, a four-digit year, a controlled resource type.
    public static func problems(doi: DOIName, landingPage: String, facts: CatalogFacts, settings: Settings) -> [FieldProblem] {
        var problems: [FieldProblem] = []
        if !DOIName.isPrefix(settings.doiPrefix) {
            problems.append(.init(field: "doi", message: "FAIRWAY_DOI_PREFIX '\(settings.doiPrefix.prefix(32))' is not a DOI prefix (10.NNNN)"))
        } else if doi.prefix != settings.doiPrefix {
            problems.append(.init(field: "doi", message: "\(doi) is not under the configured prefix \(settings.doiPrefix)"))
        }
        let base = settings.landingBaseURL.hasSuffix("/") ? settings.landingBaseURL : settings.landingBaseURL + "/"
        if URL(string: base)?.scheme.map({ ["http", "https"].contains($0) }) != true || URL(string: base)?.host == nil {
            problems.append(.init(field: "url", message: "FAIRWAY_LANDING_BASE_URL '\(settings.landingBaseURL.prefix(64))' is not an http(s) URL"))
        } else if !landingPage.hasPrefix(base) || landingPage.contains("..") || URL(string: landingPage) == nil {
            problems.append(.init(field: "url", message: "the landing page \(landingPage.prefix(128)) is not under \(base)"))
        }
        if !(1000 ... 9999).contains(facts.publicationYear) {
            problems.append(.init(field: "publicationYear", message: "\(facts.publicationYear) is not a four-digit year"))
        }
        if !resourceTypes.contains(facts.resourceTypeGeneral) {
            problems.append(.init(field: "types.resourceTypeGeneral", message: "'\(facts.resourceTypeGeneral)' is not a DataCite resource type"))
        }
        if facts.publisher.trimmingCharacters(in: .whitespaces).isEmpty {
            problems.append(.init(field: "publisher", message: "the facility's name is not configured"))
        }
        return problems
    }

    /// The bare DOI a related-publication field names (`10.1101/…`, also as `doi:` or a doi.org URL).
    public static func relatedDOI(_ text: String) -> String? {
        var bare = Substring(text.trimmingCharacters(in: .whitespaces))
        for prefix in ["https://doi.org/", "http://doi.org/", "doi:"] where bare.lowercased().hasPrefix(prefix) { bare = bare.dropFirst(prefix.count) }
        guard bare.count <= 256, bare.range(of: "^10\\.[0-9]{4,9}(\\.[0-9]+)*/[^\\s]+$", options: .regularExpression) != nil else { return nil }
        return String(bare)
    }
}
