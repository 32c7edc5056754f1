import FairwayImaging
import FairwayTestSupport
import Foundation
import Testing

/// Corpus mutation of the TIFF reader: valid files with bytes flipped, words overwritten and tails
/// cut, read through directories() and readDirectory(), then streamed through the OME-TIFF
/// converter (band reader, pyramid, tile writer). Every outcome is a value or a TIFFError;
/// a crash, a hang or an out-of-bounds access fails the run. Seeded, so a failure replays.
/// `FAIRWAY_FUZZ_ITERATIONS` (default 200 per seed file) makes it longer: `Tests/fuzz-tiff`.
@Suite struct TIFFMutationTests {
    @Test func mutatedTIFFsGiveValuesOrErrorsNeverCrashes() async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("tiff-fuzz-\(UUID().uuidString.prefix(8))")
        defer { try? FileManager.default.removeItem(at: folder) }
        let made = try await TestEnvironment.run(TestEnvironment.repositoryRoot.appendingPathComponent("deploy/local/make-samples"), [folder.path])
        #expect(made.status == 0, "\(made.output)")
        let seeds = [
            "NUC/hela-screen/plate-1/2026-11-02_NUC_hela_amartin_ctrl_RAW_v01.ome.tif",
            "NUC/hela-screen/plate-1/well-A01_zstack.tif",
            "NUC/hela-screen/plate-2/camera_dump_u16.tif",
        ].map { folder.appendingPathComponent($0) }
        let iterations = Int(ProcessInfo.processInfo.environment["FAIRWAY_FUZZ_ITERATIONS"] ?? "") ?? 200
        var limits = TIFFLimits()
        limits.maxPlaneBytes = 64 << 20      // keeps absurd headers from allocating much even when "valid"
        limits.maxSingleAllocation = 64 << 20
        var outcomes = (read: 0, refused: 0)
        var converted = 0
        for (seedIndex, seed) in seeds.enumerated() {
            let original = [UInt8](try Data(contentsOf: seed))
            var random = SplitMix64(state: UInt64(seedIndex + 1) &* 0x1234_5678)
            for iteration in 0 ..< iterations {
                var bytes = original
                switch iteration % 4 {
                case 0:   // flip a few bytes anywhere
                    for _ in 0 ..< Int.random(in: 1 ... 8, using: &random) {
                        bytes[Int.random(in: 0 ..< bytes.count, using: &random)] ^= UInt8.random(in: 1 ... 255, using: &random)
                    }
                case 1:   // overwrite a 32-bit word with an extreme value (offsets, counts, sizes)
                    let at = Int.random(in: 0 ..< bytes.count - 4, using: &random)
                    let value = [UInt32.max, 0, 0x7FFF_FFFF, UInt32(bytes.count), 8].randomElement(using: &random)!
                    for k in 0 ..< 4 { bytes[at + k] = UInt8(truncatingIfNeeded: value >> (8 * UInt32(k))) }
                case 2:   // cut the tail
                    bytes.removeLast(Int.random(in: 1 ..< bytes.count, using: &random))
                default:  // damage the directory area (the end of these files)
                    for _ in 0 ..< 4 {
                        let at = Int.random(in: max(0, bytes.count - 400) ..< bytes.count, using: &random)
                        bytes[at] = UInt8.random(in: 0 ... 255, using: &random)
                    }
                }
                let path = folder.appendingPathComponent("m-\(seedIndex)-\(iteration).tif").path
                try Data(bytes).write(to: URL(fileURLWithPath: path))
                do {
                    let reader = try TIFFReader(path: path, limits: limits)
                    for directory in try reader.directories() {
                        let plane = try reader.readDirectory(directory.index)
                        #expect(Int64(plane.count) == directory.decodedBytes)
                    }
                    outcomes.read += 1
                } catch {
                    #expect(!error.description.isEmpty)
                    outcomes.refused += 1
                }
                // The streaming path sees the same bytes: an OME-TIFF, or an error and no output.
                let output = path + ".ome.tif"
                do {
                    var options = ConversionOptions()
                    options.limits = limits
                    options.tileSize = 32
                    options.workers = 2
                    let conversion = try OMETIFFConversion(input: path, options: options)
                    if conversion.source.kind != .ome {
                        let report = try conversion.write(to: output)
                        #expect(report.outputBytes > 0)
                        converted += 1
                    }
                } catch {
                    #expect(!error.description.isEmpty)
                    #expect(!FileManager.default.fileExists(atPath: output), "a refused conversion left \(output)")
                }
                try? FileManager.default.removeItem(atPath: path)
                try? FileManager.default.removeItem(atPath: output)
            }
        }
        #expect(outcomes.read + outcomes.refused == iterations * seeds.count)
        #expect(outcomes.refused > 0, "mutations must produce refusals")
        #expect(converted > 0, "some mutants must still convert")
    }
}
