extension ImageMetadata {
    /// Image-level fields a publication (REMBI's image data and acquisition sections) needs and
    /// this file does not give; Z and T spacing only matter for stacks and series.
    public var missingFields: [String] {
        var missing: [String] = []
        if physicalSizeX == nil { missing.append("physicalSizeX") }
        if physicalSizeY == nil { missing.append("physicalSizeY") }
        if sizeZ > 1, physicalSizeZ == nil { missing.append("physicalSizeZ") }
        if sizeT > 1, timeIncrement == nil { missing.append("timeIncrement") }
        if acquisitionDate == nil { missing.append("acquisitionDate") }
        if instrument?.microscope == nil { missing.append("microscope") }
        if instrument?.objectives.isEmpty ?? true { missing.append("objective") }
        if channels.isEmpty || channels.contains(where: { $0.name == nil && $0.emissionWavelength == nil }) { missing.append("channels") }
        return missing
    }

    /// Words full-text search finds the image by: names, machine tags, channels, fluors and the
    /// vendor's original metadata values (bounded, so a huge annotation cannot bloat the index).
    public var searchWords: [String] {
        var words = [naming.name, imageName].compactMap { $0 }
        words += machineTags.values
        words += channels.flatMap { [$0.name, $0.fluor].compactMap { $0 } }
        words += annotations.values.prefix(200).map { String($0.prefix(200)) }
        return words
    }
}
