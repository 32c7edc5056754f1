public import FairwayPublication
public import FairwayXML

/// The metadata formats a published dataset is disseminated in over OAI-PMH, built from the same
/// DataCite record the DOI was registered with, so a harvester and DataCite see the same facts.
public enum RecordFormat: String, Sendable, CaseIterable {
    case dublinCore = "oai_dc"
    case dataCite = "oai_datacite"

    public var schema: String {
        switch self {
        case .dublinCore: "http://www.openarchives.org/OAI/2.0/oai_dc.xsd"
        case .dataCite: "http://schema.datacite.org/oai/oai-1.1/oai.xsd"
        }
    }

    public var namespace: String {
        switch self {
        case .dublinCore: "http://www.openarchives.org/OAI/2.0/oai_dc/"
        case .dataCite: "http://schema.datacite.org/oai/oai-1.1/"
        }
    }

    static let xsi = "http://www.w3.org/2001/XMLSchema-instance"

    /// The `<metadata>` content for one record.
    public func metadata(_ record: DataCiteAttributes, dataCentre: String?) -> XMLNode {
        switch self {
        case .dublinCore: Self.dublinCore(record)
        case .dataCite:
            // DataCite's own OAI provider wraps the kernel-4 resource this way.
            XMLNode("oai_datacite", [("xmlns", namespace), ("xmlns:xsi", Self.xsi), ("xsi:schemaLocation", "\(namespace) \(schema)")], children: [
                XMLNode("schemaVersion", text: "4.5"),
                dataCentre.map { XMLNode("datacentreSymbol", text: $0) },
                XMLNode("payload", children: [Self.kernel4(record)]),
            ].compactMap { $0 })
        }
    }

    /// Simple Dublin Core, the mapping DataCite documents for its own records (creators → creator,
    /// DOI → identifier as a URL, licence → rights, …).
    static func dublinCore(_ record: DataCiteAttributes) -> XMLNode {
        var fields: [XMLNode] = []
        func dc(_ name: String, _ value: String) { if !value.isEmpty { fields.append(XMLNode("dc:" + name, text: value)) } }
        record.titles.forEach { dc("title", $0.title) }
        record.creators.forEach { dc("creator", $0.name) }
        record.subjects.forEach { dc("subject", $0.subject) }
        record.descriptions.forEach { dc("description", $0.description) }
        dc("publisher", record.publisher.name)
        dc("date", record.dates.first { $0.dateType == "Issued" }?.date ?? record.publicationYear)
        dc("type", record.types.resourceTypeGeneral)
        record.formats.forEach { dc("format", $0) }
        dc("identifier", "https://doi.org/" + record.doi)
        dc("identifier", record.url)
        record.relatedIdentifiers.forEach { dc("relation", ($0.relatedIdentifierType == "DOI" ? "https://doi.org/" : "") + $0.relatedIdentifier) }
        record.rightsList.forEach { dc("rights", $0.rightsUri); dc("rights", $0.rights) }
        let namespace = RecordFormat.dublinCore.namespace
        return XMLNode("oai_dc:dc", [("xmlns:oai_dc", namespace), ("xmlns:dc", "http://purl.org/dc/elements/1.1/"), ("xmlns:xsi", xsi),
                                      ("xsi:schemaLocation", "\(namespace) \(RecordFormat.dublinCore.schema)")], children: fields)
    }

    /// The DataCite Metadata Schema 4.5 resource (kernel-4 XML) of a record.
    public static func kernel4(_ record: DataCiteAttributes) -> XMLNode {
        let kernel = "http://datacite.org/schema/kernel-4"
        func list<T>(_ name: String, _ items: [T], _ item: (T) -> XMLNode) -> XMLNode? {
            items.isEmpty ? nil : XMLNode(name, children: items.map(item))
        }
        let creators = list("creators", record.creators) { creator in
            XMLNode("creator", children: [
                XMLNode("creatorName", [("nameType", creator.nameType)], text: creator.name),
                creator.givenName.map { XMLNode("givenName", text: $0) },
                creator.familyName.map { XMLNode("familyName", text: $0) },
            ].compactMap { $0 } + (creator.nameIdentifiers ?? []).map {
                XMLNode("nameIdentifier", [("nameIdentifierScheme", $0.nameIdentifierScheme), ("schemeURI", $0.schemeUri)], text: $0.nameIdentifier)
            } + (creator.affiliation ?? []).map {
                XMLNode("affiliation", [("affiliationIdentifier", $0.affiliationIdentifier), ("affiliationIdentifierScheme", $0.affiliationIdentifierScheme),
                                        ("schemeURI", $0.schemeUri)], text: $0.name)
            })
        }
        let parts: [XMLNode?] = [
            XMLNode("identifier", [("identifierType", "DOI")], text: record.doi),
            creators,
            list("titles", record.titles) { XMLNode("title", text: $0.title) },
            XMLNode("publisher", [("publisherIdentifier", record.publisher.publisherIdentifier),
                                  ("publisherIdentifierScheme", record.publisher.publisherIdentifierScheme),
                                  ("schemeURI", record.publisher.schemeUri)], text: record.publisher.name),
            XMLNode("publicationYear", text: record.publicationYear),
            XMLNode("resourceType", [("resourceTypeGeneral", record.types.resourceTypeGeneral)], text: record.types.resourceType ?? ""),
            list("subjects", record.subjects) { XMLNode("subject", text: $0.subject) },
            list("dates", record.dates) { XMLNode("date", [("dateType", $0.dateType)], text: $0.date) },
            list("relatedIdentifiers", record.relatedIdentifiers) {
                XMLNode("relatedIdentifier", [("relatedIdentifierType", $0.relatedIdentifierType), ("relationType", $0.relationType)], text: $0.relatedIdentifier)
            },
            list("sizes", record.sizes) { XMLNode("size", text: $0) },
            list("formats", record.formats) { XMLNode("format", text: $0) },
            list("rightsList", record.rightsList) {
                XMLNode("rights", [("rightsURI", $0.rightsUri), ("rightsIdentifier", $0.rightsIdentifier),
                                   ("rightsIdentifierScheme", $0.rightsIdentifierScheme), ("schemeURI", $0.schemeUri)], text: $0.rights)
            },
            list("descriptions", record.descriptions) { XMLNode("description", [("descriptionType", $0.descriptionType)], text: $0.description) },
            list("fundingReferences", record.fundingReferences) { funding in
                XMLNode("fundingReference", children: [
                    XMLNode("funderName", text: funding.funderName),
                    funding.funderIdentifier.map { XMLNode("funderIdentifier", [("funderIdentifierType", funding.funderIdentifierType)], text: $0) },
                    funding.awardNumber.map { XMLNode("awardNumber", text: $0) },
                ].compactMap { $0 })
            },
        ]
        return XMLNode("resource", [("xmlns", kernel), ("xmlns:xsi", xsi),
                                    ("xsi:schemaLocation", "\(kernel) http://schema.datacite.org/meta/kernel-4.5/metadata.xsd")],
                       children: parts.compactMap { $0 })
    }
}
