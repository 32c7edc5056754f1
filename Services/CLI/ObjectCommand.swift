import ArgumentParser
import Foundation
import PostgresNIO

/// `fairway object show ID`: one object's whole chain, from its acquisition to its publication.
struct ObjectCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "object",
        abstract: "Show an object's whole chain: acquisition, replicas, derived files, metadata, QC, annotations, retention, publication.",
        subcommands: [Show.self]
    )

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show one object (by id) with everything the catalog knows about it.",
            discussion: "Exit codes: 0 shown, 1 no such object, 64 usage."
        )
        @Argument(help: "Object id (a UUID, as GET /v1/objects gives it).") var id: String
        @Flag(help: "Print JSON.") var json = false
        @OptionGroup var catalog: CatalogOptions

        func validate() throws {
            guard UUID(uuidString: id) != nil else { throw ValidationError("\(id.prefix(64)) is not an object id (a UUID)") }
        }

        func run() async throws {
            let id = UUID(uuidString: id)!
            // One query builds the document: each part of the chain is a sub-select, so an object
            // missing a stage simply has that part empty.
            let document = try await catalog.withCatalog { client, logger in
                var text: String?
                for try await value in try await client.query("""
                    SELECT jsonb_build_object(
                        'id', o.id, 'path', o.logical_path, 'state', o.state, 'failureReason', o.failure_reason,
                        'format', o.format, 'size', o.size_bytes, 'checksum', o.checksum, 'owner', o.owner,
                        'version', o.version, 'acquiredAt', o.acquired_at, 'lastAccessedAt', o.last_accessed_at,
                        'registeredAt', o.created_at, 'deletedAt', o.deleted_at, 'deletionReason', o.deletion_reason,
                        'investigation', i.name, 'study', s.name, 'assay', a.name, 'parent', o.parent_id,
                        'acquisition', (SELECT jsonb_build_object('id', q.id, 'zone', z.name, 'path', q.path, 'state', q.state,
                                                                  'instrument', q.instrument, 'postedAt', q.created_at)
                                        FROM acquisitions q JOIN resources z ON z.id = q.zone_id WHERE q.id = o.acquisition_id),
                        'replicas', (SELECT coalesce(jsonb_agg(jsonb_build_object('resource', r.name, 'role', r.role, 'path', p.physical_path,
                                                                                  'status', p.status, 'checksum', p.checksum,
                                                                                  'verifiedAt', p.last_verified_at) ORDER BY r.role, r.name), '[]')
                                     FROM replicas p JOIN resources r ON r.id = p.resource_id WHERE p.object_id = o.id),
                        'derived', (SELECT coalesce(jsonb_agg(jsonb_build_object('id', d.id, 'path', d.logical_path, 'format', d.format,
                                                                                 'size', d.size_bytes, 'checksum', d.checksum, 'state', d.state)
                                                              ORDER BY d.logical_path), '[]')
                                    FROM objects d WHERE d.parent_id = o.id),
                        'metadata', (SELECT jsonb_strip_nulls(jsonb_build_object('status', m.status, 'error', m.error, 'origin', m.origin,
                                                                'sizeX', m.size_x, 'sizeY', m.size_y, 'sizeZ', m.size_z, 'sizeC', m.size_c,
                                                                'sizeT', m.size_t, 'pixelType', m.pixel_type, 'microscope', m.microscope,
                                                                'objective', m.objective, 'acquisitionDate', m.acquisition_date,
                                                                'missingFields', m.missing_fields, 'extractedAt', m.extracted_at))
                                     FROM image_metadata m WHERE m.object_id = coalesce(
                                        (SELECT d.id FROM objects d JOIN image_metadata dm ON dm.object_id = d.id WHERE d.parent_id = o.id LIMIT 1), o.id)),
                        'qc', (SELECT jsonb_agg(jsonb_build_object('methodVersion', r.method_version, 'status', r.status, 'verdict', r.verdict,
                                                                   'reasons', r.reasons, 'error', r.error, 'scoredAt', r.scored_at,
                                                                   'scores', (SELECT jsonb_object_agg(sc.metric || '[c' || sc.channel || ']', round(sc.value::numeric, 4))
                                                                              FROM qc_scores sc WHERE sc.object_id = r.object_id
                                                                              AND sc.method_version = r.method_version AND sc.plane IS NULL))
                                               ORDER BY r.method_version DESC)
                               FROM qc_results r WHERE r.object_id IN (o.id, (SELECT d.id FROM objects d WHERE d.parent_id = o.id LIMIT 1))),
                        'annotations', (SELECT coalesce(jsonb_agg(jsonb_build_object('namespace', n.namespace, 'key', n.key, 'value', n.value)
                                                                  ORDER BY n.namespace, n.key), '[]')
                                        FROM annotations n WHERE n.object_id = o.id),
                        'retention', jsonb_build_object(
                            'holds', (SELECT coalesce(jsonb_agg(jsonb_build_object('source', h.source, 'reason', h.reason, 'since', h.created_at)), '[]')
                                      FROM retention_holds h WHERE h.released_at IS NULL AND (h.object_id = o.id OR h.study_id = s.id)),
                            'actions', (SELECT coalesce(jsonb_agg(jsonb_build_object('id', x.id, 'kind', x.kind, 'state', x.state, 'reason', x.reason,
                                                                                     'notBefore', x.not_before, 'finishedAt', x.finished_at,
                                                                                     'error', x.error) ORDER BY x.scheduled_at DESC), '[]')
                                        FROM (SELECT * FROM retention_actions WHERE object_id = o.id ORDER BY scheduled_at DESC LIMIT 20) x)),
                        'publication', (SELECT jsonb_build_object('doi', p.doi, 'state', p.state, 'landingPage', p.landing_url,
                                                                  'withdrawn', p.withdrawal_reason)
                                        FROM publications p WHERE p.study_id = s.id)
                    )::text
                    FROM objects o JOIN assays a ON a.id = o.assay_id JOIN studies s ON s.id = a.study_id
                    JOIN investigations i ON i.id = s.investigation_id
                    WHERE o.id = \(id)
                    """, logger: logger).decode(String.self) { text = value }
                return text
            }
            guard let document, let object = try JSONSerialization.jsonObject(with: Data(document.utf8)) as? [String: Any] else {
                throw CommandFailure("no object \(id.uuidString.lowercased())")
            }
            if json {
                let data = try JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
                print(String(decoding: data, as: UTF8.self))
            } else {
                Self.render(object)
            }
        }

        /// The document as indented lines: scalars as `key: value`, lists one entry per line.
        static func render(_ object: [String: Any]) {
            let order = ["id", "path", "state", "failureReason", "investigation", "study", "assay", "owner", "format", "size", "checksum",
                         "version", "acquiredAt", "registeredAt", "lastAccessedAt", "deletedAt", "deletionReason", "parent", "acquisition",
                         "replicas", "derived", "metadata", "qc", "annotations", "retention", "publication"]
            for key in order {
                guard let value = object[key], !(value is NSNull) else { continue }
                print(line(key, value, indent: ""), terminator: "")
            }
        }

        static func line(_ key: String, _ value: Any, indent: String) -> String {
            switch value {
            case let dictionary as [String: Any]:
                let body = dictionary.keys.sorted().compactMap { inner -> String? in
                    guard let value = dictionary[inner], !(value is NSNull) else { return nil }
                    return line(inner, value, indent: indent + "  ")
                }.joined()
                return "\(indent)\(key):\n" + body
            case let list as [Any]:
                if list.isEmpty { return "\(indent)\(key): none\n" }
                if list.allSatisfy({ !($0 is [String: Any]) && !($0 is [Any]) }) {
                    return "\(indent)\(key): \(list.map { "\($0)" }.joined(separator: ", "))\n"
                }
                return "\(indent)\(key):\n" + list.map { item -> String in
                    guard let entry = item as? [String: Any] else { return "\(indent)  - \(item)\n" }
                    let fields = entry.keys.sorted().compactMap { inner -> String? in
                        guard let value = entry[inner], !(value is NSNull) else { return nil }
                        if let nested = value as? [String: Any] {
                            return "\(inner)={" + nested.keys.sorted().map { "\($0)=\(nested[$0]!)" }.joined(separator: ", ") + "}"
                        }
                        return "\(inner)=\(value)"
                    }
                    return "\(indent)  - " + fields.joined(separator: "  ") + "\n"
                }.joined()
            default:
                return "\(indent)\(key): \(value)\n"
            }
        }
    }
}
