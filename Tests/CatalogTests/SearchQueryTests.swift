import FairwayCatalog
import Foundation
import Testing

/// The search parameters as they arrive from a URL or the command line: what each means, and
/// hostile or malformed ones refused with the reason.
@Suite struct SearchQueryTests {
    func parse(_ parameters: [(String, String)]) throws -> CatalogSearch {
        try CatalogSearch(parameters: parameters.map { (name: $0.0, value: $0.1) }, zone: nil)
    }

    func refusal(_ parameters: [(String, String)]) -> String? {
        do {
            _ = try parse(parameters)
            return nil
        } catch let error as CatalogSearch.Invalid {
            return error.description
        } catch {
            return "\(error)"
        }
    }

    @Test func parametersMapToConditions() throws {
        let search = try parse([("tag", "microscope:Leica SP8"), ("tag", "objective"), ("tag", "acquisitionDate=2025-03-14T10:00:00"),
                                ("organism", "Mus musculus"), ("text", "cortex"), ("text", "GFP"), ("investigation", "neuro"),
                                ("from", "2025-03-01"), ("to", "2025-03-31"), ("limit", "50"), ("after", "9bcd92d3-9925-4743-bc41-103ccac7d6ef")])
        #expect(search.tags.map(\.name) == ["microscope", "objective", "acquisitionDate"])
        #expect(search.tags.map(\.value) == ["Leica SP8", nil, "2025-03-14T10:00:00"])
        #expect(search.annotations.map(\.key) == ["organism"] && search.annotations.map(\.value) == ["Mus musculus"])
        #expect(search.words == "cortex GFP")
        #expect(search.investigation == "neuro" && search.limit == 50)
        #expect(search.after == UUID(uuidString: "9bcd92d3-9925-4743-bc41-103ccac7d6ef"))
        // `to` is inclusive: the search runs up to the end of that day (UTC).
        let formatter = ISO8601DateFormatter()
        #expect(search.from == formatter.date(from: "2025-03-01T00:00:00Z"))
        #expect(search.until == formatter.date(from: "2025-04-01T00:00:00Z"))
        #expect(try parse([("from", "2025-03-01T12:30:00Z")]).from == formatter.date(from: "2025-03-01T12:30:00Z"))
    }

    @Test func malformedAndHostileParametersAreRefusedWithTheReason() {
        #expect(refusal([("limit", "0")])?.contains("limit must be 1 to 1000") == true)
        #expect(refusal([("limit", "100000000000000000000")])?.contains("limit") == true)
        #expect(refusal([("from", "yesterday")])?.contains("from must be a date") == true)
        #expect(refusal([("to", "2025-02-30")])?.contains("to must be a date") == true)
        #expect(refusal([("after", "1; DROP TABLE objects")])?.contains("after must be an object id") == true)
        #expect(refusal([("tag", "")])?.contains("tag must be NAME:VALUE") == true)
        #expect(refusal([("tag", ":value")])?.contains("tag must be NAME:VALUE") == true)
        #expect(refusal([("text", "   ")])?.contains("text must not be empty") == true)
        #expect(refusal([("investigation", "../etc")])?.contains("investigation must be") == true)
        #expect(refusal([("study", String(repeating: "s", count: 200))])?.contains("study must be") == true)
        #expect(refusal([("", "value")])?.contains("must not be empty") == true)
        #expect(refusal([("key\u{0}", "v")])?.contains("control characters") == true)
        #expect(refusal([("key", "line\nbreak")])?.contains("control characters") == true)
        #expect(refusal([(String(repeating: "k", count: 300), "v")])?.contains("too long") == true)
        #expect(refusal([("k", String(repeating: "v", count: 2000))])?.contains("too long") == true)
        #expect(refusal(Array(repeating: ("k", "v"), count: 17))?.contains("at most 16 conditions") == true)
        #expect(refusal(Array(repeating: ("k", "v"), count: 16)) == nil)
        // SQL text in values is only ever a bound parameter.
        #expect(refusal([("organism", "x' OR '1'='1"), ("tag", "microscope:'; DELETE FROM objects; --")]) == nil)
    }

    @Test func wordsAreSplitTheWayDocumentsAre() {
        #expect(CatalogSearch.searchable("2025-03-14_rich.ome.tif") == "2025 03 14 rich ome tif")
        #expect(CatalogSearch.searchable("Mäuse & co") == "Mäuse   co")
    }
}
