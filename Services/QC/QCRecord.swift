import FairwayCatalog
import FairwayQuality
import Foundation

/// How a scoring is kept: one `qc_results` row per object and method version (the whole report),
/// one `qc_scores` row per metric, channel and Z plane, and `qc` machine tags on the object so
/// the catalog can be searched by them (`tag=qc:saturated`).
enum QCRecord {
    static let tagNamespace = "fairway/machine-tags"
    static let tagKey = "qc"

    /// The metrics of a report as (metric, channel, plane, value) rows; metrics that do not apply
    /// have no row.
    static func rows(_ report: QualityReport) -> [(metric: String, channel: Int, plane: Int?, value: Double)] {
        var rows: [(String, Int, Int?, Double)] = []
        for c in report.channels {
            let metrics: [(String, Double?)] = [
                ("saturationFraction", c.saturationFraction), ("zeroFraction", c.zeroFraction), ("snr", c.snr),
                ("gain", c.gain), ("offset", c.offset), ("brightLevel", c.brightLevel), ("background", c.background),
                ("noiseSigma", c.noiseSigma), ("signalToBackground", c.signalToBackground), ("dynamicRangeUsage", c.dynamicRangeUsage),
                ("focus", c.focus), ("focusToNoise", c.focusToNoise), ("bestFocusPlane", c.bestFocusPlane.map(Double.init)),
                ("uniformity", c.uniformity),
            ]
            for case let (metric, value?) in metrics where value.isFinite { rows.append((metric, c.index, nil, value)) }
            if report.sizeZ > 1 {
                for (z, value) in c.focusByPlane.enumerated() { if let value, value.isFinite { rows.append(("focus", c.index, z, value)) } }
            }
        }
        return rows
    }

    /// Records a scoring (replacing one of the same method version; other versions stay), tags
    /// the object and marks it (and the registered file it was derived from) scored.
    static func store(_ report: QualityReport, object id: UUID, in transaction: CatalogTransaction) async throws {
        let encoder = JSONEncoder()
        encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "Infinity", negativeInfinity: "-Infinity", nan: "NaN")
        let json = String(decoding: try encoder.encode(report), as: UTF8.self)
        let version = report.methodVersion
        try await transaction.query("""
            INSERT INTO qc_results (object_id, method_version, status, verdict, reasons, report)
            VALUES (\(id), \(version), 'scored', \(report.verdict.rawValue), \(report.reasons), \(json)::jsonb)
            ON CONFLICT (object_id, method_version) DO UPDATE SET status = 'scored', verdict = EXCLUDED.verdict,
                reasons = EXCLUDED.reasons, error = NULL, report = EXCLUDED.report, scored_at = now()
            """)
        try await transaction.query("DELETE FROM qc_scores WHERE object_id = \(id) AND method_version = \(version)")
        let rows = rows(report)
        let metrics = rows.map(\.metric), channels = rows.map(\.channel), planes = rows.map { $0.plane.map(String.init) ?? "" }, values = rows.map(\.value)
        try await transaction.query("""
            INSERT INTO qc_scores (object_id, method_version, metric, channel, plane, value)
            SELECT \(id), \(version), m, c, NULLIF(p, '')::integer, v
            FROM unnest(\(metrics)::text[], \(channels)::integer[], \(planes)::text[], \(values)::float8[]) AS r(m, c, p, v)
            """)
        let tags = [report.verdict.rawValue] + report.tags.map { $0.hasPrefix("qc:") ? String($0.dropFirst(3)) : $0 }
        try await replaceTags(of: id, with: tags, in: transaction)
        try await transaction.query("UPDATE objects SET state = 'scored', updated_at = now() WHERE id = \(id)")
        // The registered file whose derived image this is has gone as far as its image.
        try await transaction.query("""
            UPDATE objects SET state = 'scored', updated_at = now()
            WHERE id = (SELECT parent_id FROM objects WHERE id = \(id)) AND state = 'described'
            """)
    }

    /// Records why an image could not be scored; the object is failed with the reason.
    static func failure(_ reason: String, object id: UUID, in transaction: CatalogTransaction) async throws {
        let text = String(reason.prefix(2000))
        try await transaction.query("""
            INSERT INTO qc_results (object_id, method_version, status, error) VALUES (\(id), \(ImageQuality.methodVersion), 'failed', \(text))
            ON CONFLICT (object_id, method_version) DO UPDATE SET status = 'failed', verdict = NULL, reasons = '{}',
                error = EXCLUDED.error, report = '{}', scored_at = now()
            """)
        try await transaction.query("DELETE FROM qc_scores WHERE object_id = \(id) AND method_version = \(ImageQuality.methodVersion)")
        try await replaceTags(of: id, with: [], in: transaction)
        try await transaction.query("UPDATE objects SET state = 'failed', failure_reason = 'qc: ' || \(text), updated_at = now() WHERE id = \(id)")
    }

    private static func replaceTags(of id: UUID, with values: [String], in transaction: CatalogTransaction) async throws {
        try await transaction.query("DELETE FROM annotations WHERE object_id = \(id) AND namespace = \(tagNamespace) AND key = \(tagKey)")
        guard !values.isEmpty else { return }
        try await transaction.query("""
            INSERT INTO annotations (object_id, kind, namespace, key, value, created_by)
            SELECT \(id), 'map', \(tagNamespace), \(tagKey), v, 'fairway-qc' FROM unnest(\(values)::text[]) AS t(v)
            ON CONFLICT DO NOTHING
            """)
    }
}
