import FairwayExports
import FairwayHarvesting
import FairwayXML
import Foundation
import Testing

/// Hostile and malformed input to the interop parsers: OAI-PMH requests and resumption tokens,
/// ISA-JSON imports, OMERO path maps; and the escaping of what the exports write.
@Suite("interop parsers and writers")
struct InteropInputTests {
    func code(_ query: String) -> String? {
        if case .failure(let error) = OAIRequest.parse(query) { return error.code.rawValue }
        return nil
    }

    @Test("OAI-PMH requests: verbs, required/optional/exclusive arguments, repeats, encodings and dates are checked per the protocol")
    func oaiRequests() {
        #expect(code("verb=Identify") == nil)
        #expect(code("verb=ListRecords&metadataPrefix=oai_dc&from=2026-01-01&until=2026-12-31&set=NUC") == nil)
        #expect(code("verb=GetRecord&identifier=oai%3Ax%3A10.5072%2FABCD-EFGHJ&metadataPrefix=oai_datacite") == nil)
        #expect(code("") == "badVerb")
        #expect(code("verb=") == "badVerb")
        #expect(code("verb=Identify&verb=Identify") == "badVerb")
        #expect(code("verb=DropTables") == "badVerb")
        #expect(code("verb=identify") == "badVerb", "verbs are case-sensitive")
        #expect(code("verb=Identify&extra=1") == "badArgument")
        #expect(code("verb=ListRecords") == "badArgument", "metadataPrefix is required")
        #expect(code("verb=ListRecords&metadataPrefix=oai_dc&metadataPrefix=oai_dc") == "badArgument")
        #expect(code("verb=ListRecords&metadataPrefix=oai_dc&resumptionToken=abc") == "badArgument", "the token is exclusive")
        #expect(code("verb=Identify&resumptionToken=abc") == "badArgument")
        #expect(code("verb=ListRecords&resumptionToken=") == "badResumptionToken")
        #expect(code("verb=GetRecord&identifier=x") == "badArgument")
        #expect(code("verb=ListRecords&metadataPrefix=") == "badArgument")
        #expect(code("verb=ListRecords&metadataPrefix=oai_dc&from=%ZZ") == "badArgument", "bad percent-encoding")
        #expect(code("verb=ListRecords&metadataPrefix=oai_dc&set=a%00b") == "badArgument", "NUL")
        #expect(code("verb=ListRecords&metadataPrefix=oai_dc&set=%C0%AE%C0%AE") == "badArgument", "overlong UTF-8 is not valid percent-encoded UTF-8")
        #expect(code("verb=Identify&" + String(repeating: "a", count: 9000)) == "badArgument")
        for bad in ["2026-02-30", "2026-13-01", "26-01-01", "2026-01-01T10:00:00", "2026-01-01T25:00:00Z", "2026-01-01 10:00:00Z", "yesterday", "２０２６-01-01"] {
            #expect(code("verb=ListIdentifiers&metadataPrefix=oai_dc&from=\(bad.addingPercentEncoding(withAllowedCharacters: .alphanumerics)!)") == "badArgument", "\(bad)")
        }
        #expect(code("verb=ListIdentifiers&metadataPrefix=oai_dc&from=2026-01-01&until=2026-01-01T00:00:00Z") == "badArgument", "mixed granularity")
        #expect(code("verb=ListIdentifiers&metadataPrefix=oai_dc&from=2026-02-01&until=2026-01-01") == "badArgument", "from after until")
        #expect(code("verb=ListIdentifiers&metadataPrefix=oai_dc&from=2026-01-01&until=2026-01-01") == nil, "one whole day")
        let day = OAIDate("2026-01-01")!
        #expect(OAIDate.format(day.start) == "2026-01-01T00:00:00Z" && day.end.timeIntervalSince(day.start) > 86_399)
    }

    @Test("resumption tokens: only tokens this repository wrote are taken back")
    func tokens() throws {
        let token = ResumptionToken(prefix: "oai_dc", from: nil, until: Date(timeIntervalSince1970: 1_800_000_000), set: "NUC",
                                    afterDatestamp: Date(timeIntervalSince1970: 1_790_000_000), afterKey: "10.5072/ABCD-EFGHJ", cursor: 2)
        #expect(try ResumptionToken(decoding: token.encoded) == token)
        func forged(_ json: String) -> String { Data(json.utf8).base64EncodedString().replacingOccurrences(of: "=", with: "") }
        for bad in ["", "!!!", "a/b", String(repeating: "A", count: 2000), "bm90IGpzb24", token.encoded + "x%00",
                    forged(#"{"p":"oai_dc","k":"10.5072/X","c":-5,"d":1}"#), forged(#"{"p":"oai_dc","k":"x'; DROP","c":1,"d":1}"#),
                    forged(#"{"p":"oai_dc","k":"10.5072/X","c":1}"#), forged(#"{"k":"10.5072/X","c":1,"d":1}"#)] {
            #expect(throws: OAIError.self, "\(bad.prefix(40))") { try ResumptionToken(decoding: bad) }
        }
    }

    @Test("XML written from catalog text is always well-formed: markup escaped, characters XML cannot carry dropped")
    func xmlEscaping() throws {
        let hostile = "a & b <script>\"x\"</script> \u{0} \u{1B}[31m ]]> \u{FFFE} é 漢"
        let text = XMLNode("root", [("title", hostile)], text: hostile).document()
        let parsed = try XMLDocument(parsing: Array(text.utf8))
        #expect(parsed.root["title"]?.contains("<script>\"x\"</script>") == true)
        #expect(parsed.root.text.contains("]]>") && !parsed.root.text.contains("\u{1B}") && parsed.root.text.hasSuffix("é 漢"))
    }

    @Test("ISA-JSON imports: each malformed or hostile part is refused with where it is, nothing imported")
    func isaImport() throws {
        func refused(_ json: String) -> String {
            do { _ = try ISAImport(parsing: Data(json.utf8)); return "accepted" } catch { return error.description }
        }
        #expect(refused("[]").contains("the document must be an object"))
        #expect(refused("not json").contains("not JSON"))
        #expect(refused(#"{"studies": []}"#).contains("identifier must be a string"))
        #expect(refused(#"{"identifier": "../etc", "studies": []}"#).contains("is not a catalog name"))
        #expect(refused(#"{"identifier": "I", "studies": [{"identifier": "s t"}]}"#).contains("studies[0].identifier"))
        #expect(refused(#"{"identifier": "I", "studies": [{"identifier": "S", "assays": [{"filename": "a_../x.txt"}]}]}"#).contains("studies[0].assays[0].filename"))
        #expect(refused(#"{"identifier": "I", "studies": [{"identifier": "S", "assays": [{"filename": "a_A.txt", "dataFiles": [{"name": "/etc/passwd"}]}]}]}"#)
            .contains("dataFiles[0].name"))
        #expect(refused(#"{"identifier": "I", "studies": [{"identifier": "S", "assays": [{"filename": "a_A.txt", "dataFiles": [{"name": "x/../../y"}]}]}]}"#)
            .contains("not a relative logical path"))
        #expect(refused(#"{"identifier": "I", "studies": [], "comments": [{"name": 5, "value": "x"}]}"#).contains("comments[0].name must be a string"))
        #expect(refused(#"{"identifier": "I", "studies": [], "comments": [{"name": "tag:", "value": "x"}]}"#).contains("a tag needs a namespace"))
        #expect(refused(#"{"identifier": "I", "studies": [], "comments": [{"name": "ns%ZZ:key", "value": "x"}]}"#).contains("is not <namespace>:<key>"))
        let deep = String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000)
        #expect(refused(deep) != "accepted")

        // Comment names carry namespaces with ':' and '%' and the namespace "tag" exactly.
        for annotation in [StudySnapshot.Annotation(kind: "map", namespace: "http://x.org/ns:1", key: "a:b", value: "v"),
                           StudySnapshot.Annotation(kind: "map", namespace: "tag", key: "k", value: ""),
                           StudySnapshot.Annotation(kind: "tag", namespace: "100%", key: "mitosis", value: "")] {
            let name = CommentName.name(of: annotation)
            #expect(try CommentName.annotation(name: name, value: annotation.kind == "tag" ? annotation.key : annotation.value) == annotation, "\(name)")
        }
        #expect(try CommentName.annotation(name: "size", value: "12") == nil, "a fact, not an annotation")
    }

    @Test("OMERO path maps: absolute folders only, whole path components, the longest match wins; TSV and CSV fields escaped")
    func omeroPathMaps() throws {
        for bad in ["/a", "a=/b", "/a=b", "/a/../b=/c", "/a=/b\t", "/a=/b\nc", "=/b"] {
            #expect(throws: ExportError.self, "\(bad)") { try OMEROBulkImport.PathMapping(parsing: bad) }
        }
        let snapshot = try JSONDecoder().decode(StudySnapshot.self, from: Data(Self.snapshot.utf8))
        var options = OMEROBulkImport.Options()
        options.pathMap = [try .init(parsing: "/data/landing/=/omero/landing"), try .init(parsing: "/data/landing/special=/mnt/special")]
        let output = OMEROBulkImport.build(snapshot, options: options)
        let tsv = output.files.first { $0.name == "files.tsv" }!.content
        #expect(tsv == """
            Project:name:S/Dataset:name:A\ta.tif\t/omero/landing/scope/a.tif
            Project:name:S/Dataset:name:A\tspecial/b.tif\t/mnt/special/b.tif
            Project:name:S/Dataset:name:A\tother/b.tif\t/omero/landing/scope/other/b.tif

            """, "\(tsv)")
        #expect(output.skipped.map(\.path) == ["scope/landing2.tif", "scope/tab.tif"], "\(output.skipped)")
        #expect(output.skipped.first?.reason.contains("under no --path-map folder") == true)
        #expect(output.notImages == ["scope/fairway.yaml"] && output.images == 3, "a sidecar is no image for OMERO")
        let csv = output.files.first { $0.name == "annotations.csv" }!.content.split(separator: "\n").map(String.init)
        #expect(csv[0] == "# header s,s,s,s,l,s,s,s,s,s,s")
        #expect(csv[1] == "Dataset Name,Image Name,Fairway Object,SHA-256,Size (bytes),Format,Acquired,Instrument,QC Verdict,Tags,note")
        #expect(csv[2].hasSuffix(#","say ""hi"", then, go""#), "\(csv[2])")
    }

    static let snapshot = """
        {"investigation": {"id": "00000000-0000-0000-0000-000000000001", "name": "I", "createdAt": 0, "annotations": []},
         "owners": [], "study": {"id": "00000000-0000-0000-0000-000000000002", "name": "S", "createdAt": 0, "annotations": []},
         "assays": [{"level": {"id": "00000000-0000-0000-0000-000000000003", "name": "A", "createdAt": 0, "annotations": []}, "files": [
           {"id": "00000000-0000-0000-0000-00000000000a", "path": "scope/a.tif", "size": 10, "format": "tiff", "state": "scored",
            "annotations": [{"kind": "map", "namespace": "user", "key": "note", "value": "say \\"hi\\", then, go"}],
            "replicas": [{"resource": "scope", "role": "landing", "path": "/data/landing/scope/a.tif", "status": "good"},
                         {"resource": "vault", "role": "vault", "path": "/data/vault/a.tif", "status": "missing"}]},
           {"id": "00000000-0000-0000-0000-00000000000b", "path": "special/b.tif", "size": 10, "format": "tiff", "state": "scored", "annotations": [],
            "replicas": [{"resource": "scope", "role": "landing", "path": "/data/landing/special/b.tif", "status": "good"}]},
           {"id": "00000000-0000-0000-0000-00000000000c", "path": "other/b.tif", "size": 10, "format": "tiff", "state": "scored", "annotations": [],
            "replicas": [{"resource": "scope", "role": "landing", "path": "/data/landing/scope/other/b.tif", "status": "good"}]},
           {"id": "00000000-0000-0000-0000-00000000000d", "path": "scope/landing2.tif", "size": 10, "format": "tiff", "state": "scored", "annotations": [],
            "replicas": [{"resource": "scope", "role": "landing", "path": "/data/landing2/x.tif", "status": "good"}]},
           {"id": "00000000-0000-0000-0000-00000000000f", "path": "scope/fairway.yaml", "size": 10, "format": "unknown", "state": "unsupported-format",
            "annotations": [], "replicas": [{"resource": "scope", "role": "landing", "path": "/data/landing/scope/fairway.yaml", "status": "good"}]},
           {"id": "00000000-0000-0000-0000-00000000000e", "path": "scope/tab.tif", "size": 10, "format": "tiff", "state": "scored", "annotations": [],
            "replicas": [{"resource": "scope", "role": "landing", "path": "/data/landing/t\\tb.tif", "status": "good"}]}
         ]}]}
        """
}
