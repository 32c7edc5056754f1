import ArgumentParser
import FairwayCatalog
import FairwayQuality
import Foundation
import PostgresNIO

/// `fairway qc settings|show`: the detector settings and thresholds QC judges by, per instrument
/// or investigation, and an object's scores.
struct QCCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "qc",
        abstract: "Set the QC settings of an instrument or investigation; show an object's quality scores.",
        subcommands: [Settings.self, Show.self]
    )

    struct Settings: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Set (or --clear, or --show) the QC settings of an instrument or an investigation.",
            discussion: """
            An instrument is named as the metadata step records its microscope (manufacturer and \
            model, e.g. 'Zeiss LSM 980'); its detector gain (ADU per photon) and offset (ADU) replace \
            the photon-transfer estimate, its bit depth the file's. Thresholds (a YAML, CSV or TSV file \
            of name: value, see `fairway-qc score --help` and the README) apply over the defaults, an \
            investigation's over its instrument's. Images scored afterwards use them.
            """
        )

        @Option(help: "Instrument (microscope) name.") var instrument: String?
        @Option(help: "Investigation name.") var investigation: String?
        @Option(help: "Detector gain in ADU per photon (instrument only, with --offset).") var gain: Double?
        @Option(help: "Detector offset in ADU (instrument only, with --gain).") var offset: Double?
        @Option(help: "Detector bit depth, e.g. 12 for a 12-bit camera stored in 16 bits.") var significantBits: Int?
        @Option(help: "Threshold overrides: a .yaml, .csv or .tsv file of name: value.") var thresholds: String?
        @Flag(help: "Remove the settings.") var clear = false
        @Flag(help: "Print the settings instead of changing them.") var show = false
        @OptionGroup var catalog: CatalogOptions

        func validate() throws {
            guard (instrument == nil) != (investigation == nil) else { throw ValidationError("give --instrument or --investigation") }
            if let name = instrument ?? investigation, name.isEmpty || name.count > 256 { throw ValidationError("the name must have 1 to 256 characters") }
            if (gain == nil) != (offset == nil) { throw ValidationError("give --gain and --offset together") }
            if gain != nil, investigation != nil { throw ValidationError("gain and offset belong to an instrument") }
            if let gain, !(gain > 0 && gain.isFinite) { throw ValidationError("--gain must be a positive number of ADU per photon") }
            if let offset, !offset.isFinite { throw ValidationError("--offset must be a number of ADU") }
            if let significantBits, !(1 ... 32).contains(significantBits) { throw ValidationError("--significant-bits must be between 1 and 32") }
            if (clear || show) && (gain != nil || significantBits != nil || thresholds != nil) { throw ValidationError("--clear and --show take no settings") }
        }

        func run() async throws {
            let scope = instrument != nil ? "instrument" : "investigation", name = instrument ?? investigation ?? ""
            if show {
                let row = try await catalog.withCatalog { client, logger in
                    var found: String?
                    for try await json in try await client.query("""
                        SELECT json_build_object('scope', scope, 'name', name, 'gain', gain, 'offset', offset_adu,
                            'significantBits', significant_bits, 'thresholds', thresholds, 'updatedBy', updated_by, 'updatedAt', updated_at)::text
                        FROM qc_settings WHERE scope = \(scope) AND name = \(name)
                        """, logger: logger).decode(String.self) { found = json }
                    return found
                }
                guard let row else { throw CommandFailure("no QC settings for \(scope) \(name): the defaults apply") }
                print(row)
                return
            }
            if clear {
                let removed = try await catalog.withCatalog { client, logger in
                    var count = 0
                    for try await n in try await client.query("""
                        WITH gone AS (DELETE FROM qc_settings WHERE scope = \(scope) AND name = \(name) RETURNING name),
                        audit AS (INSERT INTO audit_log (actor, action, target_kind, target_id, details)
                                  SELECT 'cli', 'qc.settings.clear', \(scope), name, '{}'::jsonb FROM gone)
                        SELECT count(*)::int FROM gone
                        """, logger: logger).decode(Int.self) { count = n }
                    return count
                }
                print(removed == 1 ? "\(scope) \(name): QC settings removed, the defaults apply" : "\(scope) \(name) had no QC settings")
                return
            }
            var changes: [String: Double] = [:]
            if let thresholds {
                do {
                    let read = try QualitySettingsFile.thresholds(path: thresholds)
                    for (key, value) in read.changes { changes[key] = Double(value) }
                    // A file may also restate a default on purpose: keep every name it sets.
                } catch {
                    throw CommandFailure("\(thresholds): \(error)")
                }
            }
            let thresholdJSON = String(decoding: try JSONSerialization.data(withJSONObject: changes, options: [.sortedKeys]), as: UTF8.self)
            let (gain, offset, bits) = (gain, offset, significantBits)
            if scope == "investigation" {
                let exists = try await catalog.withCatalog { client, logger in
                    var found = false
                    for try await _ in try await client.query("SELECT 1 FROM investigations WHERE name = \(name)", logger: logger).decode(Int.self) { found = true }
                    return found
                }
                guard exists else { throw CommandFailure("no investigation \(name)") }
            }
            try await catalog.withCatalog { client, logger in
                try await client.query("""
                    WITH saved AS (
                        INSERT INTO qc_settings (scope, name, gain, offset_adu, significant_bits, thresholds, updated_by)
                        VALUES (\(scope), \(name), \(gain), \(offset), \(bits), \(thresholdJSON)::jsonb, 'cli')
                        ON CONFLICT (scope, name) DO UPDATE SET gain = EXCLUDED.gain, offset_adu = EXCLUDED.offset_adu,
                            significant_bits = EXCLUDED.significant_bits, thresholds = EXCLUDED.thresholds,
                            updated_by = EXCLUDED.updated_by, updated_at = now()
                        RETURNING scope, name)
                    INSERT INTO audit_log (actor, action, target_kind, target_id, details)
                    SELECT 'cli', 'qc.settings', scope, name, jsonb_build_object('gain', \(gain)::float8, 'offset', \(offset)::float8,
                        'significantBits', \(bits)::int, 'thresholds', \(thresholdJSON)::jsonb) FROM saved
                    """, logger: logger)
            }
            var parts: [String] = []
            if let gain, let offset { parts.append("gain \(gain) ADU/photon, offset \(offset) ADU") }
            if let bits { parts.append("\(bits)-bit detector") }
            if !changes.isEmpty { parts.append(changes.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")) }
            print("\(scope) \(name): " + (parts.isEmpty ? "defaults" : parts.joined(separator: "; ")))
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show an object's QC verdict and scores (every method version scored); for a registered file, its image of record's.",
            discussion: "Exit status 0 shown, 1 no such object or not scored."
        )

        @Argument(help: "Object id.") var object: String
        @Flag(help: "Print the full reports as JSON.") var json = false
        @OptionGroup var catalog: CatalogOptions

        func run() async throws {
            guard let id = UUID(uuidString: object) else { throw ValidationError("'\(object.prefix(64))' is not an object id") }
            let rows = try await catalog.withCatalog { client, logger in
                var rows: [(Int, String, String?, [String], String?, String)] = []
                for try await row in try await client.query("""
                    SELECT method_version, status, verdict, reasons, error, report::text FROM qc_results
                    WHERE object_id = \(id) OR object_id IN (SELECT o.id FROM objects o WHERE o.parent_id = \(id))
                    ORDER BY object_id = \(id) DESC, method_version
                    """, logger: logger).decode((Int, String, String?, [String], String?, String).self) { rows.append(row) }
                return rows
            }
            guard !rows.isEmpty else { throw CommandFailure("object \(id) has no QC scores") }
            if json {
                print("[" + rows.map(\.5).joined(separator: ",") + "]")
                return
            }
            for (version, status, verdict, reasons, error, _) in rows {
                print("method \(version): \(status == "failed" ? "not scored: \(error ?? "")" : (verdict ?? "?").uppercased())")
                for reason in reasons { print("  - \(reason)") }
            }
        }
    }
}
