import FairwayPublication
import FairwayTestSupport
import Foundation
import Testing

@Suite("Publication identifiers")
struct IdentifierTests {
    @Test("ORCID iDs: check digit (X for 10), bare or as a URL")
    func orcid() {
        #expect(ORCID("0000-0002-1825-0097")?.value == "0000-0002-1825-0097")
        #expect(ORCID("https://orcid.org/0000-0001-5109-3700")?.url == "https://orcid.org/0000-0001-5109-3700")
        #expect(ORCID("0000-0002-1694-233X") != nil)
        for bad in ["0000-0002-1825-0098", "0000-0002-1825-009", "0000000218250097", "0000-0002-1825-00977", "", "０000-0002-1825-0097",
                    "0000-0002-1825-009x", "https://evil.example/0000-0002-1825-0097", "0000-0002-1825-0097\u{0}"] {
            #expect(ORCID(bad) == nil, "\(bad)")
        }
    }

    @Test("ROR ids: form and MOD 97-10 check")
    func ror() {
        #expect(RORID("https://ror.org/019tgvf94")?.url == "https://ror.org/019tgvf94")
        #expect(RORID("02feahw73")?.url == "https://ror.org/02feahw73")
        for bad in ["https://ror.org/019tgvf95", "https://ror.org/119tgvf94", "https://ror.org/019tgvf9", "https://ror.org/019tgu f94", "ror", ""] {
            #expect(RORID(bad) == nil, "\(bad)")
        }
    }

    @Test("DOI suffixes: Crockford base32 with a check symbol that catches a changed or swapped symbol")
    func suffixes() {
        var generator = SystemRandomNumberGenerator()
        let alphabet = Array("0123456789ABCDEFGHJKMNPQRSTVWXYZ")
        for _ in 0 ..< 500 {
            let suffix = DOISuffix.random(using: &generator)
            #expect(suffix.value.range(of: "^[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{5}$", options: .regularExpression) != nil, "\(suffix)")
            #expect(DOISuffix(suffix.value) == suffix)
            #expect(DOISuffix(suffix.value.lowercased()) == suffix)
            var symbols = Array(suffix.value)
            let position = [0, 1, 2, 3, 5, 6, 7, 8].randomElement()!
            symbols[position] = alphabet.filter { $0 != symbols[position] }.randomElement()!
            #expect(DOISuffix(String(symbols)) == nil, "a changed symbol in \(String(symbols))")
            var swapped = Array(suffix.value)
            if swapped[5] != swapped[6] {
                swapped.swapAt(5, 6)
                #expect(DOISuffix(String(swapped)) == nil, "swapped symbols in \(String(swapped))")
            }
        }
        let doi = DOIName(prefix: "10.5072", suffix: DOISuffix.random())
        #expect(DOIName(doi.url) == doi && DOIName("doi:" + doi.description) == doi)
        for bad in ["10.5072/../../etc", "11.5072/ABCD-EFGHJ", "10.5072", "10.5072/ABCD-EFGH", "10.50/ABCD-EFGHJ"] { #expect(DOIName(bad) == nil, "\(bad)") }
    }
}

@Suite("Publication records")
struct PublicationRecordTests {
    static let example = """
        {"title": "HeLa nuclei, control condition, 3-channel confocal stacks",
         "description": "Nuclear staining of HeLa cells imaged on a confocal microscope.",
         "creators": [{"name": "Martin, Alice", "orcid": "0000-0002-1825-0097", "affiliation": "Université Côte d'Azur", "ror": "https://ror.org/019tgvf94"},
                      {"name": "Imaging Facility of Example"}],
         "license": "CC-BY-4.0", "keywords": ["HeLa", "nucleus", "confocal"],
         "relatedPublication": "10.1101/2024.02.10.579780",
         "funding": [{"funder": "ANR", "award": "ANR-10-INBS-04"}]}
        """
    static let settings = PublicationValidation.Settings(doiPrefix: "10.5072", landingBaseURL: "https://data.facility.example/datasets")
    static let facts = CatalogFacts(publisher: "Example Imaging Facility", publisherROR: RORID("https://ror.org/02feahw73"), publicationYear: 2026,
                                    formats: ["OME-TIFF", "TIFF"], fileCount: 3, totalBytes: 51_208,
                                    collected: (first: "2026-11-02", last: "2026-11-03"), issued: "2026-11-29",
                                    instruments: ["Nikon Ti2-E"], imagingMethod: "confocal microscopy")

    @Test("the issue's example becomes a DataCite 4.5 record that the schema from the datacite package accepts")
    func exampleValidatesAgainstTheSchema() async throws {
        let request = try PublicationRequest.parse(json: Data(Self.example.utf8))
        #expect(PublicationValidation.problems(of: request).isEmpty)
        let doi = DOIName(prefix: "10.5072", suffix: DOISuffix.random())
        let landing = "https://data.facility.example/datasets/\(doi)"
        #expect(PublicationValidation.problems(doi: doi, landingPage: landing, facts: Self.facts, settings: Self.settings).isEmpty)
        let record = DataCiteAttributes(doi: doi, event: "publish", landingPage: landing, request: request, facts: Self.facts)
        #expect(record.creators[0].familyName == "Martin" && record.creators[0].givenName == "Alice" && record.creators[0].nameType == "Personal")
        #expect(record.creators[1].nameType == "Organizational")
        #expect(record.rightsList.first?.rightsIdentifier == "CC-BY-4.0")
        #expect(record.relatedIdentifiers.first?.relatedIdentifier == "10.1101/2024.02.10.579780")

        // Also a minimal record and one for a single image, hidden.
        let minimal = PublicationRequest(title: "t", description: "d", creators: [.init(name: "Lab")], license: "cc0-1.0")
        var imageFacts = Self.facts
        imageFacts.resourceTypeGeneral = "Image"
        imageFacts.collected = nil
        imageFacts.publisherROR = nil
        let folder = try TestEnvironment.temporaryFolder("fairway-datacite")
        var files: [String] = []
        for (index, attributes) in [record, DataCiteAttributes(doi: doi, event: "hide", landingPage: landing, request: minimal, facts: imageFacts)].enumerated() {
            let file = folder.appendingPathComponent("record-\(index).json")
            try attributes.document.write(to: file)
            files.append(file.path)
        }
        // And one the schema must refuse, so a checker that accepts anything fails this test.
        var broken = record
        broken.publicationYear = "26"
        broken.types.resourceTypeGeneral = "Spreadsheet"
        let brokenFile = folder.appendingPathComponent("broken.json")
        try broken.document.write(to: brokenFile)
        files.append(brokenFile.path)
        let checked = try await TestEnvironment.pythonJSON("check_datacite.py", files)
        #expect(checked.status == 0, "\(checked.output)")
        let results = (checked.json as? [String: Any])?["results"] as? [[String: Any]] ?? []
        #expect(results.count == 3)
        #expect(results.last?["valid"] as? Bool == false)
        #expect((results.last?["errors"] as? [String])?.count == 2, "\(results.last ?? [:])")
        for result in results.dropLast() {
            #expect(result["valid"] as? Bool == true, "\(result["errors"] ?? "")")
            #expect(result["type"] as? String == "dois" && result["id"] as? String == doi.description)
        }
    }

    @Test("every problem is reported per field, together")
    func problemsPerField() throws {
        let request = PublicationRequest(
            title: " ", description: "ok\u{7}",
            creators: [.init(name: "Martin, Alice", orcid: "0000-0002-1825-0098", affiliation: nil, ror: "https://ror.org/019tgvf95")],
            license: "All rights reserved", keywords: ["a", "a", ""], relatedPublication: "arXiv:2401.00001",
            funding: [.init(funder: "", award: nil, funderROR: "nope")])
        let fields = PublicationValidation.problems(of: request).map(\.field)
        #expect(fields == ["title", "description", "creators[0].orcid", "creators[0].ror", "creators[0].affiliation", "license",
                           "keywords[2]", "keywords", "relatedPublication", "funding[0].funder", "funding[0].funderROR"])
        #expect(PublicationValidation.problems(of: PublicationRequest(title: "t", description: "d", creators: [], license: "MIT")).map(\.field) == ["creators"])

        let doi = DOIName(prefix: "10.9999", suffix: DOISuffix.random())
        var facts = Self.facts
        facts.publicationYear = 26
        facts.resourceTypeGeneral = "Spreadsheet"
        let installation = PublicationValidation.problems(doi: doi, landingPage: "https://elsewhere.example/\(doi)", facts: facts, settings: Self.settings)
        #expect(installation.map(\.field) == ["doi", "url", "publicationYear", "types.resourceTypeGeneral"])
        let traversal = PublicationValidation.problems(doi: DOIName(prefix: "10.5072", suffix: DOISuffix.random()),
                                                       landingPage: "https://data.facility.example/datasets/../admin", facts: Self.facts, settings: Self.settings)
        #expect(traversal.map(\.field) == ["url"])
    }

    @Test("publication files: unknown, missing and mistyped fields named by their path; hostile input refused")
    func hostileFiles() {
        func fields(_ text: String) -> [String] {
            do {
                _ = try PublicationRequest.parse(json: Data(text.utf8))
                return []
            } catch {
                return error.problems.map(\.field)
            }
        }
        #expect(fields(#"{"title": "t", "description": "d", "creators": [{"name": "n", "orcidd": "x"}], "licence": "MIT"}"#) == ["licence", "creators[0].orcidd"])
        #expect(fields(#"{"title": "t", "description": "d", "creators": [{"name": "n"}]}"#) == ["license"])
        #expect(fields(#"{"title": 3, "description": "d", "creators": [], "license": "MIT"}"#) == ["title"])
        #expect(fields(#"{"title": "t", "description": "d", "creators": [{"name": null}], "license": "MIT"}"#) == ["creators[0].name"])
        #expect(fields("[1, 2]") == [""])
        #expect(fields("{") == [""])
        #expect(fields(String(repeating: "[", count: 100_000)) == [""])
        #expect(fields("{\"title\": \"" + String(repeating: "x", count: 300_000) + "\"}") == [""])
    }
}
