/// Reads the planes of any image the converter reads (plain, multi-page, ImageJ hyperstack or
/// OME-TIFF, whose planes are found through its TiffData) one band of rows at a time, so what a
/// pass over the pixels holds is a band, never a plane or the image.
public final class PlaneReader {
    public let path: String
    /// Dimensions, pixel type and where each (c, z, t) plane is stored.
    public let image: SourceImage
    private let reader: TIFFReader
    /// Rows of one strip or tile row decoded at once at most; larger strips are read row by row.
    private let maxUnitBytes: Int

    /// Opens and inspects `path`. `fileName` is the file's own name when `path` is a descriptor
    /// path (an OME-XML may name the file that holds its planes).
    public init(path: String, fileName: String? = nil, limits: TIFFLimits = TIFFLimits(), maxUnitBytes: Int = 64 << 20) throws(TIFFError) {
        self.path = path
        self.maxUnitBytes = maxUnitBytes
        reader = try TIFFReader(path: path, limits: limits)
        var image = try SourceImage.inspect(reader)
        if image.kind == .ome, let description = image.directories.first?.description {
            let name = fileName ?? String(path.split(separator: "/").last ?? Substring(path))
            _ = try OMEDocument.read(description, into: &image, fileName: name)
        }
        // Every stored unit must be decodable within the budget before any pixel is read.
        for directory in Set(image.planes.map(\.directory)) {
            try reader.checkDataWithinFile(directory)
        }
        self.image = image
    }

    /// Hands `plane` (XYCZT order) to `body` from top to bottom in bands of at most `rows` rows:
    /// the band's bytes (`rowCount` rows of `sizeX` samples of the image's pixel type), and its
    /// first row. The bytes are valid only during the call.
    package func forEachBand(plane: Int, rows: Int, _ body: (_ band: UnsafeRawBufferPointer, _ firstRow: Int, _ rowCount: Int) -> Void) throws(TIFFError) {
        precondition(plane >= 0 && plane < image.planes.count && rows > 0)
        let source = image.planes[plane]
        let directory = try reader.select(source.directory)
        let rowReader = try TIFFRowReader(reader: reader, directory: directory, sample: source.sample, maxUnitBytes: maxUnitBytes)
        let pixelBytes = image.pixelType.bytes, samples = directory.planar ? 1 : directory.samplesPerPixel
        let band = UnsafeMutableRawBufferPointer.allocate(byteCount: rows * image.sizeX * pixelBytes, alignment: 64)
        defer { band.deallocate() }
        // Interleaved samples (RGB) are read together and this plane's sample picked out.
        let interleaved: UnsafeMutableRawBufferPointer? = samples > 1 ? .allocate(byteCount: rows * directory.rowBytes, alignment: 64) : nil
        defer { interleaved?.deallocate() }
        var first = 0
        while first < image.sizeY {
            let count = min(rows, image.sizeY - first)
            if let interleaved {
                try rowReader.read(rows: first, count: count, into: interleaved.baseAddress!)
                Downsampling.pick(sample: source.sample, of: samples, from: interleaved.baseAddress!, count: count * image.sizeX,
                                  bytes: pixelBytes, into: band.baseAddress!)
            } else {
                try rowReader.read(rows: first, count: count, into: band.baseAddress!)
            }
            body(UnsafeRawBufferPointer(start: band.baseAddress, count: count * image.sizeX * pixelBytes), first, count)
            first += count
        }
    }
}
