public import Foundation

/// What the catalog knows about a study that DataCite needs: the facility as publisher, when and
/// what was acquired, and how the data is kept.
public struct CatalogFacts: Sendable, Equatable {
    public var publisher: String
    public var publisherROR: RORID?
    public var publicationYear: Int
    /// `Dataset`, or `Image` for a single image.
    public var resourceTypeGeneral: String
    public var formats: [String]
    public var fileCount: Int
    public var totalBytes: Int64
    /// First and last acquisition day (`YYYY-MM-DD`), when known.
    public var collected: (first: String, last: String)?
    public var issued: String
    public var instruments: [String]
    public var imagingMethod: String?

    public init(publisher: String, publisherROR: RORID?, publicationYear: Int, resourceTypeGeneral: String = "Dataset", formats: [String],
                fileCount: Int, totalBytes: Int64, collected: (first: String, last: String)?, issued: String,
                instruments: [String], imagingMethod: String?) {
        self.publisher = publisher; self.publisherROR = publisherROR; self.publicationYear = publicationYear
        self.resourceTypeGeneral = resourceTypeGeneral; self.formats = formats; self.fileCount = fileCount
        self.totalBytes = totalBytes; self.collected = collected; self.issued = issued; self.instruments = instruments
        self.imagingMethod = imagingMethod
    }

    public static func == (lhs: Self, rhs: Self) -> Bool {
        lhs.publisher == rhs.publisher && lhs.publisherROR == rhs.publisherROR && lhs.publicationYear == rhs.publicationYear
            && lhs.resourceTypeGeneral == rhs.resourceTypeGeneral && lhs.formats == rhs.formats && lhs.fileCount == rhs.fileCount
            && lhs.totalBytes == rhs.totalBytes && lhs.collected?.first == rhs.collected?.first && lhs.collected?.last == rhs.collected?.last
            && lhs.issued == rhs.issued && lhs.instruments == rhs.instruments && lhs.imagingMethod == rhs.imagingMethod
    }
}

/// The DataCite Metadata Schema 4.5 attributes of one DOI, as the REST API takes them in a JSON:API
/// document (`{"data": {"type": "dois", "id": …, "attributes": …}}`).
public struct DataCiteAttributes: Sendable, Equatable, Codable {
    public struct Identifier: Sendable, Equatable, Codable {
        public var nameIdentifier: String
        public var nameIdentifierScheme: String
        public var schemeUri: String
    }
    public struct Affiliation: Sendable, Equatable, Codable {
        public var name: String
        public var affiliationIdentifier: String?
        public var affiliationIdentifierScheme: String?
        public var schemeUri: String?
    }
    public struct Creator: Sendable, Equatable, Codable {
        public var name: String
        public var nameType: String
        public var givenName: String?
        public var familyName: String?
        public var nameIdentifiers: [Identifier]?
        public var affiliation: [Affiliation]?
    }
    public struct Title: Sendable, Equatable, Codable { public var title: String }
    public struct Publisher: Sendable, Equatable, Codable {
        public var name: String
        public var publisherIdentifier: String?
        public var publisherIdentifierScheme: String?
        public var schemeUri: String?
    }
    public struct Types: Sendable, Equatable, Codable {
        public var resourceTypeGeneral: String
        public var resourceType: String?
    }
    public struct Subject: Sendable, Equatable, Codable { public var subject: String }
    public struct DateEntry: Sendable, Equatable, Codable { public var date: String; public var dateType: String }
    public struct Rights: Sendable, Equatable, Codable {
        public var rights: String
        public var rightsUri: String
        public var rightsIdentifier: String
        public var rightsIdentifierScheme: String
        public var schemeUri: String
    }
    public struct Description: Sendable, Equatable, Codable { public var description: String; public var descriptionType: String }
    public struct RelatedIdentifier: Sendable, Equatable, Codable {
        public var relatedIdentifier: String
        public var relatedIdentifierType: String
        public var relationType: String
    }
    public struct FundingReference: Sendable, Equatable, Codable {
        public var funderName: String
        public var funderIdentifier: String?
        public var funderIdentifierType: String?
        public var awardNumber: String?
    }

    public var doi: String
    public var prefix: String
    public var suffix: String
    /// `publish`, `hide` or `register`; absent for a metadata-only update of a draft.
    public var event: String?
    public var url: String
    public var types: Types
    public var creators: [Creator]
    public var titles: [Title]
    public var publisher: Publisher
    public var publicationYear: String
    public var subjects: [Subject]
    public var dates: [DateEntry]
    public var sizes: [String]
    public var formats: [String]
    public var rightsList: [Rights]
    public var descriptions: [Description]
    public var relatedIdentifiers: [RelatedIdentifier]
    public var fundingReferences: [FundingReference]
    public var schemaVersion: String

    /// Builds the record of a validated request (see `PublicationValidation`).
    public init(doi: DOIName, event: String?, landingPage: String, request: PublicationRequest, facts: CatalogFacts) {
        self.doi = doi.description
        prefix = doi.prefix
        suffix = doi.suffix
        self.event = event
        url = landingPage
        types = Types(resourceTypeGeneral: facts.resourceTypeGeneral, resourceType: "Microscopy images")
        creators = request.creators.map(Self.creator)
        titles = [Title(title: request.title)]
        publisher = Publisher(name: facts.publisher, publisherIdentifier: facts.publisherROR?.url,
                              publisherIdentifierScheme: facts.publisherROR == nil ? nil : "ROR",
                              schemeUri: facts.publisherROR == nil ? nil : "https://ror.org/")
        publicationYear = String(facts.publicationYear)
        subjects = request.keywords.map { Subject(subject: $0) }
        dates = [DateEntry(date: facts.issued, dateType: "Issued")]
        if let collected = facts.collected {
            dates.append(DateEntry(date: collected.first == collected.last ? collected.first : "\(collected.first)/\(collected.last)", dateType: "Collected"))
        }
        sizes = ["\(facts.fileCount) files", "\(facts.totalBytes) bytes"]
        formats = facts.formats
        rightsList = Licenses.find(request.license).map {
            [Rights(rights: $0.name, rightsUri: $0.url, rightsIdentifier: $0.spdx, rightsIdentifierScheme: "SPDX", schemeUri: "https://spdx.org/licenses/")]
        } ?? []
        descriptions = [Description(description: request.description, descriptionType: "Abstract")]
        var technical: [String] = []
        if !facts.instruments.isEmpty { technical.append("Instruments: " + facts.instruments.joined(separator: "; ")) }
        if let method = facts.imagingMethod { technical.append("Imaging method: " + method) }
        if !technical.isEmpty { descriptions.append(Description(description: technical.joined(separator: ". "), descriptionType: "TechnicalInfo")) }
        relatedIdentifiers = request.relatedPublication.flatMap(PublicationValidation.relatedDOI).map {
            [RelatedIdentifier(relatedIdentifier: $0, relatedIdentifierType: "DOI", relationType: "IsSupplementTo")]
        } ?? []
        fundingReferences = request.funding.map { funding in
            let ror = funding.funderROR.flatMap(RORID.init)
            return FundingReference(funderName: funding.funder, funderIdentifier: ror?.url, funderIdentifierType: ror == nil ? nil : "ROR",
                                    awardNumber: funding.award)
        }
        schemaVersion = "http://datacite.org/schema/kernel-4"
    }

    static func creator(_ creator: PublicationRequest.Creator) -> Creator {
        let orcid = creator.orcid.flatMap(ORCID.init)
        // "Family, Given" (or an ORCID) names a person; anything else an organisation.
        let parts = creator.name.split(separator: ",", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
        let personal = parts.count == 2 || orcid != nil
        let affiliation = creator.affiliation.map { name -> Affiliation in
            let ror = creator.ror.flatMap(RORID.init)
            return Affiliation(name: name, affiliationIdentifier: ror?.url, affiliationIdentifierScheme: ror == nil ? nil : "ROR",
                               schemeUri: ror == nil ? nil : "https://ror.org/")
        }
        return Creator(name: creator.name, nameType: personal ? "Personal" : "Organizational",
                       givenName: parts.count == 2 ? parts[1] : nil, familyName: parts.count == 2 ? parts[0] : nil,
                       nameIdentifiers: orcid.map { [Identifier(nameIdentifier: $0.url, nameIdentifierScheme: "ORCID", schemeUri: "https://orcid.org")] },
                       affiliation: affiliation.map { [$0] })
    }

    /// The attributes of a JSON:API document as `document` writes it (the record the catalog keeps).
    public init(document: Data) throws {
        struct Document: Decodable { struct Resource: Decodable { let attributes: DataCiteAttributes }; let data: Resource }
        self = try JSONDecoder().decode(Document.self, from: document).data.attributes
    }

    /// The JSON:API document PUT to `/dois/{doi}`.
    public var document: Data {
        struct Document: Encodable {
            struct Resource: Encodable { let type = "dois"; let id: String; let attributes: DataCiteAttributes }
            let data: Resource
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return try! encoder.encode(Document(data: .init(id: doi, attributes: self)))
    }
}
