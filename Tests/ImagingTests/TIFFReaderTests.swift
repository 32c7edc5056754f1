import Crypto
import FairwayImaging
import FairwayTestSupport
import Foundation
import Testing

/// libtiff through FairwayImaging: real files checked against tifffile, hostile files refused by name.
@Suite struct TIFFReaderTests {
    let folder: URL

    init() throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("tiff-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    }

    /// A little-endian striped TIFF built by hand: one directory, one strip, `bits`-bit grayscale.
    static func tinyTIFF(width: UInt32, height: UInt32, bits: UInt16 = 16, compression: UInt16 = 1,
                         pixels: [UInt8]? = nil, nextIFD: UInt32? = nil) -> [UInt8] {
        func u16(_ v: UInt16) -> [UInt8] { [UInt8(v & 0xFF), UInt8(v >> 8)] }
        func u32(_ v: UInt32) -> [UInt8] { (0 ..< 4).map { UInt8(truncatingIfNeeded: v >> (8 * $0)) } }
        let data = pixels ?? []
        let ifdOffset: UInt32 = 8 + UInt32(data.count)
        var bytes = Array("II".utf8) + u16(42) + u32(ifdOffset) + data
        let entries: [(UInt16, UInt16, UInt32)] = [
            (256, 4, width), (257, 4, height), (258, 3, UInt32(bits)), (259, 3, UInt32(compression)), (262, 3, 1),
            (273, 4, 8), (277, 3, 1), (278, 4, height), (279, 4, UInt32(data.count)),
        ]
        bytes += u16(UInt16(entries.count))
        for (tag, type, value) in entries {
            bytes += u16(tag) + u16(type) + u32(1) + (type == 3 ? u16(UInt16(value)) + [0, 0] : u32(value))
        }
        bytes += u32(nextIFD ?? 0)
        return bytes
    }

    func write(_ name: String, _ bytes: [UInt8]) throws -> String {
        let url = folder.appendingPathComponent(name)
        try Data(bytes).write(to: url)
        return url.path
    }

    @Test func samplesReadAsTifffileReadsThem() async throws {
        let samples = folder.appendingPathComponent("samples")
        let made = try await TestEnvironment.run(TestEnvironment.repositoryRoot.appendingPathComponent("deploy/local/make-samples"), [samples.path])
        #expect(made.status == 0, "\(made.output)")
        let python = TestEnvironment.python
        for (name, pages, described) in [
            ("NUC/hela-screen/plate-1/2026-11-02_NUC_hela_amartin_ctrl_RAW_v01.ome.tif", 2, "<?xml"),
            ("NUC/hela-screen/plate-1/well-A01_zstack.tif", 5, "ImageJ="),
            ("NUC/hela-screen/plate-2/camera_dump_u16.tif", 1, "camera dump"),
        ] {
            let path = samples.appendingPathComponent(name).path
            let reader = try TIFFReader(path: path)
            let directories = try reader.directories()
            #expect(directories.count == pages, "\(name)")
            #expect(directories.allSatisfy { $0.width == 64 && $0.height == 48 && $0.bitsPerSample == 16 && $0.sampleFormat == .unsigned })
            #expect(directories.first?.description?.hasPrefix(described) == true)
            #expect(!reader.isBigTIFF)
            // Pixels, page by page, against tifffile (an independent reader).
            let reference = try await TestEnvironment.run(python, ["-c", """
                import hashlib, sys, tifffile
                with tifffile.TiffFile(sys.argv[1]) as f:
                    for page in f.pages:
                        print(hashlib.sha256(page.asarray().astype('<u2').tobytes()).hexdigest())
                """, path])
            #expect(reference.status == 0, "\(reference.output)")
            let expected = reference.output.split(separator: "\n").map(String.init)
            let ours = try directories.map { directory in
                SHA256.hash(data: try reader.readDirectory(directory.index)).map { String(format: "%02x", $0) }.joined()
            }
            #expect(ours == expected, "\(name)")
        }
    }

    @Test func hostileFilesAreRefusedWithASpecificError() throws {
        let pixels = (0 ..< 32).map { UInt8($0) }
        let good = try write("good.tif", Self.tinyTIFF(width: 4, height: 4, pixels: pixels))
        #expect(try TIFFReader(path: good).readDirectory(0) == pixels)

        #expect(throws: TIFFError.self) { try TIFFReader(path: try write("text.tif", Array("not a tiff at all".utf8))) }
        #expect(throws: TIFFError.self) { try TIFFReader(path: folder.appendingPathComponent("missing.tif").path) }

        // Dimensions far beyond the budget, with no data: refused from the header, before allocating.
        let huge = try write("huge.tif", Self.tinyTIFF(width: 2_000_000_000, height: 2_000_000_000))
        do {
            _ = try TIFFReader(path: huge).directories()
            Issue.record("a 2e9 x 2e9 header was accepted")
        } catch {
            #expect(error.description.contains("over the pixel budget") || error.description.contains("strip"), "\(error)")
        }
        // A compression this libtiff cannot decode.
        let unknown = try write("codec.tif", Self.tinyTIFF(width: 4, height: 4, compression: 12345, pixels: pixels))
        #expect(throws: TIFFError.self) { try TIFFReader(path: unknown).directories() }
        // Strip shorter than the image claims (truncated data).
        let short = try write("short.tif", Self.tinyTIFF(width: 64, height: 64, pixels: pixels))
        #expect(throws: TIFFError.self) { try TIFFReader(path: short).readDirectory(0) }
        // The next-IFD offset points back at the first directory: a loop.
        let loop = try write("loop.tif", Self.tinyTIFF(width: 4, height: 4, pixels: pixels, nextIFD: 8 + 32))
        #expect(throws: TIFFError.self) { _ = try TIFFReader(path: loop).directories() }
        // The next-IFD offset is outside the file.
        let outside = try write("outside.tif", Self.tinyTIFF(width: 4, height: 4, pixels: pixels, nextIFD: 0x7FFF_FFF0))
        #expect(throws: TIFFError.self) { _ = try TIFFReader(path: outside).directories() }
        // 12-bit samples (not a byte multiple).
        let odd = try write("odd.tif", Self.tinyTIFF(width: 4, height: 4, bits: 12, pixels: pixels))
        #expect(throws: TIFFError.self) { _ = try TIFFReader(path: odd).directories() }
        // Every truncation of a valid file: an error or a correct read, never a crash.
        let bytes = Self.tinyTIFF(width: 4, height: 4, pixels: pixels)
        for length in 0 ..< bytes.count {
            let path = try write("cut-\(length).tif", Array(bytes.prefix(length)))
            if let reader = try? TIFFReader(path: path), let directories = try? reader.directories(), !directories.isEmpty {
                if let read = try? reader.readDirectory(0) { #expect(read == pixels, "cut at \(length)") }
            }
        }
    }
}
