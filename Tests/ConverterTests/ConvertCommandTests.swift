import FairwayTestSupport
import Foundation
import Testing

/// `fairway-converter convert` on inputs written by tifffile, each output read back by tifffile and
/// validated by ome-types (Tests/Support/check_ome_tiff.py); hostile inputs refused by name.
@Suite struct ConvertCommandTests {
    struct Case: Decodable {
        var kind: String
        var reason: String?
        var sizes: [Int]?
        var levels: [[Int]]?
        var physical: [Double]?
        var channels: [String]?
        var date: String?
        var instrument: [String]?
    }

    struct Checked: Decodable {
        struct OME: Decodable {
            var sizes: [Int]
            var physical: [Double?]
            var channels: [String?]
            var samples_per_pixel: Int
            var tiffdata_planes: Int
            var acquisition_date: String?
            var instrument: [[String?]]
            var provenance: [String: String]
            var dimension_order: String
        }
        var bigtiff: Bool
        var ome: OME
        var levels: [[Int]]
        var tile: [Int]
        var shape_tczyx: [Int]
        var pixels_equal: Bool
        var level1_max_error: Double?
    }

    let folder: URL
    let python = TestEnvironment.python

    init() throws {
        folder = try TestEnvironment.temporaryFolder("convert")
    }

    func makeCases() async throws -> [String: Case] {
        let made = try await TestEnvironment.run(python, [TestEnvironment.supportScript("make_convert_cases.py").path, folder.path])
        try #require(made.status == 0, "\(made.output)")
        let json = try #require(made.output.split(separator: "\n").last)
        return try JSONDecoder().decode([String: Case].self, from: Data(json.utf8))
    }

    func convert(_ input: String, _ output: String, _ arguments: [String] = []) async throws -> (status: Int32, output: String) {
        try await TestEnvironment.run(try TestEnvironment.executable("fairway-converter"), ["convert", input, output] + arguments)
    }

    func check(_ output: String, against source: String) async throws -> Checked {
        let result = try await TestEnvironment.run(python, [TestEnvironment.supportScript("check_ome_tiff.py").path, output, source])
        try #require(result.status == 0, "check_ome_tiff \(output): \(result.output)")
        return try JSONDecoder().decode(Checked.self, from: Data(try #require(result.output.split(separator: "\n").last).utf8))
    }

    @Test func everyGoodCaseConvertsAndReadsBackEqual() async throws {
        let cases = try await makeCases()
        let good = cases.filter { $0.value.kind == "good" }.sorted { $0.key < $1.key }
        #expect(good.count >= 14)
        for (name, expected) in good {
            let input = folder.appendingPathComponent(name).path, output = folder.appendingPathComponent(name + ".ome.tif").path
            let converted = try await convert(input, output, ["--source-id", "obj-\(name)"])
            #expect(converted.status == 0, "\(name): \(converted.output)")
            guard converted.status == 0 else { continue }
            let checked = try await check(output, against: input)
            #expect(checked.pixels_equal, "\(name)")
            #expect(checked.bigtiff)
            #expect(checked.ome.dimension_order == "XYCZT")
            #expect(checked.tile == [512, 512])
            if let sizes = expected.sizes {
                #expect(checked.ome.sizes == sizes, "\(name)")
                #expect(checked.shape_tczyx == sizes, "\(name)")
                #expect(checked.ome.samples_per_pixel == sizes[1], "\(name): channels must carry SizeC samples")
                #expect(checked.ome.tiffdata_planes == sizes[0] * sizes[1] * sizes[2], "\(name)")
                // Levels halve (rounding up) until the longest side is at most 256.
                var level = [sizes[3], sizes[4]], levels = [level]
                while level.max()! > 256 { level = level.map { ($0 + 1) / 2 }; levels.append(level) }
                #expect(checked.levels == levels, "\(name)")
            }
            if let levels = expected.levels { #expect(checked.levels == levels, "\(name)") }
            if let physical = expected.physical { #expect(checked.ome.physical == physical.map { Optional($0) }, "\(name)") }
            if let channels = expected.channels { #expect(checked.ome.channels == channels.map { Optional($0) }, "\(name)") }
            if let date = expected.date { #expect(checked.ome.acquisition_date == date, "\(name)") }
            if let instrument = expected.instrument { #expect(checked.ome.instrument == [instrument.map { Optional($0) }], "\(name)") }
            // Reduced levels are 2 x 2 means of the level above (integers rounded).
            if let error = checked.level1_max_error { #expect(error <= 0.5 + 1e-9, "\(name): level 1 is off by \(error)") }
            #expect(checked.ome.provenance["source_object"] == "obj-\(name)")
            #expect(checked.ome.provenance["source_sha2"]?.hasPrefix("sha2:") == true)
            #expect(checked.ome.provenance["converter"]?.hasPrefix("fairway-converter") == true)
            #expect(checked.ome.provenance["options"]?.contains("deflate") == true)
        }
    }

    @Test func everyCompressionRoundTrips() async throws {
        let cases = try await makeCases()
        #expect(cases["tiled_deflate_big.tif"] != nil)
        let input = folder.appendingPathComponent("tiled_deflate_big.tif").path
        for (codec, extra) in [("none", []), ("lzw", []), ("deflate", ["--level", "1"]), ("zstd", ["--level", "9"]), ("zstd", ["--no-predictor"])] {
            let output = folder.appendingPathComponent("big-\(codec)-\(extra.joined()).ome.tif").path
            let converted = try await convert(input, output, ["--compression", codec, "--tile", "256", "--workers", "2"] + extra)
            #expect(converted.status == 0, "\(codec): \(converted.output)")
            let checked = try await check(output, against: input)
            #expect(checked.pixels_equal && checked.tile == [256, 256], "\(codec)")
            #expect(checked.levels == [[2100, 1900], [1050, 950], [525, 475], [263, 238], [132, 119]], "\(codec)")
        }
        // Also an image of odd size with a small tile through every codec, signed and float pixels.
        for name in ["int16_packbits.tif", "float64_tiled.tif", "rgb_planar_deflate.tif"] {
            for codec in ["lzw", "zstd", "none"] {
                let output = folder.appendingPathComponent("\(name)-\(codec).ome.tif").path
                let converted = try await convert(folder.appendingPathComponent(name).path, output, ["--compression", codec, "--tile", "64"])
                #expect(converted.status == 0, "\(name) \(codec): \(converted.output)")
                #expect(try await check(output, against: folder.appendingPathComponent(name).path).pixels_equal)
            }
        }
    }

    @Test func badInputGetsOneSpecificLineAndNoOutput() async throws {
        let cases = try await makeCases()
        let bad = cases.filter { $0.value.kind == "bad" }.sorted { $0.key < $1.key }
        // OME-TIFF is kept whatever its OME-XML says, unless asked for a pyramid (tested below).
        for (name, _) in cases where ["ome-bad", "ome-large"].contains(cases[name]?.kind) {
            #expect(try await convert(folder.appendingPathComponent(name).path, folder.appendingPathComponent("k-" + name).path).status == 3, "\(name)")
        }
        #expect(bad.count >= 10)
        for (name, expected) in bad {
            let output = folder.appendingPathComponent("out-" + name + ".ome.tif")
            let converted = try await convert(folder.appendingPathComponent(name).path, output.path)
            #expect(converted.status == 1, "\(name): \(converted.output)")
            let lines = converted.output.split(separator: "\n")
            #expect(lines.count == 1 && lines[0].hasPrefix("fairway-converter: "), "\(name): \(converted.output)")
            if let reason = expected.reason, !reason.isEmpty { #expect(converted.output.contains(reason), "\(name): \(converted.output)") }
            #expect(!FileManager.default.fileExists(atPath: output.path), "\(name) left an output")
            #expect(!FileManager.default.fileExists(atPath: folder.appendingPathComponent(".out-\(name).ome.tif.partial").path), "\(name) left a partial file")
        }
        // The pixel budget is the operator's: a 600 x 700 uint16 image is refused under 800 kB.
        let refused = try await convert(folder.appendingPathComponent("plain_u16.tif").path, folder.appendingPathComponent("budget.ome.tif").path,
                                        ["--max-image-bytes", "800000"])
        #expect(refused.status == 1 && refused.output.contains("over the pixel budget of 800000"), "\(refused.output)")
        // OME-TIFF is the image of record: exit 3, nothing written.
        let kept = try await convert(folder.appendingPathComponent("already.ome.tif").path, folder.appendingPathComponent("again.ome.tif").path)
        #expect(kept.status == 3 && kept.output.contains("already OME-TIFF"), "\(kept.output)")
        #expect(!FileManager.default.fileExists(atPath: folder.appendingPathComponent("again.ome.tif").path))
        // The output may not replace the input.
        let input = folder.appendingPathComponent("int8.tif").path
        let same = try await convert(input, input)
        #expect(same.status == 1 && same.output.contains("overwrite the input"), "\(same.output)")
    }

    /// OME-TIFF stays as it is unless large and untiled: then the copy keeps its OME-XML (channel
    /// names, physical sizes) with the planes re-mapped; OME-XML that lies about the file is refused.
    @Test func largeUntiledOMETIFFGetsAPyramidalCopyKeepingItsMetadata() async throws {
        let cases = try await makeCases()
        let input = folder.appendingPathComponent("wide_untiled.ome.tif").path, output = folder.appendingPathComponent("wide.pyramid.ome.tif").path
        let kept = try await convert(input, output)
        #expect(kept.status == 3, "\(kept.output)")
        let small = try await convert(input, output, ["--ome-pyramid-above", "9000"])
        #expect(small.status == 3, "9000 px is not above 9000: \(small.output)")
        let converted = try await convert(input, output, ["--ome-pyramid-above", "8192"])
        try #require(converted.status == 0, "\(converted.output)")
        let checked = try await check(output, against: input)
        #expect(checked.pixels_equal)
        #expect(checked.ome.sizes == cases["wide_untiled.ome.tif"]?.sizes)
        #expect(checked.ome.channels == ["DAPI", "GFP", "RFP"])
        #expect(checked.ome.physical[0] == 0.2 && checked.ome.physical[1] == 0.2)
        #expect(checked.levels.count == 7 && checked.levels.last == [5, 141], "\(checked.levels)")
        #expect(checked.ome.provenance["source_sha2"]?.hasPrefix("sha2:") == true)
        for (name, expected) in cases where expected.kind == "ome-bad" {
            let refused = try await convert(folder.appendingPathComponent(name).path, folder.appendingPathComponent("x-" + name).path, ["--ome-pyramid-above", "8192"])
            #expect(refused.status == 1 && refused.output.contains(expected.reason ?? "?"), "\(name): \(refused.output)")
        }
    }

    /// A BigTIFF input over 4 GiB (sparse: only a few regions hold data), converted with memory far
    /// below the input size; tifffile reads back the shape, the levels and the planes with data.
    @Test func anInputOver4GiBConvertsWithBoundedMemory() async throws {
        let input = folder.appendingPathComponent("big.tif").path, output = folder.appendingPathComponent("big.ome.tif").path
        defer { try? FileManager.default.removeItem(at: folder) }
        let made = try await TestEnvironment.run(python, ["-c", """
            import sys, numpy as np, tifffile
            m = tifffile.memmap(sys.argv[1], shape=(33, 8192, 8192), dtype=np.uint16, bigtiff=True, photometric='minisblack')
            rng = np.random.default_rng(3)
            for z in (0, 16, 32):
                m[z, 100:612, 200:1000] = rng.integers(0, 4096, (512, 800), dtype=np.uint16)
                m[z, -300:, -257:] = z + 1
            m.flush()
            """, input])
        try #require(made.status == 0, "\(made.output)")
        let size = try #require(try FileManager.default.attributesOfItem(atPath: input)[.size] as? Int)
        #expect(size > 4 << 30)
        let converted = try await convert(input, output, ["--json", "--source-sha2", "sha2:" + String(repeating: "A", count: 43) + "="])
        try #require(converted.status == 0, "\(converted.output)")
        let report = try JSONSerialization.jsonObject(with: Data(try #require(converted.output.split(separator: "\n").last).utf8)) as? [String: Any] ?? [:]
        let peak = try #require(report["peakRSSBytes"] as? Int)
        #expect(peak > 0 && peak < 512 << 20, "peak RSS \(peak) bytes for a \(size)-byte input")
        let checked = try await TestEnvironment.run(python, ["-c", """
            import sys, numpy as np, tifffile
            source = tifffile.memmap(sys.argv[2])
            with tifffile.TiffFile(sys.argv[1]) as tif:
                assert tif.is_bigtiff and tif.is_ome
                series = tif.series[0]
                print(series.shape, [level.shape[-2:] for level in series.levels])
                for z in (0, 1, 16, 32):
                    assert np.array_equal(series.pages[z].asarray(), source[z]), z
            print("planes equal")
            """, output, input])
        #expect(checked.status == 0, "\(checked.output)")
        #expect(checked.output.contains("(33, 8192, 8192) [(8192, 8192), (4096, 4096), (2048, 2048), (1024, 1024), (512, 512), (256, 256)]"), "\(checked.output)")
        #expect(checked.output.contains("planes equal"))
    }

    /// The facility's shared fixtures, when this checkout sits next to them (../shared/fixtures):
    /// each converts, is kept (OME-TIFF) or is refused as its manifest says.
    @Test func sharedFixturesFollowTheirManifest() async throws {
        let fixtures = TestEnvironment.repositoryRoot.deletingLastPathComponent().appendingPathComponent("shared/fixtures")
        guard let manifest = try? Data(contentsOf: fixtures.appendingPathComponent("MANIFEST.json")) else {
            print("no ../shared/fixtures next to the checkout: the generated cases above cover the same kinds")
            return
        }
        let entries = try JSONSerialization.jsonObject(with: manifest) as? [String: [String: Any]] ?? [:]
        #expect(entries.count >= 8)
        for (name, entry) in entries.sorted(by: { $0.key < $1.key }) {
            let input = fixtures.appendingPathComponent(name).path, output = folder.appendingPathComponent(name + ".ome.tif").path
            let converted = try await convert(input, output)
            switch entry["kind"] as? String {
            case "bad":
                #expect(converted.status == 1, "\(name): \(converted.output)")
            case "ome":
                #expect(converted.status == 3, "\(name): \(converted.output)")
            default:
                #expect(converted.status == 0, "\(name): \(converted.output)")
                let checked = try await check(output, against: input)
                #expect(checked.pixels_equal, "\(name)")
                if let z = entry["physical_size_z_um"] as? Double { #expect(checked.ome.physical[2] == z, "\(name)") }
                if let xy = entry["physical_size_xy_um"] as? Double { #expect(checked.ome.physical[0] == xy, "\(name)") }
            }
        }
    }
}
