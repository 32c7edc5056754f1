import FairwayXML

/// The OME-XML of an existing OME-TIFF, read to re-tile it (a pyramidal derivative of a large
/// untiled image) and rewritten for the new file: original metadata kept, plane mapping replaced.
struct OMEDocument {
    let document: XMLDocument
    let pixels: XMLElement
    let image: XMLElement

    /// Parses `description` (hardened libxml2) and maps every plane of the first image to its IFD.
    static func read(_ description: String, into source: inout SourceImage, fileName: String) throws(TIFFError) -> OMEDocument {
        let document: XMLDocument
        do { document = try XMLDocument(parsing: description) } catch { throw TIFFError("OME-XML: \(error.description)") }
        let root = document.root
        guard root.name == "OME" else { throw TIFFError("OME-XML: root element is \(root.name), not OME") }
        let images = root.children(named: "Image")
        guard images.count == 1, let image = images.first, let pixels = image.first("Pixels") else {
            throw TIFFError("OME-XML: \(images.count) images; only single-image files are re-tiled")
        }
        func size(_ name: String) throws(TIFFError) -> Int {
            guard let text = pixels[name], let value = Int(text), (1 ... 1 << 24).contains(value) else {
                throw TIFFError("OME-XML: Pixels \(name)=\(pixels[name]?.prefix(20) ?? "missing") is not a positive size")
            }
            return value
        }
        let (x, y, z, c, t) = (try size("SizeX"), try size("SizeY"), try size("SizeZ"), try size("SizeC"), try size("SizeT"))
        guard x == source.sizeX, y == source.sizeY else { throw TIFFError("OME-XML says \(x)x\(y), the TIFF pages are \(source.sizeX)x\(source.sizeY)") }
        guard pixels["Type"] == source.pixelType.rawValue else {
            throw TIFFError("OME-XML Type \(pixels["Type"]?.prefix(20) ?? "missing") does not match the \(source.pixelType.rawValue) pages")
        }
        guard source.chunkySamples == 1, pixels.children(named: "Channel").allSatisfy({ ($0["SamplesPerPixel"] ?? "1") == "1" }) else {
            throw TIFFError("OME-XML: interleaved multi-sample channels are not re-tiled")
        }
        let order = pixels["DimensionOrder"] ?? "XYZCT"
        guard order.count == 5, order.hasPrefix("XY"), Set(order) == Set("XYZCT") else { throw TIFFError("OME-XML: DimensionOrder \(order.prefix(10)) is not valid") }
        let sizes: [Character: Int] = ["Z": z, "C": c, "T": t]
        let total = z * c * t
        // Plane (c, z, t) → IFD, from every TiffData block.
        var ifds = [Int?](repeating: nil, count: total)
        func cIndex(_ c: Int, _ z: Int, _ t: Int) -> Int { c + sizes["C"]! * (z + sizes["Z"]! * t) }
        for block in pixels.children(named: "TiffData") {
            if let uuid = block.first("UUID"), let name = uuid["FileName"], name != fileName {
                throw TIFFError("OME-XML: planes in another file (\(name.prefix(80))): multi-file OME-TIFF is not re-tiled")
            }
            func number(_ attribute: String, default value: Int) throws(TIFFError) -> Int {
                guard let text = block[attribute] else { return value }
                guard let number = Int(text), number >= 0 else { throw TIFFError("OME-XML: TiffData \(attribute)=\(text.prefix(20)) is not a count") }
                return number
            }
            let ifd = try number("IFD", default: 0)
            let count = try number("PlaneCount", default: block["IFD"] == nil ? total : 1)
            var position: [Character: Int] = ["Z": try number("FirstZ", default: 0), "C": try number("FirstC", default: 0), "T": try number("FirstT", default: 0)]
            for offset in 0 ..< min(count, total) {
                guard position["Z"]! < z, position["C"]! < c, position["T"]! < t else { throw TIFFError("OME-XML: TiffData maps a plane outside the image") }
                guard ifd + offset < source.directories.count else { throw TIFFError("OME-XML: TiffData names IFD \(ifd + offset), the file has \(source.directories.count)") }
                ifds[cIndex(position["C"]!, position["Z"]!, position["T"]!)] = source.directories[ifd + offset].index
                // Advance in DimensionOrder: the first of Z, C, T after XY varies fastest.
                for axis in order.dropFirst(2) {
                    position[axis]! += 1
                    if position[axis]! < sizes[axis]! { break }
                    position[axis] = 0
                }
            }
        }
        let mapped = ifds.compactMap { $0 }
        guard mapped.count == total else { throw TIFFError("OME-XML: \(total - mapped.count) of \(total) planes have no TiffData") }
        source.sizeZ = z
        source.sizeC = c
        source.sizeT = t
        source.planes = mapped.map { SourceImage.PlaneSource(directory: $0, sample: 0) }
        let named = pixels.children(named: "Channel")
        source.channels = (0 ..< c).map { index in
            SourceImage.Channel(name: index < named.count ? named[index]["Name"].map { String($0.prefix(256)) } : nil)
        }
        if let bits = pixels["SignificantBits"].flatMap(Int.init), (1 ... source.pixelType.bytes * 8).contains(bits) { source.significantBits = bits }
        return OMEDocument(document: document, pixels: pixels, image: image)
    }

    /// The original OME-XML with a new UUID, the planes as this writer stores them (one IFD per
    /// plane, XYCZT) and the provenance annotation added.
    func rewritten(uuid: String, source: SourceImage, provenance: [(key: String, value: String)]) -> String {
        let root = document.root
        root.set("UUID", "urn:uuid:\(uuid)")
        pixels.remove(childrenNamed: ["TiffData", "BinData", "MetadataOnly"])
        pixels.set("DimensionOrder", "XYCZT")
        pixels.set("BigEndian", "false")
        pixels.set("Interleaved", "false")
        let firstPlane = pixels.first("Plane")
        var ifd = 0
        for t in 0 ..< source.sizeT {
            for z in 0 ..< source.sizeZ {
                for c in 0 ..< source.sizeC {
                    pixels.add("TiffData", attributes: [("IFD", "\(ifd)"), ("FirstC", "\(c)"), ("FirstZ", "\(z)"), ("FirstT", "\(t)"), ("PlaneCount", "1")], before: firstPlane)
                    ifd += 1
                }
            }
        }
        guard !provenance.isEmpty else { return document.serialized() }
        let id = "Annotation:FairwayProvenance:\(uuid.prefix(8))"
        image.add("AnnotationRef", attributes: [("ID", id)])
        let annotations = root.first("StructuredAnnotations")
            ?? root.add("StructuredAnnotations", before: root.children.first { $0.name == "ROI" || $0.name == "BinaryOnly" })
        let map = annotations.add("MapAnnotation", attributes: [("ID", id), ("Namespace", OMEXML.provenanceNamespace)])
        let value = map.add("Value")
        for (key, text) in provenance { value.add("M", attributes: [("K", key)], text: text) }
        return document.serialized()
    }
}
