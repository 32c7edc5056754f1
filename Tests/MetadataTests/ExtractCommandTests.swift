import FairwayMetadata
import FairwayTestSupport
import Foundation
import Testing

/// `fairway-metadata extract` against what ome-types reads from the same OME-XML, the ImageJ and
/// plain cases, the facility fixtures, and hostile XML.
@Suite struct ExtractCommandTests {
    let folder: URL

    init() throws {
        folder = try TestEnvironment.temporaryFolder("metadata")
    }

    func extract(_ path: String) async throws -> (status: Int32, json: [String: Any], output: String) {
        let result = try await TestEnvironment.run(try TestEnvironment.executable("fairway-metadata"), ["extract", "--json", path])
        let line = result.output.split(separator: "\n").last.map(String.init) ?? ""
        let json = (try? JSONSerialization.jsonObject(with: Data(line.utf8))) as? [String: Any] ?? [:]
        return (result.status, json, result.output)
    }

    func cases(_ script: String) async throws -> [String: [String: Any]] {
        let made = try await TestEnvironment.pythonJSON(script, [folder.path])
        try #require(made.status == 0, "\(made.output)")
        return made.json as? [String: [String: Any]] ?? [:]
    }

    @Test func omeXMLGivesWhatOMETypesReads() async throws {
        let made = try await cases("make_metadata_cases.py")
        let expect = try #require(made["2025-03-14_rich.ome.tif"]?["expect"] as? [String: Any])
        let result = try await extract(folder.appendingPathComponent("2025-03-14_rich.ome.tif").path)
        try #require(result.status == 0, "\(result.output)")
        let m = result.json
        #expect([m["sizeX"], m["sizeY"], m["sizeZ"], m["sizeC"], m["sizeT"]].compactMap { $0 as? Int } == expect["sizes"] as? [Int])
        #expect(m["pixelType"] as? String == expect["pixelType"] as? String)
        #expect(m["dimensionOrder"] as? String == expect["dimensionOrder"] as? String)
        #expect(m["significantBits"] as? Int == expect["significantBits"] as? Int)
        let physical = [m["physicalSizeX"], m["physicalSizeY"], m["physicalSizeZ"]].compactMap { $0 as? Double }
        let expectedPhysical = expect["physical"] as? [Double] ?? []
        #expect(physical.count == 3 && zip(physical, expectedPhysical).allSatisfy { abs($0 - $1) < 1e-9 }, "\(physical) vs \(expectedPhysical): nm and mm normalised to µm")
        #expect(abs((m["timeIncrement"] as? Double ?? 0) - (expect["timeIncrement"] as? Double ?? -1)) < 1e-9)
        let channels = m["channels"] as? [[String: Any]] ?? []
        #expect(channels.map { $0["name"] as? String } == (expect["channels"] as? [String])?.map { Optional($0) })
        #expect(channels.map { $0["emissionWavelength"] as? Double } == (expect["emission"] as? [Double])?.map { Optional($0) })
        #expect(channels.map { $0["excitationWavelength"] as? Double } == (expect["excitation"] as? [Double])?.map { Optional($0) })
        #expect(m["imageName"] as? String == expect["imageName"] as? String)
        #expect(m["acquisitionDate"] as? String == expect["acquisitionDate"] as? String)
        #expect(m["experimenter"] as? String == expect["experimenter"] as? String)
        let instrument = m["instrument"] as? [String: Any] ?? [:]
        let microscope = instrument["microscope"] as? [String: Any] ?? [:]
        #expect([microscope["manufacturer"] as? String, microscope["model"] as? String] == (expect["microscope"] as? [String])?.map { Optional($0) })
        let objective = (instrument["objectives"] as? [[String: Any]])?.first ?? [:]
        let expectedObjective = expect["objective"] as? [Any] ?? []
        #expect(objective["model"] as? String == expectedObjective.first as? String)
        #expect(objective["nominalMagnification"] as? Double == expectedObjective[1] as? Double)
        #expect(objective["lensNA"] as? Double == expectedObjective[2] as? Double)
        let lasers = (instrument["lightSources"] as? [[String: Any]] ?? []).compactMap { $0["wavelength"] as? Double }
        #expect(lasers == expect["lasers"] as? [Double])
        #expect(m["annotations"] as? [String: String] == expect["annotations"] as? [String: String])
        let tags = m["machineTags"] as? [String: String] ?? [:]
        #expect(tags["microscope"] == "Leica SP8" && tags["objective"] == "HC PL APO 40x/1.30 OIL" && tags["lasers"] == "488 nm, 561 nm")
        #expect(tags["filters"] == "BP 525/50" && tags["user"] == "jdupont" && tags["acquisitionDate"] == "2025-03-14T15:09:26")
        #expect((m["naming"] as? [String: Any])?["date"] as? String == "2025-03-14")
    }

    @Test func hostileXMLIsRefusedByNameAndQuickly() async throws {
        let made = try await cases("make_metadata_cases.py")
        let bad = made.filter { $0.value["kind"] as? String == "bad" }
        #expect(bad.count >= 9)
        for (name, entry) in bad.sorted(by: { $0.key < $1.key }) {
            let started = ContinuousClock.now
            let result = try await extract(folder.appendingPathComponent(name).path)
            let lines = result.output.split(separator: "\n")
            #expect(result.status == 1 && lines.count == 1 && lines[0].hasPrefix("fairway-metadata: "), "\(name): \(result.output.prefix(400))")
            #expect(result.output.contains(entry["reason"] as? String ?? "?"), "\(name): \(result.output.prefix(400))")
            print("\(name): refused in \(ContinuousClock.now - started): \(result.output.prefix(160))")
        }
    }

    @Test func imageJAndPlainTIFFsGiveTheirCalibrationAndShape() async throws {
        _ = try await cases("make_convert_cases.py")
        let imagej = try await extract(folder.appendingPathComponent("hyperstack_imagej.tif").path).json
        #expect(imagej["source"] as? String == "imagej")
        #expect([imagej["sizeX"], imagej["sizeY"], imagej["sizeZ"], imagej["sizeC"], imagej["sizeT"]].compactMap { $0 as? Int } == [160, 128, 5, 2, 3])
        #expect(imagej["physicalSizeX"] as? Double == 0.325 && imagej["physicalSizeZ"] as? Double == 1.5 && imagej["timeIncrement"] as? Double == 2)
        let plain = try await extract(folder.appendingPathComponent("int16_packbits.tif").path).json
        #expect(plain["pixelType"] as? String == "int16" && plain["sizeX"] as? Int == 517 && plain["physicalSizeX"] is NSNull)
        let dated = try await extract(folder.appendingPathComponent("dated_instrument.tif").path).json
        #expect(dated["acquisitionDate"] as? String == "2026-11-02T09:14:00")
        #expect((dated["machineTags"] as? [String: String])?["microscope"] == "Zeiss LSM 980")
        let rgb = try await extract(folder.appendingPathComponent("rgb_lzw_striped.tif").path).json
        #expect((rgb["channels"] as? [[String: Any]])?.compactMap { $0["name"] as? String } == ["Red", "Green", "Blue"])
        let truncated = try await extract(folder.appendingPathComponent("truncated.tif").path)
        #expect(truncated.status == 1 && truncated.output.contains("past the end"), "\(truncated.output)")
    }

    /// The facility's fixtures, when the checkout sits next to them: the manifest's values.
    @Test func sharedFixturesGiveTheirManifestValues() async throws {
        let fixtures = TestEnvironment.repositoryRoot.deletingLastPathComponent().appendingPathComponent("shared/fixtures")
        guard let data = try? Data(contentsOf: fixtures.appendingPathComponent("MANIFEST.json")) else {
            print("no ../shared/fixtures next to the checkout: the generated cases cover the same kinds")
            return
        }
        let manifest = try JSONSerialization.jsonObject(with: data) as? [String: [String: Any]] ?? [:]
        for (name, entry) in manifest.sorted(by: { $0.key < $1.key }) {
            let result = try await extract(fixtures.appendingPathComponent(name).path)
            if entry["kind"] as? String == "bad" {
                #expect(result.status == 1, "\(name): \(result.output)")
                continue
            }
            #expect(result.status == 0, "\(name): \(result.output)")
            let m = result.json
            let shape = entry["shape"] as? [Int] ?? []
            let rgb = entry["rgb"] as? Bool ?? false
            #expect(m["sizeY"] as? Int == shape[rgb ? shape.count - 3 : shape.count - 2] && m["sizeX"] as? Int == shape[rgb ? shape.count - 2 : shape.count - 1], "\(name)")
            #expect(m["pixelType"] as? String == (entry["dtype"] as? String).map { $0 == "float32" ? "float" : $0 }, "\(name)")
            if let xy = entry["physical_size_xy_um"] as? Double { #expect(m["physicalSizeX"] as? Double == xy, "\(name)") }
            if let z = entry["physical_size_z_um"] as? Double { #expect(m["physicalSizeZ"] as? Double == z, "\(name)") }
            if let channels = entry["channels"] as? [String] { #expect((m["channels"] as? [[String: Any]])?.compactMap { $0["name"] as? String } == channels, "\(name)") }
            if let instrument = entry["instrument"] as? String { #expect((m["machineTags"] as? [String: String])?["microscope"] == instrument, "\(name)") }
            if let objective = entry["objective"] as? String { #expect((m["machineTags"] as? [String: String])?["objective"] == objective, "\(name)") }
            if let acquired = entry["acquired"] as? String { #expect(m["acquisitionDate"] as? String == acquired, "\(name)") }
        }
    }

    @Test func fileNamesAreFlaggedNeverRejected() {
        #expect(FileNaming(fileName: "2026-11-02_NUC_hela_amartin_ctrl_RAW_v01.ome.tif").flags.isEmpty)
        let bad = FileNaming(fileName: "Copie de l'échantillon (2).tif")
        #expect(bad.flags.contains("contains spaces") && bad.flags.contains { $0.hasPrefix("contains accents") })
        #expect(bad.flags.contains { $0.hasPrefix("contains special characters") } && bad.flags.contains("no ISO-8601 date (yyyy-MM-dd)"))
        #expect(FileNaming(fileName: String(repeating: "a", count: 129) + "_2026-01-31").flags == ["longer than 128 characters (140)"])
        #expect(FileNaming(fileName: "2026-13-40_x.tif").date == nil && FileNaming(fileName: "12026-01-31.tif").date == nil)
    }

    @Test func aNamingPatternGivesFieldsOrAFlag() async throws {
        let pattern = try NamingPattern("{date:yyyy-MM-dd}_{project}_{sample}_{creator}_{condition}_{type}_v{version:int}")
        let good = FileNaming(fileName: "2026-11-02_NUC_hela_amartin_ctrl_RAW_v01.ome.tif", pattern: pattern)
        #expect(good.fields == ["date": "2026-11-02", "project": "NUC", "sample": "hela", "creator": "amartin", "condition": "ctrl", "type": "RAW", "version": "01"])
        #expect(good.flags.isEmpty && good.mismatch == nil && good.pattern == pattern.pattern)
        let off = FileNaming(fileName: "2026-11-02_NUC_hela.ome.tif", pattern: pattern)
        #expect(off.fields == nil && off.mismatch != nil)
        #expect(off.flags.contains { $0.hasPrefix("does not follow the naming pattern: ") })

        // Through the CLI, on a real file.
        let made = try await cases("make_metadata_cases.py")
        #expect(made["2025-03-14_rich.ome.tif"] != nil)
        let result = try await TestEnvironment.run(try TestEnvironment.executable("fairway-metadata"),
                                                   ["extract", "--json", "--naming-pattern", "{date:yyyy-MM-dd}_{sample}", folder.appendingPathComponent("2025-03-14_rich.ome.tif").path])
        let json = (try? JSONSerialization.jsonObject(with: Data((result.output.split(separator: "\n").last.map(String.init) ?? "").utf8))) as? [String: Any] ?? [:]
        #expect((json["naming"] as? [String: Any])?["fields"] as? [String: String] == ["date": "2025-03-14", "sample": "rich"], "\(result.output)")
        let refused = try await TestEnvironment.run(try TestEnvironment.executable("fairway-metadata"), ["extract", "--naming-pattern", "{a}{b}", "x.tif"])
        #expect(refused.status == 64 && refused.output.contains("--naming-pattern"), "\(refused.output)")
    }
}
