import FairwayTestSupport
import FairwayXML
import Foundation
import Glibc
import Testing

/// XSD validation: what a schema accepts and rejects (with lines), schemas that cannot be loaded,
/// the network staying off while loading, and the real OME 2016-06 schema as ome-types ships it.
@Suite struct XMLSchemaTests {
    let folder: URL

    init() throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("xmlschema-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    }

    @discardableResult
    func write(_ name: String, _ text: String) throws -> String {
        let url = folder.appendingPathComponent(name)
        try text.write(to: url, atomically: true, encoding: .utf8)
        return url.path
    }

    /// A small schema in two files: the include is relative, resolved next to the main file.
    func notesSchema() throws -> String {
        try write("types.xsd", """
            <?xml version="1.0"?>
            <xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema" targetNamespace="urn:fairway:notes">
              <xs:simpleType name="Kind"><xs:restriction base="xs:string"><xs:enumeration value="todo"/><xs:enumeration value="done"/></xs:restriction></xs:simpleType>
            </xs:schema>
            """)
        return try write("notes.xsd", """
            <?xml version="1.0"?>
            <xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema" xmlns="urn:fairway:notes" targetNamespace="urn:fairway:notes" elementFormDefault="qualified">
              <xs:include schemaLocation="types.xsd"/>
              <xs:element name="notes">
                <xs:complexType><xs:sequence><xs:element name="note" minOccurs="0" maxOccurs="unbounded">
                  <xs:complexType><xs:simpleContent><xs:extension base="xs:string">
                    <xs:attribute name="id" type="xs:positiveInteger" use="required"/>
                    <xs:attribute name="kind" type="Kind"/>
                  </xs:extension></xs:simpleContent></xs:complexType>
                </xs:element></xs:sequence></xs:complexType>
              </xs:element>
            </xs:schema>
            """)
    }

    @Test func acceptsAValidDocumentAndNamesTheLinesOfAnInvalidOne() throws {
        let path = try notesSchema()
        let schema = try XMLSchema(path: path)
        #expect(schema.path == path)
        let valid = try XMLDocument(parsing: """
            <notes xmlns="urn:fairway:notes">
              <note id="1" kind="todo">buy film</note>
              <note id="2">develop</note>
            </notes>
            """)
        #expect(schema.validate(valid) == [])
        let invalid = try XMLDocument(parsing: """
            <?xml version="1.0"?>
            <notes xmlns="urn:fairway:notes">
              <note id="1">fine</note>
              <note id="-1">negative</note>
              <note id="3" kind="maybe">unknown kind</note>
              <memo/>
            </notes>
            """)
        let errors = schema.validate(invalid)
        #expect(errors.map(\.line) == [4, 5, 6], "\(errors)")
        #expect(errors.count == 3 && errors[0].description.contains("'-1'") && errors[1].description.contains("'maybe'") && errors[2].description.contains("memo"), "\(errors)")
        #expect(errors.allSatisfy { !$0.description.hasSuffix("\n") && !$0.description.hasSuffix(" ") })
        // The same compiled schema keeps working, and the document was not changed by validation.
        #expect(schema.validate(valid) == [])
        #expect(schema.validate(invalid) == errors)
        // A file: URL is a local file too.
        let byURL = try write("by-url.xsd", try String(contentsOfFile: path, encoding: .utf8)
            .replacingOccurrences(of: "schemaLocation=\"types.xsd\"", with: "schemaLocation=\"file://\(folder.path)/types.xsd\""))
        #expect(try XMLSchema(path: byURL).validate(invalid).count == 3)
    }

    @Test func returnsAtMostTwentyErrors() throws {
        let schema = try XMLSchema(path: try notesSchema())
        let notes = (1 ... 50).map { "<note id=\"x\($0)\"/>" }.joined(separator: "\n")
        let errors = schema.validate(try XMLDocument(parsing: "<notes xmlns=\"urn:fairway:notes\">\n\(notes)\n</notes>"))
        #expect(errors.count == XMLSchema.maxErrors && XMLSchema.maxErrors == 20)
        #expect(errors.map(\.line) == Array(2 ... 21).map { Optional($0) }, "\(errors)")
    }

    @Test func oneCompiledSchemaValidatesOnSeveralThreadsAtOnce() async throws {
        let schema = try XMLSchema(path: try notesSchema())
        let results = await withTaskGroup(of: [Int?].self) { group in
            for index in 0 ..< 16 {
                group.addTask {
                    let notes = (0 ..< 200).map { "<note id=\"\($0 == index ? "0" : "1")\">n</note>" }.joined(separator: "\n")
                    guard let document = try? XMLDocument(parsing: "<notes xmlns=\"urn:fairway:notes\">\n\(notes)\n</notes>") else { return [] }
                    return schema.validate(document).map(\.line)
                }
            }
            return await group.reduce(into: Set<[Int?]>()) { $0.insert($1) }
        }
        #expect(results == Set((0 ..< 16).map { [$0 + 2] }))
    }

    @Test func aMissingFileIsAnErrorNamingIt() throws {
        let path = folder.appendingPathComponent("absent.xsd").path
        do {
            _ = try XMLSchema(path: path)
            Issue.record("loaded a missing file")
        } catch {
            #expect(error.description.contains(path), "\(error)")
        }
        #expect(throws: XMLError.self) { try XMLSchema(path: "") }
    }

    @Test func aFileThatIsNotASchemaIsAnError() throws {
        let cases: [(String, String, String)] = [
            ("text.xsd", "just some text\n", "line 1"),
            ("broken.xsd", "<xs:schema xmlns:xs=\"http://www.w3.org/2001/XMLSchema\">\n<xs:element name=\"a\">\n</xs:schema>", "line 3"),
            ("html.xsd", "<html><body/></html>", "not a schema"),
            ("badtype.xsd", "<xs:schema xmlns:xs=\"http://www.w3.org/2001/XMLSchema\">\n<xs:element name=\"a\" type=\"xs:nonsense\"/>\n</xs:schema>", "line 2"),
        ]
        for (name, text, words) in cases {
            let path = try write(name, text)
            do {
                _ = try XMLSchema(path: path)
                Issue.record("\(name) loaded")
            } catch {
                #expect(error.description.contains(words), "\(name): \(error)")
            }
        }
    }

    /// Imports and includes of URLs, direct or from an included local file, fail with the URL
    /// named; a listening socket on the port they name proves nothing even tried to connect.
    @Test func urlsInASchemaAreRefusedWithoutConnecting() throws {
        let listener = LoopbackSocket(listening: true)
        let port = listener.port
        let urls = ["http://127.0.0.1:\(port)/x.xsd", "https://127.0.0.1:\(port)/x.xsd", "ftp://127.0.0.1:\(port)/x.xsd", "HTTP://127.0.0.1:\(port)/y.xsd"]
        var schemas: [(String, String, Int)] = []
        for (index, url) in urls.enumerated() {
            schemas.append(("import\(index).xsd", """
                <xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema" targetNamespace="urn:a">
                  <xs:import namespace="urn:b"
                             schemaLocation="\(url)"/>
                </xs:schema>
                """, url.count))
            schemas.append(("include\(index).xsd", """
                <xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema" targetNamespace="urn:a">
                  <xs:include schemaLocation="\(url)"/>
                </xs:schema>
                """, url.count))
        }
        // An external entity in the schema document itself goes the same way.
        schemas.append(("entity.xsd", """
            <!DOCTYPE xs:schema [<!ENTITY e SYSTEM "http://127.0.0.1:\(port)/e.txt">]>
            <xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema" targetNamespace="urn:a"><xs:annotation><xs:documentation>&e;</xs:documentation></xs:annotation></xs:schema>
            """, 0))
        // One step removed: a local include that itself imports a URL.
        try write("remote-import.xsd", """
            <xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema" targetNamespace="urn:a">
              <xs:import namespace="urn:b" schemaLocation="http://127.0.0.1:\(port)/nested.xsd"/>
            </xs:schema>
            """)
        schemas.append(("nested.xsd", """
            <xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema" targetNamespace="urn:a">
              <xs:include schemaLocation="remote-import.xsd"/>
            </xs:schema>
            """, 0))
        for (name, text, _) in schemas {
            let path = try write(name, text)
            do {
                _ = try XMLSchema(path: path)
                Issue.record("\(name) loaded")
            } catch {
                let text = error.description
                #expect(text.contains("refused to fetch http") || text.contains("refused to fetch https") || text.contains("refused to fetch ftp") || text.contains("refused to fetch HTTP"), "\(name): \(error)")
                #expect(text.contains("127.0.0.1:\(port)") && text.contains("network access is off"), "\(name): \(error)")
                // libxml2 numbers an element by the line its start tag ends on.
                #expect(error.line == (name.hasPrefix("import") ? 3 : name == "entity.xsd" ? nil : 2), "\(name): \(error)")
                if name == "nested.xsd" { #expect(text.contains("remote-import.xsd"), "the file holding the import is named: \(error)") }
            }
        }
        #expect(listener.connectionsAttempted() == 0)
        // The check itself works: a connection made here is seen.
        #expect(listener.connectOnce())
        #expect(listener.connectionsAttempted() == 1)
    }

    /// The real OME schema, from the ome-types package (never copied into the repository). It
    /// imports the XML namespace's schema from www.w3.org, which is built in: no network needed.
    @Test func theOMESchemaValidatesOMEXML() throws {
        let path = try Self.omeSchemaPath()
        let started = ContinuousClock.now
        let schema = try XMLSchema(path: path)
        print("OME schema \(path) compiled in \(ContinuousClock.now - started)")
        let valid = try XMLDocument(parsing: Self.ome(sizeX: "24", order: "XYCZT"))
        #expect(schema.validate(valid) == [])
        let invalid = try XMLDocument(parsing: Self.ome(sizeX: "-3", order: "XYZZY"))
        let errors = schema.validate(invalid)
        print("OME-XML errors: \(errors)")
        #expect(errors.count == 2, "\(errors)")
        #expect(errors.allSatisfy { $0.line == 5 }, "\(errors)")
        #expect(errors.contains { $0.description.contains("SizeX") && $0.description.contains("'-3'") }, "\(errors)")
        #expect(errors.contains { $0.description.contains("DimensionOrder") && $0.description.contains("'XYZZY'") }, "\(errors)")
        // Elements the schema does not know, and a required attribute missing.
        let unknown = try XMLDocument(parsing: Self.ome(sizeX: "24", order: "XYCZT").replacingOccurrences(of: "<TiffData/>", with: "<TiffData/>\n<Bogus/>")
            .replacingOccurrences(of: " Type=\"uint16\"", with: ""))
        let more = schema.validate(unknown)
        #expect(more.map(\.line) == [5, 8], "\(more)")
    }

    static func ome(sizeX: String, order: String) -> String {
        """
        <?xml version="1.0" encoding="UTF-8"?>
        <OME xmlns="http://www.openmicroscopy.org/Schemas/OME/2016-06" Creator="Fairway tests">
          <Image ID="Image:0" Name="test">
            <AcquisitionDate>2025-03-14T15:09:26</AcquisitionDate>
            <Pixels ID="Pixels:0" DimensionOrder="\(order)" Type="uint16" SizeX="\(sizeX)" SizeY="16" SizeZ="1" SizeC="1" SizeT="1" PhysicalSizeX="0.5">
              <Channel ID="Channel:0:0" Name="DAPI" SamplesPerPixel="1"/>
              <TiffData/>
            </Pixels>
          </Image>
        </OME>
        """
    }

    /// Where ome-types' copy of ome-2016-06.xsd is, as the Python in FAIRWAY_PYTHON (or python3) says.
    static func omeSchemaPath() throws -> String {
        let python = ProcessInfo.processInfo.environment["FAIRWAY_PYTHON"].flatMap { $0.isEmpty ? nil : $0 } ?? "python3"
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [python, "-c", "import ome_types, os; print(os.path.join(os.path.dirname(ome_types.__file__), 'ome-2016-06.xsd'))"]
        let output = Pipe()
        process.standardOutput = output
        process.standardError = output
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let text = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        try #require(process.terminationStatus == 0, "\(python) cannot import ome_types (pip install ome-types): \(text.suffix(500))")
        try #require(FileManager.default.fileExists(atPath: text), "ome_types has no ome-2016-06.xsd at \(text)")
        return text
    }
}
