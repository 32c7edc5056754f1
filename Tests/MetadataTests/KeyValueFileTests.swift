import FairwayMetadata
import Testing

/// User metadata files (`fairway annotate`, `fairway.yaml` sidecars): CSV, TSV and the YAML subset,
/// with exact entries and lines, exact refusals, and hostile input refused within the limits.
@Suite struct KeyValueFileTests {
    func parse(_ text: String, _ format: KeyValueFile.Format) throws -> [KeyValueEntry] {
        try KeyValueFile.parse(Array(text.utf8), format: format)
    }

    func failure(_ bytes: [UInt8], _ format: KeyValueFile.Format) -> KeyValueFileError? {
        do {
            _ = try KeyValueFile.parse(bytes, format: format)
            return nil
        } catch {
            return error
        }
    }

    func failure(_ text: String, _ format: KeyValueFile.Format) -> String? {
        failure(Array(text.utf8), format)?.description
    }

    func entry(_ key: String, _ value: String, _ line: Int) -> KeyValueEntry {
        KeyValueEntry(key: key, value: value, line: line)
    }

    // MARK: CSV

    @Test func csvWithHeaderQuotesAndEmbeddedSeparators() throws {
        // Spaces around fields matter here, so the lines are written out.
        let text = [
            "key,value",
            "title,\"Cell atlas, 2025\"",
            "description,\"Says \"\"hello\"\"",
            "on two lines\"",
            " creator , Jane Doe ",
            "license,https://creativecommons.org/licenses/by/4.0/",
            "empty,",
            "spaced,  \"  kept as quoted  \"  ",
            "",
        ].joined(separator: "\n")
        #expect(try parse(text, .csv) == [
            entry("title", "Cell atlas, 2025", 2),
            entry("description", "Says \"hello\"\non two lines", 3),
            entry("creator", "Jane Doe", 5),
            entry("license", "https://creativecommons.org/licenses/by/4.0/", 6),
            entry("empty", "", 7),
            entry("spaced", "  kept as quoted  ", 8),
        ])
    }

    @Test func csvWithBOMCRLFCommentsAndRepeatedKeys() throws {
        let text = "# exported from the facility sheet\r\n\r\nKey,VALUE\r\ntitle,Atlas\r\nnote,\"a\r\nb\"\r\n   \r\n#skip,me\r\ncreator,Ann\r\ncreator,Bob\r\n"
        #expect(try KeyValueFile.parse([0xEF, 0xBB, 0xBF] + Array(text.utf8), format: .csv) == [
            entry("title", "Atlas", 4),
            entry("note", "a\nb", 5),
            entry("creator", "Ann", 9),
            entry("creator", "Bob", 10),
        ])
    }

    @Test func csvHeaderOnlyAsFirstRecord() throws {
        #expect(try parse("a,1\nkey,value", .csv) == [entry("a", "1", 1), entry("key", "value", 2)])
        #expect(try parse("\"key\",\"value\"\na,1\n", .csv) == [entry("a", "1", 2)])
        #expect(try parse("keys,values\n", .csv) == [entry("keys", "values", 1)])
    }

    @Test func csvFieldCount() throws {
        #expect(failure("a,1\nb\n", .csv) == "line 2: expected 2 fields (key,value), found 1")
        #expect(failure("a,1\n\nb,2,3\n", .csv) == "line 3: expected 2 fields (key,value), found 3")
        #expect(failure("a,\"x\ny\",z\n", .csv) == "line 1: expected 2 fields (key,value), found 3")
        #expect(failure("a,1,\n", .csv) == "line 1: expected 2 fields (key,value), found 3")
        #expect(try parse("\"a,b\",\"c,d\"\n", .csv) == [entry("a,b", "c,d", 1)])
    }

    @Test func csvUnterminatedQuoteNamesTheOpeningLine() {
        let text = "title,Atlas\nnote,\"opens here\nand goes on\n\nlast,row\n"
        let error = failure(Array(text.utf8), .csv)
        #expect(error == KeyValueFileError(line: 2, message: "unterminated quoted field (the quote opens on this line)"))
    }

    @Test func csvQuotesInsideFields() throws {
        #expect(failure("a,\"x\"y\n", .csv) == "line 1: text after a closing quote; write a quote inside a quoted field as \"\"")
        #expect(try parse("disk,3.5\" floppy\n", .csv) == [entry("disk", "3.5\" floppy", 1)])
    }

    @Test func keysAreTrimmedNonEmptyAndBounded() throws {
        #expect(failure(",x\n", .csv) == "line 1: empty key")
        #expect(failure("a,1\n\"  \",x\n", .csv) == "line 2: empty key")
        #expect(failure(String(repeating: "k", count: 257) + ",x\n", .csv) == "line 1: key is 257 bytes long; the limit is 256")
        #expect(try parse(String(repeating: "k", count: 256) + ",x\n", .csv).count == 1)
        #expect(failure("\"a\\tb\": x\n", .yaml) == "line 1: key contains a control character")
        #expect(failure("\"\": x\n", .yaml) == "line 1: empty key")
    }

    // MARK: TSV

    @Test func tsvWithHeaderCommentsAndLiteralQuotes() throws {
        let text = "key\tvalue\ntitle\tCell \"atlas\", 2025\n# a comment\n\ncreator\tAnn\ncreator\tBob\nempty\t\n"
        #expect(try parse(text, .tsv) == [
            entry("title", "Cell \"atlas\", 2025", 2),
            entry("creator", "Ann", 5),
            entry("creator", "Bob", 6),
            entry("empty", "", 7),
        ])
        #expect(failure("a\tb\tc\n", .tsv) == "line 1: expected 2 fields (key,value), found 3")
        #expect(failure("a\t1\nlonely\n", .tsv) == "line 2: expected 2 fields (key,value), found 1")
        #expect(try parse("note\t\"not closed\n", .tsv) == [entry("note", "\"not closed", 1)])
    }

    // MARK: YAML

    @Test func yamlISASectionsURLsAndORCIDs() throws {
        let text = """
            ---
            # Sidecar for one acquisition
            investigation:
              title: Cell atlas of the zebrafish retina
              license: https://creativecommons.org/licenses/by/4.0/
            study:
              title: "Retina: day 5"   # quoted because of ': '
              creator: 0000-0002-1825-0097
              sample: fish#12
              protocol:
                fixation: 4% PFA
                ref: doi:10.1000/182
            assay:
              technique: confocal microscopy
              objective: 63x/1.4 oil # a comment

            """
        #expect(try parse(text, .yaml) == [
            entry("investigation.title", "Cell atlas of the zebrafish retina", 4),
            entry("investigation.license", "https://creativecommons.org/licenses/by/4.0/", 5),
            entry("study.title", "Retina: day 5", 7),
            entry("study.creator", "0000-0002-1825-0097", 8),
            entry("study.sample", "fish#12", 9),
            entry("study.protocol.fixation", "4% PFA", 11),
            entry("study.protocol.ref", "doi:10.1000/182", 12),
            entry("assay.technique", "confocal microscopy", 14),
            entry("assay.objective", "63x/1.4 oil", 15),
        ])
    }

    @Test func yamlBlockAndFlowLists() throws {
        let text = """
            keywords: [retina, "zebrafish, larva", 'day 5', ~]
            creators:
              - Jane Doe
              - "Doe, John"   # quoted
              - 0000-0002-1825-0097
            funding:
            - ERC 12345
            - ~
            -
            empty: []
            study:
              organism:
              - Danio rerio
              title: x
            """
        #expect(try parse(text, .yaml) == [
            entry("keywords", "retina", 1),
            entry("keywords", "zebrafish, larva", 1),
            entry("keywords", "day 5", 1),
            entry("keywords", "", 1),
            entry("creators", "Jane Doe", 3),
            entry("creators", "Doe, John", 4),
            entry("creators", "0000-0002-1825-0097", 5),
            entry("funding", "ERC 12345", 7),
            entry("funding", "", 8),
            entry("funding", "", 9),
            entry("study.organism", "Danio rerio", 13),
            entry("study.title", "x", 14),
        ])
    }

    @Test func yamlBlockScalars() throws {
        let text = """
            abstract: |
              First line.
                Indented line.

              Last line.
            summary: >
              Folded into
              one line.

              New paragraph.
            stripped: |-
              no final newline
            kept: |+
              keeps trailing

            next: value
            study:
              description: >-
                Two
                lines
              steps:
                - |
                  fix
                  stain
                - image
            """
        #expect(try parse(text, .yaml) == [
            entry("abstract", "First line.\n  Indented line.\n\nLast line.\n", 1),
            entry("summary", "Folded into one line.\nNew paragraph.\n", 6),
            entry("stripped", "no final newline", 11),
            entry("kept", "keeps trailing\n\n", 13),
            entry("next", "value", 16),
            entry("study.description", "Two lines", 18),
            entry("study.steps", "fix\nstain\n", 22),
            entry("study.steps", "image", 25),
        ])
        #expect(try parse("a: |\n  x", .yaml) == [entry("a", "x", 1)], "no line break at the end of the file, none in the value")
        #expect(try parse("a: |\nb: 1\n", .yaml) == [entry("a", "", 1), entry("b", "1", 2)])
    }

    @Test func yamlQuotedScalarsAndEscapes() throws {
        let text = #"""
            "quoted key": 'it''s'
            escapes: "tab\there, \"quote\", back\\slash, a\/b, \u00e9, \uD83D\uDE00, line\nbreak\r"
            hash: "not # a comment"   # but this is
            single: 'C:\path\n'
            '~': "~"
            """#
        #expect(try parse(text, .yaml) == [
            entry("quoted key", "it's", 1),
            entry("escapes", "tab\there, \"quote\", back\\slash, a/b, é, 😀, line\nbreak\r", 2),
            entry("hash", "not # a comment", 3),
            entry("single", #"C:\path\n"#, 4),
            entry("~", "~", 5),
        ])
    }

    @Test func yamlUnsupportedEscapesAndUnterminatedQuotes() {
        #expect(failure(#"a: "bad \x41""#, .yaml) == #"line 1: unsupported escape '\x'; use \" \\ \/ \n \t \r or \uXXXX"#)
        #expect(failure(#"a: "\u12""#, .yaml) == #"line 1: \u must be followed by 4 hexadecimal digits"#)
        #expect(failure("a: 1\nb: \"\\u0000\"", .yaml) == "line 2: escape of control character U+0000 is not allowed")
        #expect(failure(#"a: "\uD800 alone""#, .yaml) == #"line 1: \u escape of an unpaired surrogate"#)
        #expect(failure("a: \"open\n  close\"\n", .yaml) == "line 1: unterminated double-quoted value; quoted values must close on the line they open")
        #expect(failure("a: 'open\n  close'\n", .yaml) == "line 1: unterminated single-quoted value; quoted values must close on the line they open")
        #expect(failure("a: \"x\" y\n", .yaml) == "line 1: text after the closing quote")
    }

    @Test func yamlNullAndEmptyValues() throws {
        #expect(try parse("a:\nb: ~\nc: null\nd: ''\ne: \"null\"\nf: # only a comment\n", .yaml) == [
            entry("a", "", 1), entry("b", "", 2), entry("c", "", 3), entry("d", "", 4), entry("e", "null", 5), entry("f", "", 6),
        ])
    }

    @Test func yamlColonNeedsASpace() throws {
        #expect(failure("a:b\n", .yaml) == "line 1: expected 'key: value' (put a space after the colon)")
        #expect(failure("title: x\njust text\n", .yaml) == "line 2: expected 'key: value'")
        #expect(failure("title: Study: part 2\n", .yaml) == "line 1: ': ' inside a plain value; quote the value")
        #expect(failure("title: ends with colon:\n", .yaml) == "line 1: ': ' inside a plain value; quote the value")
        #expect(try parse("time: 12:30\nkey\t:\tvalue\n", .yaml) == [entry("time", "12:30", 1), entry("key", "value", 2)])
    }

    @Test func yamlOneDocumentOnly() throws {
        #expect(try parse("---\na: 1\n...\n# trailing comment\n\n", .yaml) == [entry("a", "1", 2)])
        #expect(try parse("--- # the only document\na: 1\n---\n", .yaml) == [entry("a", "1", 2)])
        #expect(failure("a: 1\n---\nb: 2\n", .yaml) == "line 3: several documents in one file are not supported (the first ends on line 2)")
        #expect(failure("a: 1\n...\n---\n", .yaml) == "line 3: several documents in one file are not supported (the first ends on line 2)")
        #expect(failure("a: 1\n--- b: 2\n", .yaml) == "line 2: several documents in one file are not supported (the first ends on line 2)")
        #expect(failure("--- a: 1\n", .yaml) == "line 1: content on the '---' line is not supported; start it on the next line")
        #expect(failure("%YAML 1.2\n---\na: 1\n", .yaml) == "line 1: directives (%YAML, %TAG) are not supported")
        #expect(try parse("# nothing\n\n", .yaml) == [])
    }

    @Test func yamlDuplicateKeys() throws {
        #expect(failure("title: a\nx: 1\ny: 2\n\nx: 3\n", .yaml) == "line 5: key 'x' repeated (lines 2 and 5)")
        #expect(failure("study:\n  title: a\n  title: b\n", .yaml) == "line 3: key 'study.title' repeated (lines 2 and 3)")
        #expect(failure("study:\n  a: 1\nassay:\n  b: 2\nstudy:\n  c: 3\n", .yaml) == "line 5: key 'study' repeated (lines 1 and 5)")
        #expect(try parse("study:\n  title: a\nassay:\n  title: b\n", .yaml) == [entry("study.title", "a", 2), entry("assay.title", "b", 4)])
    }

    @Test func yamlIndentation() throws {
        #expect(failure("study:\n  title: a\n\tassay: b\n", .yaml) == "line 3: tabs are not allowed for indentation")
        #expect(failure("study:\n \ttitle: a\n", .yaml) == "line 2: tabs are not allowed for indentation")
        #expect(try parse("a: 1\n\t# a tab before a comment is harmless\nb: 2\n", .yaml) == [entry("a", "1", 1), entry("b", "2", 3)])
        #expect(failure("study:\n    title: a\n  date: b\n", .yaml) == "line 3: inconsistent indentation: 2 spaces match no enclosing level")
        #expect(failure("  a: 1\nb: 2\n", .yaml) == "line 2: inconsistent indentation: 0 spaces match no enclosing level")
        #expect(failure("a: 1\n  b: 2\n", .yaml) == "line 2: unexpected indentation")
        #expect(failure("title: a long\n  title continued\n", .yaml) == "line 2: unexpected indentation")
        #expect(failure("a:\n  - x\n  y: 1\n", .yaml) == "line 3: expected a '- ' list item at this indentation")
    }

    @Test func yamlNestingDepthLimit() throws {
        func nested(_ levels: Int) -> String {
            (0 ..< levels).map { String(repeating: " ", count: $0) + "k\($0 + 1):" + ($0 == levels - 1 ? " v" : "") }.joined(separator: "\n")
        }
        #expect(try parse(nested(8), .yaml) == [entry("k1.k2.k3.k4.k5.k6.k7.k8", "v", 8)])
        #expect(failure(nested(9), .yaml) == "line 9: nesting deeper than 8 levels is not supported")
        // As deep as indentation allows within the size limit.
        #expect(failure(nested(1_400), .yaml) == "line 9: nesting deeper than 8 levels is not supported")
    }

    @Test func yamlRefusesConstructsOutsideTheSubset() {
        let cases: [(String, String)] = [
            ("a: {b: 1}", "line 1: flow mappings ({...}) are not supported; write one 'key: value' per line"),
            ("{a: 1}", "line 1: flow mappings ({...}) are not supported; write one 'key: value' per line"),
            ("a: !!str 5", "line 1: tags (!) are not supported; write the value as plain text or quote it"),
            ("a: 1\nb: !local x", "line 2: tags (!) are not supported; write the value as plain text or quote it"),
            ("!!str a: 1", "line 1: tags (!) are not supported; write the value as plain text or quote it"),
            ("? a\n: 1", "line 1: complex keys ('? ') are not supported"),
            ("people:\n  - name: Ann\n    orcid: x", "line 2: lists of mappings ('- key: value') are not supported; list items are plain values"),
            ("people:\n  - \"name\": Ann", "line 2: lists of mappings ('- key: value') are not supported; list items are plain values"),
            ("a: - x", "line 1: a list cannot start on the line of its key; put each '- item' on a line of its own"),
            ("a:\n  - - x", "line 2: nested lists are not supported"),
            ("a: [b, [c]]", "line 1: nested lists are not supported"),
            ("a: [b: c]", "line 1: 'key: value' pairs inside a flow sequence are not supported"),
            ("a: [b, c\n  , d]", "line 1: a flow sequence ([...]) must close on the line it opens"),
            ("a: [b,, c]", "line 1: empty item in a flow sequence"),
            ("a: [b] c", "line 1: text after ']'"),
            ("a: |2\n  x", "line 1: block scalar indentation indicators (such as |2) are not supported"),
            ("a: | x", "line 1: text after the block scalar indicator; the text starts on the next line"),
            ("- a\n- b", "line 1: expected 'key: value', found a list item; a list follows its 'key:' line"),
            ("a: @x", "line 1: a plain value cannot start with '@'; quote the value"),
            ("a:\n  just text", "line 2: expected 'key: value'"),
        ]
        for (text, expected) in cases {
            #expect(failure(text, .yaml) == expected, "\(text.debugDescription)")
        }
    }

    @Test func yamlWithBOMAndCRLF() throws {
        let text = "study:\r\n  title: Atlas\r\n  notes: |\r\n    one\r\n    two\r\n"
        #expect(try KeyValueFile.parse([0xEF, 0xBB, 0xBF] + Array(text.utf8), format: .yaml) == [
            entry("study.title", "Atlas", 2), entry("study.notes", "one\ntwo\n", 3),
        ])
    }

    // MARK: Hostile input

    @Test func billionLaughsIsRefusedAtTheFirstAnchor() {
        var lines = [#"a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]"#]
        for (previous, name) in zip("abcdefgh", "bcdefghi") {
            lines.append("\(name): &\(name) [" + Array(repeating: "*\(previous)", count: 9).joined(separator: ",") + "]")
        }
        // Refused at the first anchor: nothing is ever expanded, however many aliases follow.
        #expect(failure(lines.joined(separator: "\n"), .yaml) == "line 1: anchors (&) and aliases (*) are not supported")
        #expect(failure("base: x\ncopy: *base\n", .yaml) == "line 2: anchors (&) and aliases (*) are not supported")
        #expect(failure("list:\n  - &x a\n  - *x\n", .yaml) == "line 2: anchors (&) and aliases (*) are not supported")
        #expect(failure("list: [a, *x]\n", .yaml) == "line 1: anchors (&) and aliases (*) are not supported")
        #expect(failure("<<: *base\n", .yaml) == "line 1: anchors (&) and aliases (*) are not supported")
    }

    @Test func tenThousandDeepNestingIsRefusedAtOnce() {
        let brackets = "k: " + String(repeating: "[", count: 10_000) + String(repeating: "]", count: 10_000)
        #expect(failure(brackets, .yaml) == "line 1: nested lists are not supported")
        #expect(failure("k: " + String(repeating: "{", count: 10_000), .yaml)
            == "line 1: flow mappings ({...}) are not supported; write one 'key: value' per line")
        #expect(failure("k:\n  " + String(repeating: "- ", count: 10_000) + "x", .yaml) == "line 2: nested lists are not supported")
    }

    @Test func fileOverTheSizeLimitIsRefusedBeforeParsing() throws {
        let big = [UInt8](repeating: UInt8(ascii: "\""), count: 2 << 20)
        for format in [KeyValueFile.Format.csv, .tsv, .yaml] {
            #expect(failure(big, format) == KeyValueFileError(line: nil, message: "the file is 2097152 bytes; the limit is 1048576 bytes"))
        }
        let exactlyAtTheLimit = [UInt8(ascii: "#")] + [UInt8](repeating: UInt8(ascii: " "), count: KeyValueFile.maxBytes - 1)
        for format in [KeyValueFile.Format.csv, .tsv, .yaml] {
            #expect(try KeyValueFile.parse(exactlyAtTheLimit, format: format) == [])
        }
    }

    @Test func valueOverTheLengthLimit() throws {
        let hundredKiB = String(repeating: "x", count: 100 << 10)
        #expect(failure("a,1\nbig,\(hundredKiB)\n", .csv) == "line 2: value is 102400 bytes long; the limit is 65536")
        #expect(failure("a\t1\nbig\t\(hundredKiB)\n", .tsv) == "line 2: value is 102400 bytes long; the limit is 65536")
        let blockLines = String(repeating: "  " + String(repeating: "y", count: 99) + "\n", count: 1_024)
        #expect(failure("a: 1\nbig: |\n" + blockLines, .yaml) == "line 2: value is 102400 bytes long; the limit is 65536")
        #expect(failure("big: \"\(hundredKiB)\"", .yaml) == "line 1: value is 102400 bytes long; the limit is 65536")
        let atTheLimit = String(repeating: "z", count: KeyValueFile.maxValueLength)
        #expect(try parse("ok,\(atTheLimit)", .csv) == [entry("ok", atTheLimit, 1)])
    }

    @Test func invalidUTF8NamesItsLine() throws {
        let invalid: [[UInt8]] = [[0xC3, 0x28], [0xC0, 0xAF], [0xED, 0xA0, 0x80], [0xF4, 0x90, 0x80, 0x80], [0xFF], [0xE2, 0x82]]
        for sequence in invalid {
            #expect(failure(Array("a,1\nb,2\nc,".utf8) + sequence + [0x0A], .csv) == KeyValueFileError(line: 3, message: "invalid UTF-8"))
            #expect(failure(Array("a\t1\nb\t2\nc\t".utf8) + sequence, .tsv) == KeyValueFileError(line: 3, message: "invalid UTF-8"))
            #expect(failure(Array("a: 1\nb:\n  - ".utf8) + sequence, .yaml) == KeyValueFileError(line: 3, message: "invalid UTF-8"))
        }
        #expect(try parse("c: é 😀\n", .yaml) == [entry("c", "é 😀", 1)])
    }

    @Test func controlCharactersAreRefused() {
        for format in [KeyValueFile.Format.csv, .tsv, .yaml] {
            let separator = format == .csv ? "," : format == .tsv ? "\t" : ": "
            #expect(failure(Array("a\(separator)1\nb\(separator)x".utf8) + [0x00] + Array("y\n".utf8), format)
                == KeyValueFileError(line: 2, message: "control character U+0000 is not allowed"))
            #expect(failure("a\(separator)\u{1B}[31m", format) == "line 1: control character U+001B is not allowed")
            #expect(failure("a\(separator)1\rb\(separator)2", format) == "line 1: carriage return without a line feed; save the file with LF or CRLF line ends")
        }
    }

    @Test func tooManyEntries() throws {
        let rows = (1 ... 20_000).map { "key\($0),value\($0)" }.joined(separator: "\n")
        #expect(failure(rows, .csv) == "line 10001: more than 10000 entries")
        let items = "keywords:\n" + String(repeating: "  - word\n", count: 20_000)
        #expect(failure(items, .yaml) == "line 10002: more than 10000 entries")
        let flow = "keywords: [" + Array(repeating: "w", count: 20_000).joined(separator: ",") + "]"
        #expect(failure(flow, .yaml) == "line 1: more than 10000 entries")
        let allowed = (1 ... 10_000).map { "key\($0): value" }.joined(separator: "\n")
        #expect(try parse(allowed, .yaml).count == 10_000)
    }

    // MARK: API

    @Test func formatFromFileName() {
        #expect(KeyValueFile.format(forFileName: "fairway.yaml") == .yaml)
        #expect(KeyValueFile.format(forFileName: "/data/run.2/META.YML") == .yaml)
        #expect(KeyValueFile.format(forFileName: "study.csv") == .csv)
        #expect(KeyValueFile.format(forFileName: "study.TSV") == .tsv)
        #expect(KeyValueFile.format(forFileName: "study.tab") == .tsv)
        #expect(KeyValueFile.format(forFileName: "study.json") == nil)
        #expect(KeyValueFile.format(forFileName: "run.2/csv") == nil)
        #expect(KeyValueFile.format(forFileName: "csv") == nil)
    }

    @Test func errorDescription() {
        #expect(KeyValueFileError(line: 3, message: "empty key").description == "line 3: empty key")
        #expect(KeyValueFileError(line: nil, message: "the file is empty").description == "the file is empty")
    }
}
