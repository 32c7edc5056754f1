import FairwayContracts
public import Foundation
public import Logging
public import PostgresNIO

/// A search of the catalog by annotation, machine tag, ISA names, words and acquisition dates,
/// as `GET /v1/search` and `fairway search` ask it. Every condition is answered from an index
/// (annotations by key and lower-cased value, image words by a GIN index, dates by a b-tree), so
/// the cost follows the matches, not the size of the catalog.
public struct CatalogSearch: Sendable {
    public struct Invalid: Error, Sendable, CustomStringConvertible {
        public let description: String
        init(_ description: String) { self.description = description }
    }

    /// Parameter names with a meaning of their own; any other name is an annotation key.
    public static let reserved: Set<String> = ["tag", "text", "investigation", "study", "assay", "from", "to", "limit", "after"]
    public static let machineTagNamespace = "fairway/machine-tags"
    public static let maxConditions = 16

    public var annotations: [(key: String, value: String)] = []
    public var tags: [(name: String, value: String?)] = []
    public var words: String?
    public var investigation: String?
    public var study: String?
    public var assay: String?
    public var from: Date?
    /// Exclusive.
    public var until: Date?
    /// Objects whose acquisition came through this zone (a watcher token's view); nil for all.
    public var zone: String?
    public var limit = 100
    public var after: UUID?

    public init() {}

    /// Reads query parameters (names and values as sent): `tag=NAME:VALUE` or `tag=NAME`,
    /// `text=words`, `investigation=`, `study=`, `assay=`, `from=`/`to=` (dates, `to` inclusive),
    /// `limit=`, `after=`, and `KEY=VALUE` for annotations at any ISA level.
    public init(parameters: [(name: String, value: String)], zone: String?) throws(Invalid) {
        self.zone = zone
        var conditions = 0
        for (name, value) in parameters {
            guard name.utf8.count <= 256, value.utf8.count <= 1024 else { throw Invalid("parameter \(name.prefix(40)) is too long (names up to 256 bytes, values up to 1024)") }
            guard !(name + value).unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) else {
                throw Invalid("parameter \(name.prefix(40)) contains control characters")
            }
            switch name {
            case "tag":
                let separator = value.firstIndex { $0 == ":" || $0 == "=" }
                let tag = separator.map { String(value[..<$0]) } ?? value
                guard !tag.isEmpty else { throw Invalid("tag must be NAME:VALUE or NAME, e.g. tag=microscope:Zeiss LSM 980") }
                tags.append((tag, separator.map { String(value[value.index(after: $0)...]) }))
                conditions += 1
            case "text":
                guard !value.trimmingCharacters(in: .whitespaces).isEmpty else { throw Invalid("text must not be empty") }
                words = [words, value].compactMap { $0 }.joined(separator: " ")
                conditions += 1
            case "investigation", "study", "assay":
                guard CatalogName.isValid(value) else { throw Invalid("\(name) must be \(CatalogName.rule)") }
                switch name {
                case "investigation": investigation = value
                case "study": study = value
                default: assay = value
                }
            case "from", "to":
                guard let day = Self.date(value) else { throw Invalid("\(name) must be a date (yyyy-MM-dd) or an ISO 8601 time, not '\(value.prefix(40))'") }
                if name == "from" { from = day.start } else { until = day.end }
            case "limit":
                guard let count = Int(value), (1 ... 1000).contains(count) else { throw Invalid("limit must be 1 to 1000") }
                limit = count
            case "after":
                guard let id = UUID(uuidString: value) else { throw Invalid("after must be an object id (the previous page's next)") }
                after = id
            default:
                guard !name.isEmpty else { throw Invalid("an annotation key must not be empty") }
                annotations.append((name, value))
                conditions += 1
            }
        }
        guard conditions <= Self.maxConditions else { throw Invalid("at most \(Self.maxConditions) conditions in one search") }
    }

    /// `yyyy-MM-dd` (the whole day) or an ISO 8601 instant.
    static func date(_ text: String) -> (start: Date, end: Date)? {
        let day = DateFormatter()
        day.locale = Locale(identifier: "en_US_POSIX")
        day.timeZone = TimeZone(identifier: "UTC")
        day.dateFormat = "yyyy-MM-dd"
        if text.count == 10, let start = day.date(from: text) { return (start, start.addingTimeInterval(86_400)) }
        let instant = ISO8601DateFormatter()
        if let time = instant.date(from: text) { return (time, time.addingTimeInterval(0.001)) }
        return nil
    }

    /// One page as JSON: `{"objects": [...], "next": id or null}`.
    public func run(client: PostgresClient, logger: Logger) async throws -> String {
        var binds = PostgresBindings()
        func bind(_ value: some PostgresNonThrowingEncodable) -> String {
            binds.append(value)
            return "$\(binds.count)"
        }
        var conditions: [String] = []
        if let investigation { conditions.append("i.name = \(bind(investigation))") }
        if let study { conditions.append("s.name = \(bind(study))") }
        if let assay { conditions.append("y.name = \(bind(assay))") }
        for (name, value) in tags {
            let namespace = bind(Self.machineTagNamespace), key = bind(name)
            if let value {
                conditions.append("o.id IN (SELECT t.object_id FROM annotations t WHERE t.namespace = \(namespace) AND t.key = \(key) AND lower(t.value) = lower(\(bind(value))))")
            } else {
                conditions.append("o.id IN (SELECT t.object_id FROM annotations t WHERE t.namespace = \(namespace) AND t.key = \(key))")
            }
        }
        for (name, value) in annotations {
            let key = bind(name), wanted = bind(value)
            // On the object itself, or on its assay, study or investigation.
            conditions.append("""
                (o.id IN (SELECT a.object_id FROM annotations a WHERE a.key = \(key) AND lower(a.value) = lower(\(wanted)) AND a.object_id IS NOT NULL)
                 OR o.assay_id IN (SELECT y2.id FROM assays y2 JOIN studies s2 ON s2.id = y2.study_id
                                   JOIN annotations a ON a.assay_id = y2.id OR a.study_id = s2.id OR a.investigation_id = s2.investigation_id
                                   WHERE a.key = \(key) AND lower(a.value) = lower(\(wanted))))
                """)
        }
        if let words { conditions.append("m.search_document @@ plainto_tsquery('simple', \(bind(Self.searchable(words))))") }
        if let from { conditions.append("m.acquired_at >= \(bind(from))") }
        if let until { conditions.append("m.acquired_at < \(bind(until))") }
        if let zone {
            conditions.append("""
                EXISTS (SELECT 1 FROM acquisitions q JOIN resources r ON r.id = q.zone_id
                        WHERE q.id = COALESCE(o.acquisition_id, (SELECT p.acquisition_id FROM objects p WHERE p.id = o.parent_id))
                          AND r.name = \(bind(zone)))
                """)
        }
        if let after { conditions.append("o.id > \(bind(after))") }
        let pageSize = bind(limit + 1)
        let sql = """
            WITH page AS (
                SELECT o.id, o.logical_path, o.format, o.state, o.parent_id, o.size_bytes, o.checksum,
                       i.name AS investigation, s.name AS study, y.name AS assay,
                       COALESCE(m.acquired_at, o.acquired_at) AS acquired_at,
                       row_number() OVER (ORDER BY o.id) AS n
                FROM objects o
                JOIN assays y ON y.id = o.assay_id JOIN studies s ON s.id = y.study_id JOIN investigations i ON i.id = s.investigation_id
                LEFT JOIN image_metadata m ON m.object_id = o.id
                WHERE \(conditions.isEmpty ? "TRUE" : conditions.joined(separator: "\n  AND "))
                ORDER BY o.id
                LIMIT \(pageSize)
            )
            SELECT json_build_object(
                'objects', COALESCE((SELECT json_agg(json_build_object(
                    'id', p.id, 'path', p.logical_path, 'format', p.format, 'state', p.state, 'parent', p.parent_id,
                    'size', p.size_bytes, 'sha2', p.checksum,
                    'investigation', p.investigation, 'study', p.study, 'assay', p.assay, 'acquiredAt', p.acquired_at,
                    'machineTags', COALESCE((SELECT json_object_agg(t.key, t.value ORDER BY t.key) FROM annotations t
                                             WHERE t.object_id = p.id AND t.namespace = '\(Self.machineTagNamespace)'), '{}'::json)
                    ) ORDER BY p.id) FROM page p WHERE p.n < \(pageSize)), '[]'::json),
                'next', (SELECT p.id FROM page p WHERE p.n = \(pageSize) - 1 AND EXISTS (SELECT 1 FROM page q WHERE q.n = \(pageSize)))
            )::text
            """
        for try await text in try await client.query(PostgresQuery(unsafeSQL: sql, binds: binds), logger: logger).decode(String.self) {
            return text
        }
        return #"{"objects":[],"next":null}"#
    }

    /// The same word splitting as the indexed documents: letters and digits only.
    public static func searchable(_ text: String) -> String {
        String(String.UnicodeScalarView(text.unicodeScalars.map { $0.properties.isAlphabetic || $0.properties.numericType != nil ? $0 : " " }))
    }
}
