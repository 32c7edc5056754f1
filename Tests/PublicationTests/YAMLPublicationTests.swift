import FairwayPublication
import Foundation
import Testing

@Suite("Publication files in YAML")
struct YAMLPublicationTests {
    /// The issue's example, comments included.
    static let example = """
        title: HeLa nuclei, control condition, 3-channel confocal stacks
        description: Nuclear staining of HeLa cells imaged on a confocal microscope.
        creators:
          - name: Martin, Alice          # "Family, Given"
            orcid: 0000-0002-1825-0097
            affiliation: Université Côte d'Azur
            ror: https://ror.org/019tgvf94
        license: CC-BY-4.0
        keywords: [HeLa, nucleus, confocal]
        relatedPublication: 10.1101/2024.02.10.579780   # optional
        funding: [{funder: ANR, award: ANR-10-INBS-04}]  # optional
        """

    @Test("the issue's example reads as the same request as its JSON form")
    func example() throws {
        let request = try PublicationRequest.parse(yaml: Array(Self.example.utf8))
        #expect(request.title == "HeLa nuclei, control condition, 3-channel confocal stacks")
        #expect(request.creators == [.init(name: "Martin, Alice", orcid: "0000-0002-1825-0097", affiliation: "Université Côte d'Azur", ror: "https://ror.org/019tgvf94")])
        #expect(request.keywords == ["HeLa", "nucleus", "confocal"])
        #expect(request.relatedPublication == "10.1101/2024.02.10.579780")
        #expect(request.funding == [.init(funder: "ANR", award: "ANR-10-INBS-04")])
        #expect(PublicationValidation.problems(of: request).isEmpty)
    }

    @Test("block lists at the key's indentation, quotes, block scalars and nulls")
    func styles() throws {
        let value = try StructuredYAML.parse(Array("""
            ---
            description: |
              Line one.
              Line two: with a colon.

            folded: >-
              one
              two
            creators:
            - name: "Lab \\"A\\" \\u00e9"
              orcid:
            - name: 'It''s B'
            keywords:
              - a # comment
              - 'b # not a comment'
            """.utf8))
        #expect(value == .map([
            ("description", .string("Line one.\nLine two: with a colon.\n")),
            ("folded", .string("one two")),
            ("creators", .list([.map([("name", .string("Lab \"A\" é")), ("orcid", .null)]), .map([("name", .string("It's B"))])])),
            ("keywords", .list([.string("a"), .string("b # not a comment")])),
        ]))
    }

    @Test("hostile or unsupported YAML is refused with its line", arguments: [
        ("title: &a x\nkeywords: [*a]", 1),
        ("title: x\ntitle: y", 2),
        ("title: !!binary eA==", 1),
        ("? complex\n: key", 1),
        ("title: x\n\tdescription: y", 2),
        ("title: a: b", 1),
        ("title: \"open", 1),
        ("title: x\n---\ntitle: y", 2),
        ("- a\n- b", 1),
        ("keywords: [a, [b, [c]]]", 1),
        ("title: x\n   indented: wrongly", 2),
        ("title: \"\\u0000\"", 1),
        ("title: x\u{0}", 1),
    ])
    func refused(text: String, line: Int) {
        do {
            _ = try StructuredYAML.parse(Array(text.utf8))
            Issue.record("accepted: \(text)")
        } catch {
            #expect(error.line == line, "\(error)")
        }
    }

    @Test("size, depth and count limits hold on hostile files")
    func limits() {
        var deep = ""
        for level in 0 ..< 40 { deep += String(repeating: " ", count: level * 2) + "k\(level):\n" }
        #expect(throws: YAMLError.self) { try StructuredYAML.parse(Array(deep.utf8)) }
        let wide = "keywords: [" + Array(repeating: "a", count: 30_000).joined(separator: ", ") + "]"
        #expect(throws: YAMLError.self) { try StructuredYAML.parse(Array(wide.utf8)) }
        #expect(throws: YAMLError.self) { try StructuredYAML.parse(Array(String(repeating: "x", count: 300_000).utf8)) }
        #expect(throws: YAMLError.self) { try StructuredYAML.parse([0xC0, 0xAF]) }
        #expect(throws: YAMLError.self) { try StructuredYAML.parse([]) }
    }
}
