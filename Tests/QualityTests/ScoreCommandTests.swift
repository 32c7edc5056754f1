import FairwayTestSupport
import Foundation
import Testing

/// `fairway-qc score` against an independent numpy implementation of the same metrics
/// (Tests/Support/qc_reference.py), against images whose answers are known by construction
/// (Tests/Support/make_qc_cases.py), and against hostile files.
@Suite struct ScoreCommandTests {
    let folder: URL

    init() throws {
        folder = try TestEnvironment.temporaryFolder("qc")
    }

    func score(_ arguments: [String]) async throws -> (status: Int32, json: [String: Any], output: String) {
        let result = try await TestEnvironment.run(try TestEnvironment.executable("fairway-qc"), ["score", "--json"] + arguments)
        let line = result.output.split(separator: "\n").last.map(String.init) ?? ""
        let json = (try? JSONSerialization.jsonObject(with: Data(line.utf8))) as? [String: Any] ?? [:]
        return (result.status, json, result.output)
    }

    func reference(_ arguments: [String]) async throws -> [[String: Any]] {
        let result = try await TestEnvironment.pythonJSON("qc_reference.py", arguments)
        try #require(result.status == 0, "\(result.output)")
        return (result.json as? [String: Any])?["channels"] as? [[String: Any]] ?? []
    }

    func cases() async throws -> [String: [String: Any]] {
        let made = try await TestEnvironment.pythonJSON("make_qc_cases.py", [folder.path])
        try #require(made.status == 0, "\(made.output)")
        return made.json as? [String: [String: Any]] ?? [:]
    }

    func path(_ name: String) -> String { folder.appendingPathComponent(name).path }

    static let compared = ["pixels", "saturationLevel", "saturationFraction", "zeroFraction", "snr", "gain", "offset", "brightLevel",
                           "background", "noiseSigma", "signalToBackground", "dynamicRangeUsage", "focus", "focusToNoise",
                           "bestFocusPlane", "uniformity"]

    /// Every metric of every channel equals numpy's (to rounding), or both say it does not apply.
    func expectSameAsNumpy(_ arguments: [String], _ label: String) async throws {
        let ours = try await score(arguments)
        try #require(ours.status == 0, "\(label): \(ours.output)")
        let theirs = try await reference(arguments)
        let channels = ours.json["channels"] as? [[String: Any]] ?? []
        #expect(channels.count == theirs.count, "\(label)")
        for (mine, numpy) in zip(channels, theirs) {
            for key in Self.compared {
                let a = (mine[key] as? NSNumber)?.doubleValue, b = (numpy[key] as? NSNumber)?.doubleValue
                if let a, let b {
                    #expect(abs(a - b) <= 1e-6 * max(abs(b), 1e-3), "\(label) channel \(mine["index"] ?? "?") \(key): Swift \(a), numpy \(b)")
                } else {
                    #expect(a == nil && b == nil, "\(label) channel \(mine["index"] ?? "?") \(key): Swift \(mine[key] ?? "missing"), numpy \(numpy[key] ?? "missing")")
                }
            }
            let ourPlanes = (mine["focusByPlane"] as? [Any] ?? []).map { ($0 as? NSNumber)?.doubleValue }
            let theirPlanes = (numpy["focusByPlane"] as? [Any] ?? []).map { ($0 as? NSNumber)?.doubleValue }
            #expect(ourPlanes.count == theirPlanes.count, "\(label)")
            for (a, b) in zip(ourPlanes, theirPlanes) { #expect(abs((a ?? .nan) - (b ?? .nan)) <= 1e-6 * max(abs(b ?? 1), 1e-3), "\(label) focus by plane") }
        }
    }

    @Test func everyMetricMatchesAnIndependentNumpyImplementation() async throws {
        _ = try await cases()
        for (name, extra) in [("poisson_patches.tif", []), ("poisson_low_gain.tif", []), ("gaussian_noise.tif", []),
                              ("flat_field.tif", ["--flat-field"]), ("saturated_12bit.tif", ["--significant-bits", "12"]),
                              ("zstack_u8.tif", []), ("poisson_patches.tif", ["--gain", "2.5", "--offset", "100"])] {
            try await expectSameAsNumpy([path(name)] + extra, name)
        }
    }

    /// The facility's fixtures, when this checkout sits next to them (../shared/fixtures): the
    /// same agreement, the manifest's saturated fraction exactly, and the Z stack's sharpest plane.
    @Test func sharedFixturesMatchNumpyAndTheirManifest() async throws {
        let fixtures = TestEnvironment.repositoryRoot.deletingLastPathComponent().appendingPathComponent("shared/fixtures")
        guard let data = try? Data(contentsOf: fixtures.appendingPathComponent("MANIFEST.json")),
              let manifest = try JSONSerialization.jsonObject(with: data) as? [String: [String: Any]] else {
            print("no ../shared/fixtures next to the checkout: the generated cases cover the same checks")
            return
        }
        for (name, entry) in manifest.sorted(by: { $0.key < $1.key }) where entry["kind"] as? String != "bad" && entry["rgb"] == nil && entry["dtype"] as? String != "float32" {
            let bits = (entry["significant_bits"] as? Int).map { ["--significant-bits", "\($0)"] } ?? []
            let file = fixtures.appendingPathComponent(name).path
            try await expectSameAsNumpy([file] + bits, name)
            let result = try await score([file] + bits)
            let channel = (result.json["channels"] as? [[String: Any]])?.first ?? [:]
            if let fraction = entry["saturated_fraction"] as? Double {
                #expect(channel["saturationFraction"] as? Double == fraction, "\(name): exactly the manifest's fraction")
            }
            if let sharpest = entry["sharpest_plane"] as? Int {
                #expect(result.json["bestFocusPlane"] as? Int == sharpest, "\(name)")
            }
        }
    }

    @Test func knownAnswersAreFound() async throws {
        let truth = try await cases()
        for name in ["poisson_patches.tif", "poisson_low_gain.tif"] {
            let expected = try #require(truth[name])
            let result = try await score([path(name)])
            let channel = try #require((result.json["channels"] as? [[String: Any]])?.first)
            let snr = try #require(channel["snr"] as? Double), trueSNR = try #require(expected["snr"] as? Double)
            #expect(abs(snr - trueSNR) / trueSNR < 0.10, "\(name): SNR \(snr), √N = \(trueSNR)")
            let gain = try #require(channel["gain"] as? Double), trueGain = try #require(expected["gain"] as? Double)
            #expect(abs(gain - trueGain) / trueGain < 0.10, "\(name): estimated gain \(gain), true \(trueGain)")
            #expect((channel["snrMethod"] as? String)?.hasPrefix("photon transfer over") == true, "\(channel["snrMethod"] ?? "")")
            print("\(name): SNR \(snr) for √N = \(trueSNR), gain \(gain) for \(trueGain), offset \(channel["offset"] ?? "-") for \(expected["offset"] ?? "-")")

            // The instrument's own gain and offset: N = (bright − offset) / gain exactly.
            let given = try await score([path(name), "--gain", "\(trueGain)", "--offset", "\(expected["offset"] ?? 0)"])
            let givenChannel = try #require((given.json["channels"] as? [[String: Any]])?.first)
            let bright = try #require(givenChannel["brightLevel"] as? Double)
            let offset = (expected["offset"] as? Double) ?? 0
            #expect(abs((givenChannel["snr"] as? Double ?? 0) - ((bright - offset) / trueGain).squareRoot()) < 1e-9)
            #expect(abs((givenChannel["snr"] as? Double ?? 0) - trueSNR) / trueSNR < 0.10)
            #expect(givenChannel["snrMethod"] as? String == "given gain and offset")
        }

        let noise = try await score([path("gaussian_noise.tif")])
        let sigma = try #require(((noise.json["channels"] as? [[String: Any]])?.first)?["noiseSigma"] as? Double)
        #expect(abs(sigma - 12) / 12 < 0.05, "noise σ \(sigma) for 12")
        print("Gaussian noise: σ \(sigma) for 12")
        // Constant noise is not shot noise: no SNR is invented.
        #expect(((noise.json["channels"] as? [[String: Any]])?.first)?["snr"] is NSNull)

        let saturated = try await score([path("saturated_12bit.tif"), "--significant-bits", "12"])
        let channel = try #require((saturated.json["channels"] as? [[String: Any]])?.first)
        #expect(channel["saturationFraction"] as? Double == truth["saturated_12bit.tif"]?["saturated_fraction"] as? Double)
        #expect(channel["saturationLevel"] as? Double == 4095)
        #expect(saturated.json["verdict"] as? String == "fail")
        #expect((saturated.json["tags"] as? [String])?.contains("qc:saturated") == true)
        #expect((saturated.json["reasons"] as? [String])?.first?.contains("saturated at 4095 (fail above 1%)") == true, "\(saturated.json["reasons"] ?? "")")
        // Without the bit depth, the container's maximum: nothing reaches 65535.
        let container = try await score([path("saturated_12bit.tif")])
        #expect(((container.json["channels"] as? [[String: Any]])?.first)?["saturationFraction"] as? Double == 0)
        #expect(container.json["significantBitsSource"] as? String == "container")

        let stack = try await score([path("zstack_u8.tif")])
        #expect(stack.json["bestFocusPlane"] as? Int == truth["zstack_u8.tif"]?["sharpest_plane"] as? Int)

        let flat = try await score([path("flat_field.tif"), "--flat-field"])
        let uniformity = try #require(((flat.json["channels"] as? [[String: Any]])?.first)?["uniformity"] as? Double)
        let trueUniformity = try #require(truth["flat_field.tif"]?["uniformity"] as? Double)
        #expect(abs(uniformity - trueUniformity) < 1.5, "uniformity \(uniformity), noiseless field \(trueUniformity)")
        #expect((flat.json["tags"] as? [String])?.contains("qc:non-uniform") == true)
        #expect((flat.json["tags"] as? [String])?.contains("qc:out-of-focus") == false, "a flat field has nothing to focus on")
    }

    @Test func theJSONHasEveryDocumentedKey() async throws {
        _ = try await cases()
        let result = try await score([path("zstack_u8.tif")])
        for key in ["channels", "bestFocusPlane", "verdict", "reasons", "tags", "methodVersion", "significantBits", "thresholds"] {
            #expect(result.json[key] != nil, "\(key)")
        }
        let channel = (result.json["channels"] as? [[String: Any]])?.first ?? [:]
        for key in ["index", "name", "saturationFraction", "zeroFraction", "snr", "snrMethod", "background", "noiseSigma",
                    "signalToBackground", "dynamicRangeUsage", "focus"] {
            #expect(channel[key] != nil, "\(key) is present (null when it does not apply)")
        }
        #expect(result.json["methodVersion"] as? Int == 1)
    }

    @Test func thresholdsFromAFileChangeTheVerdict() async throws {
        _ = try await cases()
        let settings = folder.appendingPathComponent("thresholds.yaml")
        try Data("saturationFail: 0.5\nsaturationWarn: 0.2\n".utf8).write(to: settings)
        let lenient = try await score([path("saturated_12bit.tif"), "--significant-bits", "12", "--thresholds", settings.path])
        #expect(lenient.json["verdict"] as? String == "pass", "\(lenient.output)")

        let unknown = folder.appendingPathComponent("unknown.yaml")
        try Data("saturationFial: 0.5\n".utf8).write(to: unknown)
        let refused = try await TestEnvironment.run(try TestEnvironment.executable("fairway-qc"), ["score", path("saturated_12bit.tif"), "--thresholds", unknown.path])
        #expect(refused.status == 64)
        #expect(refused.output.contains("unknown QC threshold 'saturationFial'"), "\(refused.output)")

        let halfCalibrated = try await TestEnvironment.run(try TestEnvironment.executable("fairway-qc"), ["score", path("saturated_12bit.tif"), "--gain", "2"])
        #expect(halfCalibrated.status == 64)
        #expect(halfCalibrated.output.contains("give --gain and --offset together"), "\(halfCalibrated.output)")
    }

    /// Broken and hostile files: exit 1 with one line saying what is wrong, nothing else.
    @Test func hostileFilesAreRefusedWithTheReason() async throws {
        _ = try await cases()
        let good = try Data(contentsOf: URL(fileURLWithPath: path("poisson_patches.tif")))
        let truncated = folder.appendingPathComponent("truncated.tif")
        try good.prefix(good.count / 2).write(to: truncated)
        let notTIFF = folder.appendingPathComponent("not.tif")
        try Data("this is not an image\n".utf8).write(to: notTIFF)
        let empty = folder.appendingPathComponent("empty.tif")
        try Data().write(to: empty)
        // A header announcing a 2^31 × 2^31 image in one strip.
        var huge = Data([0x49, 0x49, 0x2A, 0x00, 0x08, 0x00, 0x00, 0x00])
        let entries: [(UInt16, UInt16, UInt32, UInt32)] = [(256, 4, 1, 0x8000_0000), (257, 4, 1, 0x8000_0000), (258, 3, 1, 16),
                                                            (259, 3, 1, 1), (262, 3, 1, 1), (273, 4, 1, 8), (277, 3, 1, 1), (278, 4, 1, 0x8000_0000), (279, 4, 1, 16)]
        huge.append(contentsOf: withUnsafeBytes(of: UInt16(entries.count).littleEndian, Array.init))
        for (tag, type, count, value) in entries {
            huge.append(contentsOf: withUnsafeBytes(of: tag.littleEndian, Array.init))
            huge.append(contentsOf: withUnsafeBytes(of: type.littleEndian, Array.init))
            huge.append(contentsOf: withUnsafeBytes(of: count.littleEndian, Array.init))
            if type == 3 {
                huge.append(contentsOf: withUnsafeBytes(of: UInt16(value).littleEndian, Array.init) + [0, 0])
            } else {
                huge.append(contentsOf: withUnsafeBytes(of: value.littleEndian, Array.init))
            }
        }
        huge.append(contentsOf: [0, 0, 0, 0])
        let hugeFile = folder.appendingPathComponent("huge.tif")
        try huge.write(to: hugeFile)

        for (file, reason) in [(truncated.path, "truncated"), (notTIFF.path, "not.tif"), (empty.path, "empty.tif"),
                               (hugeFile.path, "huge.tif"), (folder.path, folder.lastPathComponent), (path("missing.tif"), "missing.tif")] {
            let result = try await TestEnvironment.run(try TestEnvironment.executable("fairway-qc"), ["score", "--json", file])
            #expect(result.status == 1, "\(file): \(result.output)")
            let lines = result.output.split(separator: "\n")
            #expect(lines.count == 1 && lines[0].hasPrefix("fairway-qc: ") && lines[0].contains(reason), "\(file): \(result.output)")
        }
    }
}
