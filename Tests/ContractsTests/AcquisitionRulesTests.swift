import FairwayContracts
import Foundation
import Testing

@Suite struct AcquisitionRulesTests {
    @Test func aWatcherBodyWithoutSchemaOrOptionalFieldsIsAccepted() throws {
        let body = Array(#"{"zone": "scope-1", "path": "2026-11-02_NUC/img001.tif"}"#.utf8)
        let event = try MessageCodec.decode(AcquisitionCompleted.self, from: body, checkType: false)
        #expect(event.zone == "scope-1")
        #expect(event.owner == nil)
        try event.validate()
        // Internal messages still require the schema field.
        #expect(throws: ContractError.missingSchema) {
            try MessageCodec.decode(MetadataExtracted.self, from: Array(#"{"objectID": "\#(UUID())", "complete": true, "missingFields": []}"#.utf8), checkType: false)
        }
    }

    @Test(arguments: [
        (#"{"zone": "a b", "path": "x"}"#, "zone"), (#"{"zone": "-x", "path": "x"}"#, "zone"),
        (#"{"zone": "z", "path": ""}"#, "path"), (#"{"zone": "z", "path": "x", "study": "../s"}"#, "study"),
        (#"{"zone": "z", "path": "x", "owner": "   "}"#, "owner"), (#"{"zone": "z", "path": "x", "owner": "a\u0007b"}"#, "owner"),
        (#"{"zone": "z", "path": "x", "metadata": {"": "v"}}"#, "metadata"),
        (#"{"zone": "z", "path": "x", "instrument": "\#(String(repeating: "i", count: 2000))"}"#, "instrument"),
    ])
    func unusableFieldsAreNamed(_ json: String, _ field: String) throws {
        let event = try MessageCodec.decode(AcquisitionCompleted.self, from: Array(json.utf8), checkType: false)
        do {
            try event.validate()
            Issue.record("\(json) was accepted")
        } catch {
            guard case .malformedField(let path, _) = error else { Issue.record("\(error)"); return }
            #expect(path.hasPrefix(field))
        }
    }

    @Test func isaNamesComeFromTheBodyThenThePathThenDefaults() {
        var event = AcquisitionCompleted(zone: "scope-1", path: "x")
        #expect(event.isaNames(folders: ["NUC", "hela screen", "plate#1", "deeper"]) == ("NUC", "hela_screen", "plate_1"))
        #expect(event.isaNames(folders: ["2026-11-02_NUC"]) == ("2026-11-02_NUC", "default", "default"))
        #expect(event.isaNames(folders: [String]()) == ("scope-1", "default", "default"))
        #expect(event.isaNames(folders: ["...", "ümlaut"]) == ("mlaut", "default", "default"), "unusable folder names are skipped, leading punctuation dropped")
        event.study = "given"
        #expect(event.isaNames(folders: ["a", "b", "c"]) == ("a", "given", "c"))
        #expect(CatalogName.derived(from: String(repeating: "x", count: 300))?.count == 128)
    }
}
