public import Foundation

/// An OAI-PMH error: one of the protocol's codes and a message for the harvester's operator.
public struct OAIError: Error, Sendable, Equatable {
    public enum Code: String, Sendable {
        case badArgument, badResumptionToken, badVerb, cannotDisseminateFormat, idDoesNotExist, noRecordsMatch, noMetadataFormats, noSetHierarchy
    }
    public let code: Code
    public let message: String
    public init(_ code: Code, _ message: String) { self.code = code; self.message = message }
}

/// One OAI-PMH 2.0 request, checked against the protocol's rules for its verb: required, optional
/// and exclusive arguments, each at most once, dates in one granularity, `from` ≤ `until`.
public struct OAIRequest: Sendable, Equatable {
    public enum Verb: String, Sendable, CaseIterable {
        case identify = "Identify", listMetadataFormats = "ListMetadataFormats", listSets = "ListSets"
        case listIdentifiers = "ListIdentifiers", listRecords = "ListRecords", getRecord = "GetRecord"

        var required: Set<String> {
            switch self {
            case .getRecord: ["identifier", "metadataPrefix"]
            case .listIdentifiers, .listRecords: ["metadataPrefix"]
            default: []
            }
        }
        var optional: Set<String> {
            switch self {
            case .listMetadataFormats: ["identifier"]
            case .listIdentifiers, .listRecords: ["from", "until", "set"]
            default: []
            }
        }
        var resumable: Bool { self == .listSets || self == .listIdentifiers || self == .listRecords }
    }

    public let verb: Verb
    /// The arguments as given (for the `<request>` echo), verb excluded.
    public let arguments: [String: String]

    /// Longest query or form body read; a harvester's request is a few hundred bytes.
    public static let maxBytes = 8192

    /// Parses `verb=ListRecords&metadataPrefix=oai_dc…` (a query string or a form body).
    public static func parse(_ query: String) -> Result<OAIRequest, OAIError> {
        guard query.utf8.count <= maxBytes else { return .failure(.init(.badArgument, "the request is longer than \(maxBytes) bytes")) }
        var pairs: [(String, String)] = []
        for part in query.split(separator: "&", omittingEmptySubsequences: true) {
            let pieces = part.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard let name = decode(pieces[0]), let value = decode(pieces.count > 1 ? pieces[1] : "") else {
                return .failure(.init(.badArgument, "the request is not valid percent-encoding"))
            }
            pairs.append((name, value))
        }
        let verbs = pairs.filter { $0.0 == "verb" }
        guard verbs.count == 1 else {
            return .failure(.init(.badVerb, verbs.isEmpty ? "the verb argument is missing" : "the verb argument is repeated"))
        }
        guard let verb = Verb(rawValue: verbs[0].1) else {
            return .failure(.init(.badVerb, "\(clip(verbs[0].1)) is not an OAI-PMH verb"))
        }
        var arguments: [String: String] = [:]
        for (name, value) in pairs where name != "verb" {
            guard arguments[name] == nil else { return .failure(.init(.badArgument, "\(clip(name)) is repeated")) }
            arguments[name] = value
        }
        let names = Set(arguments.keys)
        if let token = arguments["resumptionToken"] {
            guard verb.resumable else { return .failure(.init(.badArgument, "\(verb.rawValue) takes no resumptionToken")) }
            guard names == ["resumptionToken"] else { return .failure(.init(.badArgument, "resumptionToken is an exclusive argument")) }
            guard !token.isEmpty else { return .failure(.init(.badResumptionToken, "the resumptionToken is empty")) }
            return .success(OAIRequest(verb: verb, arguments: arguments))
        }
        if let unknown = names.subtracting(verb.required).subtracting(verb.optional).sorted().first {
            return .failure(.init(.badArgument, "\(verb.rawValue) does not take \(clip(unknown))"))
        }
        if let missing = verb.required.subtracting(names).sorted().first {
            return .failure(.init(.badArgument, "\(verb.rawValue) needs \(missing)"))
        }
        if let empty = arguments.first(where: { $0.value.isEmpty }) {
            return .failure(.init(.badArgument, "\(empty.key) is empty"))
        }
        let request = OAIRequest(verb: verb, arguments: arguments)
        if verb == .listIdentifiers || verb == .listRecords {
            if case .failure(let error) = request.dateRange() { return .failure(error) }
        }
        return .success(request)
    }

    /// `from` and `until` as an inclusive range of instants, checked.
    public func dateRange() -> Result<(from: Date?, until: Date?), OAIError> {
        var parsed: [String: OAIDate] = [:]
        for name in ["from", "until"] {
            guard let text = arguments[name] else { continue }
            guard let date = OAIDate(text) else {
                return .failure(.init(.badArgument, "\(name) \(Self.clip(text)) is not a date as YYYY-MM-DD or YYYY-MM-DDThh:mm:ssZ"))
            }
            parsed[name] = date
        }
        if let from = parsed["from"], let until = parsed["until"] {
            guard from.hasTime == until.hasTime else { return .failure(.init(.badArgument, "from and until must have the same granularity")) }
            guard from.start <= until.start else { return .failure(.init(.badArgument, "from is later than until")) }
        }
        return .success((parsed["from"]?.start, parsed["until"]?.end))
    }

    static func decode(_ text: Substring) -> String? {
        String(text).replacingOccurrences(of: "+", with: " ").removingPercentEncoding.flatMap { decoded in
            // NUL and other controls have no place in an OAI argument.
            decoded.unicodeScalars.contains { $0.value < 0x20 } ? nil : decoded
        }
    }

    static func clip(_ text: String) -> String {
        text.count > 64 ? String(text.prefix(64)) + "…" : text
    }
}

/// An OAI-PMH UTCdatetime: a day (covering the whole day) or a second.
public struct OAIDate: Sendable, Equatable {
    public let start: Date
    public let hasTime: Bool
    /// The last instant the date covers (inclusive).
    public var end: Date { start.addingTimeInterval(hasTime ? 0.999_999 : 86_400 - 0.000_001) }

    public init?(_ text: String) {
        let bytes = Array(text.utf8)
        guard bytes.count == 10 || bytes.count == 20 else { return nil }
        func number(_ range: Range<Int>) -> Int? {
            guard range.upperBound <= bytes.count, range.allSatisfy({ (48...57).contains(bytes[$0]) }) else { return nil }
            return range.reduce(0) { $0 * 10 + Int(bytes[$1] - 48) }
        }
        guard let year = number(0..<4), bytes[4] == 45, let month = number(5..<7), bytes[7] == 45, let day = number(8..<10),
              (1...12).contains(month), (1...31).contains(day) else { return nil }
        var components = DateComponents(calendar: Calendar(identifier: .gregorian), timeZone: TimeZone(identifier: "UTC"),
                                        year: year, month: month, day: day)
        hasTime = bytes.count == 20
        if hasTime {
            guard bytes[10] == 84, bytes[13] == 58, bytes[16] == 58, bytes[19] == 90,
                  let hour = number(11..<13), let minute = number(14..<16), let second = number(17..<19),
                  hour < 24, minute < 60, second < 60 else { return nil }
            components.hour = hour; components.minute = minute; components.second = second
        }
        // Rejects 2026-02-30 and the like, which DateComponents would roll over.
        guard components.isValidDate, let date = components.date else { return nil }
        start = date
    }

    /// `YYYY-MM-DDThh:mm:ssZ`, the repository's granularity.
    public static func format(_ date: Date) -> String {
        date.formatted(Date.ISO8601FormatStyle(timeZone: TimeZone(identifier: "UTC")!))
    }
}

/// Where a list stopped: the arguments of the first request and the last record sent, so the next
/// page continues from it (by datestamp and DOI) even when records are added meanwhile.
public struct ResumptionToken: Sendable, Equatable, Codable {
    public var prefix: String?
    public var from: Date?
    public var until: Date?
    public var set: String?
    public var afterDatestamp: Date?
    public var afterKey: String
    public var cursor: Int

    enum CodingKeys: String, CodingKey {
        case prefix = "p", from = "f", until = "u", set = "s", afterDatestamp = "d", afterKey = "k", cursor = "c"
    }

    public init(prefix: String?, from: Date?, until: Date?, set: String?, afterDatestamp: Date?, afterKey: String, cursor: Int) {
        self.prefix = prefix; self.from = from; self.until = until; self.set = set
        self.afterDatestamp = afterDatestamp; self.afterKey = afterKey; self.cursor = cursor
    }

    /// Base64url of compact JSON: opaque to harvesters, readable by whoever debugs it.
    public var encoded: String {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .secondsSince1970
        encoder.outputFormatting = .sortedKeys
        return (try! encoder.encode(self)).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
    }

    public init(decoding text: String) throws(OAIError) {
        let invalid = OAIError(.badResumptionToken, "the resumptionToken is not one this repository issued")
        guard text.utf8.count <= 1024, text.utf8.allSatisfy({ $0 == 45 || $0 == 95 || (48...57).contains($0) || (65...90).contains($0) || (97...122).contains($0) })
        else { throw invalid }
        var base64 = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        base64 += String(repeating: "=", count: (4 - base64.count % 4) % 4)
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .secondsSince1970
        guard let data = Data(base64Encoded: base64), let token = try? decoder.decode(Self.self, from: data),
              token.cursor > 0, token.afterDatestamp != nil, token.prefix != nil,
              // A position is the datestamp and DOI of the last record sent.
              token.afterKey.hasPrefix("10."), token.afterKey.utf8.count <= 256, !token.afterKey.contains(where: { $0.isWhitespace || $0 == "'" }),
              (token.set?.utf8.count ?? 0) <= 256 else { throw invalid }
        self = token
    }
}
