import FairwayImaging
import Foundation

/// The provenance every derived OME-TIFF carries: an OME MapAnnotation in the file, and the same
/// pairs as catalog annotations on the derived object.
enum Provenance {
    typealias Entry = (key: String, value: String)
    static let converterVersion = "fairway-converter 0.4"
    static let namespace = OMEXML.provenanceNamespace

    static func entries(sourceObject: String?, sourcePath: String, sourceChecksum: String, sourceKind: SourceImage.Kind?,
                        options: ConversionOptions) -> [Entry] {
        var entries: [Entry] = []
        if let sourceObject { entries.append(("source_object", sourceObject)) }
        entries += [("source_path", sourcePath), ("source_sha2", sourceChecksum)]
        if let sourceKind { entries.append(("source_kind", sourceKind.rawValue)) }
        entries += [
            ("converter", converterVersion),
            ("options", options.summary),
            ("converted_at", ISO8601DateFormatter().string(from: Date())),
        ]
        return entries
    }
}
