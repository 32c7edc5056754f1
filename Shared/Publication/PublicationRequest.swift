public import Foundation

/// What the person who publishes a study says about it (`fairway publish --metadata`,
/// `POST /v1/publications`); everything else comes from the catalog.
public struct PublicationRequest: Sendable, Equatable, Codable {
    public struct Creator: Sendable, Equatable, Codable {
        /// "Family, Given" for a person, or an organisation's name.
        public var name: String
        public var orcid: String?
        public var affiliation: String?
        public var ror: String?

        public init(name: String, orcid: String? = nil, affiliation: String? = nil, ror: String? = nil) {
            self.name = name; self.orcid = orcid; self.affiliation = affiliation; self.ror = ror
        }
    }

    public struct Funding: Sendable, Equatable, Codable {
        public var funder: String
        public var award: String?
        public var funderROR: String?

        public init(funder: String, award: String? = nil, funderROR: String? = nil) {
            self.funder = funder; self.award = award; self.funderROR = funderROR
        }
    }

    public var title: String
    public var description: String
    public var creators: [Creator]
    public var license: String
    public var keywords: [String]
    public var relatedPublication: String?
    public var funding: [Funding]

    public init(title: String, description: String, creators: [Creator], license: String, keywords: [String] = [],
                relatedPublication: String? = nil, funding: [Funding] = []) {
        self.title = title; self.description = description; self.creators = creators; self.license = license
        self.keywords = keywords; self.relatedPublication = relatedPublication; self.funding = funding
    }

    enum CodingKeys: String, CodingKey { case title, description, creators, license, keywords, relatedPublication, funding }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        title = try container.decode(String.self, forKey: .title)
        description = try container.decode(String.self, forKey: .description)
        creators = try container.decode([Creator].self, forKey: .creators)
        license = try container.decode(String.self, forKey: .license)
        keywords = try container.decodeIfPresent([String].self, forKey: .keywords) ?? []
        relatedPublication = try container.decodeIfPresent(String.self, forKey: .relatedPublication)
        funding = try container.decodeIfPresent([Funding].self, forKey: .funding) ?? []
    }

    /// Largest publication file read.
    public static let maxBytes = 256 << 10

    /// Reads the JSON form, refusing unknown keys (a misspelt `licence` must not vanish) with the
    /// path of the offending field.
    public static func parse(json data: Data) throws(PublicationError) -> PublicationRequest {
        guard data.count <= maxBytes else { throw PublicationError([.init(field: "", message: "the file is over \(maxBytes) bytes")]) }
        guard let object = try? JSONSerialization.jsonObject(with: data), let top = object as? [String: Any] else {
            throw PublicationError([.init(field: "", message: "not a JSON object")])
        }
        var unknown: [FieldProblem] = []
        let allowed: Set<String> = ["title", "description", "creators", "license", "keywords", "relatedPublication", "funding"]
        for key in top.keys.sorted() where !allowed.contains(key) { unknown.append(.init(field: key, message: "not a publication field")) }
        for (index, creator) in (top["creators"] as? [Any] ?? []).enumerated() {
            for key in (creator as? [String: Any])?.keys.sorted() ?? [] where !["name", "orcid", "affiliation", "ror"].contains(key) {
                unknown.append(.init(field: "creators[\(index)].\(key)", message: "not a creator field"))
            }
        }
        for (index, funding) in (top["funding"] as? [Any] ?? []).enumerated() {
            for key in (funding as? [String: Any])?.keys.sorted() ?? [] where !["funder", "award", "funderROR"].contains(key) {
                unknown.append(.init(field: "funding[\(index)].\(key)", message: "not a funding field"))
            }
        }
        guard unknown.isEmpty else { throw PublicationError(unknown) }
        do {
            return try JSONDecoder().decode(PublicationRequest.self, from: data)
        } catch let DecodingError.keyNotFound(key, context) {
            throw PublicationError([.init(field: path(context.codingPath + [key]), message: "missing")])
        } catch let DecodingError.typeMismatch(_, context) {
            throw PublicationError([.init(field: path(context.codingPath), message: "has the wrong type")])
        } catch let DecodingError.valueNotFound(_, context) {
            throw PublicationError([.init(field: path(context.codingPath), message: "is null")])
        } catch {
            throw PublicationError([.init(field: "", message: "cannot be read: \(error)")])
        }
    }

    private static func path(_ keys: [any CodingKey]) -> String {
        keys.reduce("") { path, key in
            if let index = key.intValue { return path + "[\(index)]" }
            return path.isEmpty ? key.stringValue : path + "." + key.stringValue
        }
    }
}

/// One problem with one field, named by its path (`creators[0].orcid`).
public struct FieldProblem: Sendable, Equatable, Codable, CustomStringConvertible {
    public let field: String
    public let message: String

    public init(field: String, message: String) { self.field = field; self.message = message }

    public var description: String { field.isEmpty ? message : "\(field): \(message)" }
}

/// Every problem found, reported together so the user fixes them in one go.
public struct PublicationError: Error, Sendable, Equatable, CustomStringConvertible {
    public let problems: [FieldProblem]
    public init(_ problems: [FieldProblem]) { self.problems = problems }
    public var description: String { problems.map(\.description).joined(separator: "\n") }
}
