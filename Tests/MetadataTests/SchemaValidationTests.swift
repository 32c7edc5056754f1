import FairwayTestSupport
import Foundation
import Testing

/// FAIRWAY_OME_XSD: `fairway-metadata extract` checks OME-XML against the operator's schema (here
/// ome-types' copy of ome-2016-06.xsd, never copied into the repository) and refuses what fails.
@Suite struct SchemaValidationTests {
    let folder: URL

    init() throws {
        folder = try TestEnvironment.temporaryFolder("schema")
    }

    static func ome(order: String) -> String {
        """
        <?xml version="1.0" encoding="UTF-8"?>
        <OME xmlns="http://www.openmicroscopy.org/Schemas/OME/2016-06">
          <Image ID="Image:0" Name="checked">
            <Pixels ID="Pixels:0" DimensionOrder="\(order)" Type="uint16" SizeX="24" SizeY="16" SizeZ="1" SizeC="1" SizeT="1">
              <Channel ID="Channel:0:0" SamplesPerPixel="1"/>
              <TiffData/>
            </Pixels>
          </Image>
        </OME>
        """
    }

    /// An OME-TIFF with exactly `xml` as its description, written by tifffile.
    func omeTIFF(_ name: String, _ xml: String) async throws -> String {
        let xmlPath = folder.appendingPathComponent(name + ".xml").path
        let tiffPath = folder.appendingPathComponent(name).path
        try xml.write(toFile: xmlPath, atomically: true, encoding: .utf8)
        let made = try await TestEnvironment.run(TestEnvironment.python, ["-c", """
            import sys, numpy, tifffile
            tifffile.imwrite(sys.argv[2], numpy.zeros((16, 24), numpy.uint16), description=open(sys.argv[1], 'rb').read(), metadata=None)
            """, xmlPath, tiffPath])
        try #require(made.status == 0, "\(made.output)")
        return tiffPath
    }

    func omeSchema() async throws -> String {
        let found = try await TestEnvironment.run(TestEnvironment.python, ["-c", "import ome_types, os; print(os.path.join(os.path.dirname(ome_types.__file__), 'ome-2016-06.xsd'))"])
        let path = found.output.trimmingCharacters(in: .whitespacesAndNewlines)
        try #require(found.status == 0 && FileManager.default.fileExists(atPath: path), "ome_types' ome-2016-06.xsd not found (pip install ome-types): \(found.output.suffix(500))")
        return path
    }

    func extract(_ path: String, schema: String) async throws -> (status: Int32, lines: [Substring], output: String) {
        let result = try await TestEnvironment.run(try TestEnvironment.executable("fairway-metadata"), ["extract", "--json", path], environment: ["FAIRWAY_OME_XSD": schema])
        return (result.status, result.output.split(separator: "\n"), result.output)
    }

    @Test func extractRefusesOMEXMLThatDoesNotValidate() async throws {
        let schema = try await omeSchema()
        let valid = try await omeTIFF("valid.ome.tif", Self.ome(order: "XYCZT"))
        let invalid = try await omeTIFF("invalid.ome.tif", Self.ome(order: "XYZZY"))

        let good = try await extract(valid, schema: schema)
        #expect(good.status == 0, "\(good.output)")
        let json = (try? JSONSerialization.jsonObject(with: Data((good.lines.last ?? "").utf8))) as? [String: Any] ?? [:]
        #expect(json["source"] as? String == "ome-xml" && json["dimensionOrder"] as? String == "XYCZT", "\(good.output)")

        let bad = try await extract(invalid, schema: schema)
        #expect(bad.status == 1 && bad.lines.count == 1 && bad.output.hasPrefix("fairway-metadata: \(invalid): OME-XML does not validate against \(schema): line 4: "), "\(bad.output)")
        #expect(bad.output.contains("DimensionOrder") && bad.output.contains("'XYZZY'"), "\(bad.output)")

        // Without the variable (empty counts as unset), the same file is described.
        let unchecked = try await extract(invalid, schema: "")
        #expect(unchecked.status == 0, "\(unchecked.output)")
    }

    @Test func aSchemaThatCannotBeLoadedStopsTheCommand() async throws {
        let valid = try await omeTIFF("valid.ome.tif", Self.ome(order: "XYCZT"))
        let missing = folder.appendingPathComponent("absent.xsd").path
        let remote = folder.appendingPathComponent("remote.xsd").path
        try """
            <xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema" targetNamespace="http://www.openmicroscopy.org/Schemas/OME/2016-06">
              <xs:include schemaLocation="http://127.0.0.1:9/ome.xsd"/>
            </xs:schema>
            """.write(toFile: remote, atomically: true, encoding: .utf8)
        for (schema, words) in [(missing, missing), (remote, "refused to fetch http://127.0.0.1:9/ome.xsd")] {
            let result = try await extract(valid, schema: schema)
            #expect(result.status == 1 && result.lines.count == 1, "\(result.output)")
            #expect(result.output.hasPrefix("fairway-metadata: FAIRWAY_OME_XSD=\(schema): cannot load the schema: ") && result.output.contains(words), "\(result.output)")
        }
    }
}
