import FairwayImaging
import FairwayServiceKit
import Foundation

/// The converter's part of the configuration (see `fairway-converter --help`).
struct ConverterSettings: Sendable {
    var derivedResource: String?
    var options = ConversionOptions()
    var parallel = 1
    var external: ExternalConverter?

    init(_ configuration: FairwayConfiguration) throws(FairwayConfiguration.Invalid) {
        let values = configuration.values.filter { !$0.value.isEmpty }
        func invalid(_ text: String) -> FairwayConfiguration.Invalid { .init(description: text) }
        derivedResource = values["FAIRWAY_DERIVED_RESOURCE"]
        if let text = values["FAIRWAY_CONVERTER_COMPRESSION"] {
            let parts = text.split(separator: ":", maxSplits: 1).map(String.init)
            guard let codec = TileCompression.Codec(rawValue: parts[0]), parts.count == 1 || Int(parts[1]) != nil else {
                throw invalid("FAIRWAY_CONVERTER_COMPRESSION=\(text.prefix(32)) is not none, lzw, deflate or zstd (with an optional :level)")
            }
            options.compression = TileCompression(codec: codec, level: parts.count == 2 ? Int(parts[1]) : nil)
        }
        if let text = values["FAIRWAY_CONVERTER_TILE"] {
            guard let tile = Int(text), tile >= 16, tile <= 8192, tile % 16 == 0 else {
                throw invalid("FAIRWAY_CONVERTER_TILE=\(text.prefix(32)) is not a multiple of 16 between 16 and 8192")
            }
            options.tileSize = tile
        }
        if let text = values["FAIRWAY_CONVERTER_PARALLEL"] {
            guard let count = Int(text), (1 ... 64).contains(count) else { throw invalid("FAIRWAY_CONVERTER_PARALLEL=\(text.prefix(32)) is not 1...64") }
            parallel = count
        }
        if let text = values["FAIRWAY_CONVERTER_OME_PYRAMID_ABOVE"] {
            guard let pixels = Int(text), pixels >= 0 else { throw invalid("FAIRWAY_CONVERTER_OME_PYRAMID_ABOVE=\(text.prefix(32)) is not a number of pixels") }
            options.omePyramidAbove = pixels == 0 ? nil : pixels
        } else {
            options.omePyramidAbove = 8192
        }
        if let text = values["FAIRWAY_PIXEL_BUDGET"] {
            guard let bytes = Int64(text), bytes > 0 else { throw invalid("FAIRWAY_PIXEL_BUDGET=\(text.prefix(32)) is not a positive number of bytes") }
            options.limits.maxImageBytes = bytes
        }
        if let template = values["FAIRWAY_EXTERNAL_CONVERTER"] {
            var external = try ExternalConverter(template: template)
            if let text = values["FAIRWAY_EXTERNAL_CONVERTER_TIMEOUT"] {
                guard let timeout = FairwayConfiguration.parseDuration(text), timeout > .zero else {
                    throw invalid("FAIRWAY_EXTERNAL_CONVERTER_TIMEOUT=\(text.prefix(32)) is not a duration like 30m")
                }
                external.timeout = timeout
            }
            if let text = values["FAIRWAY_EXTERNAL_CONVERTER_FORMATS"] {
                external.formats = Set(text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces).lowercased() })
            }
            self.external = external
        }
    }
}
