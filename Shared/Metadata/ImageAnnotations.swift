extension ImageMetadata {
    /// Namespaces of the annotations the metadata step owns on an image of record: rewritten
    /// whole on every description, never touched by users.
    public enum Namespace {
        public static let image = "fairway/image"
        public static let machineTags = "fairway/machine-tags"
        public static let originalMetadata = "fairway/original-metadata"
        public static let naming = "fairway/naming"
        public static let all = [image, machineTags, originalMetadata, naming]
    }

    /// At most this many original-metadata pairs are kept as annotations (all stay in the record).
    public static let maxOriginalAnnotations = 2000

    /// Every annotation the description writes, as (namespace, key, value); empty values are left
    /// out (the catalog stores tags, not blanks).
    public var annotationTriples: [(namespace: String, key: String, value: String)] {
        var triples: [(String, String, String)] = []
        func image(_ key: String, _ value: String?) {
            if let value, !value.isEmpty { triples.append((Namespace.image, key, String(value.prefix(4096)))) }
        }
        func number(_ value: Double?) -> String? { value.map { MetadataExtractor.number($0) } }
        image("origin", source)
        image("imageName", imageName)
        image("acquisitionDate", acquisitionDate)
        for (key, value) in [("sizeX", sizeX), ("sizeY", sizeY), ("sizeZ", sizeZ), ("sizeC", sizeC), ("sizeT", sizeT), ("significantBits", significantBits)] {
            image(key, String(value))
        }
        image("pixelType", pixelType)
        image("dimensionOrder", dimensionOrder)
        image("physicalSizeX", number(physicalSizeX))
        image("physicalSizeY", number(physicalSizeY))
        image("physicalSizeZ", number(physicalSizeZ))
        image("timeIncrement", number(timeIncrement))
        for (index, channel) in channels.prefix(64).enumerated() {
            image("channel.\(index).name", channel.name)
            image("channel.\(index).emissionWavelength", number(channel.emissionWavelength))
            image("channel.\(index).excitationWavelength", number(channel.excitationWavelength))
            image("channel.\(index).fluor", channel.fluor)
        }
        if let instrument {
            image("microscope.manufacturer", instrument.microscope?.manufacturer)
            image("microscope.model", instrument.microscope?.model)
            image("microscope.type", instrument.microscope?.type)
            for (index, objective) in instrument.objectives.prefix(16).enumerated() {
                image("objective.\(index).model", objective.model)
                image("objective.\(index).nominalMagnification", number(objective.nominalMagnification))
                image("objective.\(index).lensNA", number(objective.lensNA))
                image("objective.\(index).immersion", objective.immersion)
            }
            for (index, detector) in instrument.detectors.prefix(16).enumerated() {
                image("detector.\(index).model", [detector.manufacturer, detector.model].compactMap { $0 }.joined(separator: " "))
                image("detector.\(index).type", detector.type)
            }
            for (index, light) in instrument.lightSources.prefix(32).enumerated() {
                image("lightSource.\(index).kind", light.kind)
                image("lightSource.\(index).model", light.model)
                image("lightSource.\(index).wavelength", number(light.wavelength))
            }
        }
        image("experimenter", experimenter)
        image("software", software)
        for (key, value) in machineTags.sorted(by: { $0.key < $1.key }) where !value.isEmpty {
            triples.append((Namespace.machineTags, key, String(value.prefix(4096))))
        }
        for (key, value) in annotations.sorted(by: { $0.key < $1.key }).prefix(Self.maxOriginalAnnotations) where !key.isEmpty && !value.isEmpty {
            triples.append((Namespace.originalMetadata, key, value))
        }
        for (key, value) in (naming.fields ?? [:]).sorted(by: { $0.key < $1.key }) where !value.isEmpty {
            triples.append((Namespace.naming, key, value))
        }
        return triples
    }
}
