import FairwayQuality
import FairwayCatalog
import Foundation
import PostgresNIO

/// What the catalog knows about an image to score: where its pixels are, its bit depth and
/// microscope from the metadata step, whether users marked it a flat field, and the operator's
/// settings for its instrument and investigation.
struct ImageToScore: Decodable, Sendable {
    let id: UUID
    let state: String
    let version: Int
    let logicalPath: String
    let investigation: String
    let physicalPath: String?
    let significantBits: Int?
    let microscope: String?
    let flatField: Bool
    let instrument: InstrumentSettings?
    let investigationSettings: InvestigationSettings?

    struct InvestigationSettings: Decodable, Sendable {
        let significantBits: Int?
        let thresholds: [String: Double]
    }

    struct InstrumentSettings: Decodable, Sendable {
        let name: String
        let gain: Double?
        let offset: Double?
        let significantBits: Int?
        let thresholds: [String: Double]
    }

    /// The file's own name (an OME-XML may name the file holding its planes).
    var fileName: String { String(logicalPath.split(separator: "/").last ?? Substring(logicalPath)) }

    /// Scoring options: the instrument's detector settings (the investigation's bit depth over
    /// its own), thresholds from the defaults, then the instrument's, then the investigation's.
    func options() throws -> QualityOptions {
        var options = QualityOptions()
        options.metadataSignificantBits = significantBits
        options.flatField = flatField
        var thresholds = QualityThresholds()
        if let instrument {
            options.significantBits = instrument.significantBits
            options.gain = instrument.gain
            options.offset = instrument.offset
            options.calibrationSource = "instrument \(instrument.name)"
            try thresholds.apply(instrument.thresholds.sorted { $0.key < $1.key }.map { ($0.key, "\($0.value)") })
        }
        if let investigationSettings {
            options.significantBits = investigationSettings.significantBits ?? options.significantBits
            try thresholds.apply(investigationSettings.thresholds.sorted { $0.key < $1.key }.map { ($0.key, "\($0.value)") })
        }
        options.thresholds = thresholds
        return options
    }

    /// Prepared once per connection.
    struct Load: ObjectLookup {
        let id: UUID
        static var sql: String { """
            SELECT json_build_object(
                'id', o.id, 'state', o.state, 'version', o.version, 'logicalPath', o.logical_path, 'investigation', i.name,
                'physicalPath', \(readablePath(of: "o.id")),
                'significantBits', m.significant_bits, 'microscope', m.microscope,
                'flatField', EXISTS (SELECT 1 FROM annotations a
                                     WHERE a.key = 'calibration' AND lower(a.value) IN ('flat-field', 'flatfield', 'flat field')
                                       AND (a.object_id = o.id OR a.object_id = o.parent_id OR a.assay_id = o.assay_id
                                            OR a.study_id = y.study_id OR a.investigation_id = s.investigation_id)),
                'instrument', (SELECT json_build_object('name', q.name, 'gain', q.gain, 'offset', q.offset_adu,
                                                        'significantBits', q.significant_bits, 'thresholds', q.thresholds)
                               FROM qc_settings q WHERE q.scope = 'instrument' AND q.name = m.microscope),
                'investigationSettings', (SELECT json_build_object('significantBits', q.significant_bits, 'thresholds', q.thresholds)
                                          FROM qc_settings q WHERE q.scope = 'investigation' AND q.name = i.name))::text
            FROM objects o
            JOIN assays y ON y.id = o.assay_id JOIN studies s ON s.id = y.study_id JOIN investigations i ON i.id = s.investigation_id
            LEFT JOIN image_metadata m ON m.object_id = o.id AND m.status = 'extracted'
            WHERE o.id = $1
            """ }
    }
}
